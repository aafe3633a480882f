"""LLaVA-1.5: a CLIP tower; one <image> expands into its patch tokens; decoder at
``model.model.language_model.layers``."""

from __future__ import annotations

import torch

from taskvec.models.base import Adapter
from taskvec.models.registry import Family, TinySpec, register_family


class LlavaAdapter(Adapter):
    """LLaVA-1.5: one <image> expands into the vision tower's patch tokens."""

    family = "llava"
    image_placeholder = "<image>"
    image_token_names = ("<image>",)


TINY = {
    "llava": TinySpec(4, "<image> expands to 16x<image> (4x4 CLIP patches, CLS dropped); tokenizer prepends <s>."),
}


def build_tiny(model_type: str, seed: int):
    """(tiny random LLaVA model, its processor)."""
    from transformers import CLIPImageProcessor, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor

    from taskvec.testing.builders import HEADS, HIDDEN, INTER, byte_level_tokenizer, finish, llama_like_text, vocab_size

    img, patch = 28, 7  # 4x4 = 16 patches (+ CLS dropped by the "default" strategy) -> 16 tokens
    tok = byte_level_tokenizer(bos="<s>", eos="</s>", pad="<pad>", unk="<unk>", add_bos=True,
                               specials=["<image>"])
    vocab = vocab_size(tok)
    cfg = LlavaConfig(
        vision_config=dict(model_type="clip_vision_model", hidden_size=HIDDEN, intermediate_size=INTER,
                           num_hidden_layers=2, num_attention_heads=HEADS, image_size=img, patch_size=patch,
                           projection_dim=HIDDEN),
        text_config=llama_like_text(TINY[model_type].layers, vocab, tok),
        image_token_index=tok.convert_tokens_to_ids("<image>"),
        image_seq_length=(img // patch) ** 2,
        vision_feature_select_strategy="default",
        vision_feature_layer=-2,
    )
    proc = LlavaProcessor(
        image_processor=CLIPImageProcessor(size={"shortest_edge": img}, crop_size={"height": img, "width": img}),
        tokenizer=tok,
        patch_size=patch,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
    )
    torch.manual_seed(seed)
    return finish(LlavaForConditionalGeneration(cfg), model_type, seed), proc


FAMILY = register_family(Family(
    name="llava",
    model_types=("llava",),
    adapter=LlavaAdapter,
    text_only=False,
    build_tiny=build_tiny,
    tiny=TINY,
    suggested={"llava-hf/llava-1.5-7b-hf": "llava"},
))
