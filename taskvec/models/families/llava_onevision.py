"""LLaVA-OneVision: laid out like LLaVA, a SigLIP tower, anyres crops, a Qwen2 LLM."""

from __future__ import annotations

import torch

from taskvec.models.families.llava import LlavaAdapter
from taskvec.models.registry import Family, TinySpec, register_family


class LlavaOnevisionAdapter(LlavaAdapter):
    family = "llava_onevision"


TINY = {
    "llava_onevision": TinySpec(3, (
        "<image> expands to 10x<image> for a lone image (base 2x2 + one anyres 28-px crop 2x2 + "
        "newlines) but to 5x<image> per image when a prompt has several (no anyres); Qwen2 text, no BOS."
    )),
}


def build_tiny(model_type: str, seed: int):
    """(tiny random LLaVA-OneVision model, its processor)."""
    from transformers import (LlavaOnevisionConfig, LlavaOnevisionForConditionalGeneration,
                              LlavaOnevisionImageProcessor, LlavaOnevisionProcessor,
                              LlavaOnevisionVideoProcessor)

    from taskvec.testing.builders import HEADS, HIDDEN, INTER, byte_level_tokenizer, finish, llama_like_text, vocab_size

    img, patch = 28, 14  # 2x2 patches per crop
    tok = byte_level_tokenizer(bos=None, eos="<|im_end|>", pad="<|endoftext|>",
                               specials=["<|im_start|>", "<image>", "<video>"])
    vocab = vocab_size(tok)
    cfg = LlavaOnevisionConfig(
        vision_config=dict(model_type="siglip_vision_model", hidden_size=HIDDEN, intermediate_size=INTER,
                           num_hidden_layers=2, num_attention_heads=HEADS, image_size=img, patch_size=patch),
        text_config=dict(model_type="qwen2", **llama_like_text(TINY[model_type].layers, vocab, tok)),
        image_token_index=tok.convert_tokens_to_ids("<image>"),
        video_token_index=tok.convert_tokens_to_ids("<video>"),
        image_grid_pinpoints=[[img, img]],
        vision_feature_select_strategy="full",
        vision_feature_layer=-1,
    )
    proc = LlavaOnevisionProcessor(
        image_processor=LlavaOnevisionImageProcessor(size={"height": img, "width": img},
                                                     image_grid_pinpoints=[[img, img]]),
        tokenizer=tok,
        video_processor=LlavaOnevisionVideoProcessor(size={"height": img, "width": img}),
        num_image_tokens=(img // patch) ** 2,
        vision_feature_select_strategy="full",
    )
    torch.manual_seed(seed)
    return finish(LlavaOnevisionForConditionalGeneration(cfg), model_type, seed), proc


FAMILY = register_family(Family(
    name="llava_onevision",
    model_types=("llava_onevision",),
    adapter=LlavaOnevisionAdapter,
    text_only=False,
    build_tiny=build_tiny,
    tiny=TINY,
    suggested={"llava-hf/llava-onevision-qwen2-0.5b-ov-hf": "llava_onevision"},
))
