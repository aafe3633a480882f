"""Idefics3 / SmolVLM / SmolVLM2: decoder at ``model.model.text_model.layers``; image splitting off."""

from __future__ import annotations

import torch

from taskvec.models.base import Adapter
from taskvec.models.registry import Family, TinySpec, register_family

NO_SPLITTING = {"do_image_splitting": False}  # the paper used single images without tiles


class Idefics3Adapter(Adapter):
    """Idefics3 / SmolVLM / SmolVLM2: decoder at model.model.text_model; image splitting off."""

    family = "idefics3"
    image_placeholder = "<image>"
    image_token_names = ("<image>",)
    images_nested = True


TINY = {
    "idefics3": TinySpec(3, (
        "<image> expands to <fake_token_around_image><global-img> + 4x<image> + <fake_token_around_image> "
        "(splitting off); tokenizer prepends <|begin_of_text|>."
    )),
    "smolvlm": TinySpec(2, (
        "Like Idefics3 (<image> -> fake/global-img/4x<image>/fake, splitting off), no BOS; "
        "SmolVLMProcessor needs the `num2words` package."
    )),
}

_ROW_COL = [f"<row_{i + 1}_col_{j + 1}>" for i in range(6) for j in range(6)]


def build_tiny(model_type: str, seed: int):
    """(tiny random Idefics3 / SmolVLM model, its processor)."""
    from taskvec.testing.builders import HEADS, HIDDEN, INTER, byte_level_tokenizer, finish, llama_like_text, vocab_size

    # image 32 px, patch 8 -> 4x4 patches; pixel shuffle (scale_factor 2) -> 4 image tokens.
    img, patch, scale = 32, 8, 2
    seq_len = (img // patch) ** 2 // scale**2
    specials = ["<fake_token_around_image>", "<image>", "<global-img>", "<end_of_utterance>"] + _ROW_COL
    if model_type == "smolvlm":
        specials.append("<video>")
        tok = byte_level_tokenizer(bos="<|im_start|>", eos="<end_of_utterance>", pad="<|endoftext|>",
                                   specials=specials)
    else:
        tok = byte_level_tokenizer(bos="<|begin_of_text|>", eos="<|end_of_text|>", pad="<|finetune_pad|>",
                                   specials=specials, add_bos=True)
    vocab = vocab_size(tok)
    n = TINY[model_type].layers
    vision = dict(hidden_size=HIDDEN, intermediate_size=INTER, num_hidden_layers=2, num_attention_heads=HEADS,
                  image_size=img, patch_size=patch)
    text = llama_like_text(n, vocab, tok)
    ip_kwargs = dict(size={"longest_edge": img}, max_image_size={"longest_edge": img}, do_image_splitting=False)
    if model_type == "smolvlm":
        from transformers import (SmolVLMConfig, SmolVLMForConditionalGeneration, SmolVLMImageProcessor,
                                  SmolVLMProcessor, SmolVLMVideoProcessor)

        cfg = SmolVLMConfig(vision_config=vision, text_config=text, scale_factor=scale,
                            image_token_id=tok.convert_tokens_to_ids("<image>"), pad_token_id=tok.pad_token_id)
        proc = SmolVLMProcessor(
            image_processor=SmolVLMImageProcessor(**ip_kwargs),
            tokenizer=tok,
            video_processor=SmolVLMVideoProcessor(size={"longest_edge": img}, max_image_size={"longest_edge": img}),
            image_seq_len=seq_len,
        )
        cls = SmolVLMForConditionalGeneration
    else:
        from transformers import (Idefics3Config, Idefics3ForConditionalGeneration, Idefics3ImageProcessor,
                                  Idefics3Processor)

        cfg = Idefics3Config(vision_config=vision, text_config=text, scale_factor=scale,
                             image_token_id=tok.convert_tokens_to_ids("<image>"), pad_token_id=tok.pad_token_id)
        proc = Idefics3Processor(image_processor=Idefics3ImageProcessor(**ip_kwargs), tokenizer=tok,
                                 image_seq_len=seq_len)
        cls = Idefics3ForConditionalGeneration
    torch.manual_seed(seed)
    return finish(cls(cfg), model_type, seed), proc


FAMILY = register_family(Family(
    name="idefics3",
    model_types=("idefics3", "smolvlm"),
    adapter=Idefics3Adapter,
    text_only=False,
    build_tiny=build_tiny,
    tiny=TINY,
    suggested={
        "HuggingFaceTB/SmolVLM-256M-Instruct": "idefics3 (SmolVLM)",
        "HuggingFaceTB/SmolVLM2-256M-Video-Instruct": "smolvlm (SmolVLM2)",
    },
    processor_kwargs=NO_SPLITTING,
))
