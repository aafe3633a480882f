"""Qwen2-VL / Qwen2.5-VL: <|image_pad|> tokens and 3-D rotary positions (M-RoPE)."""

from __future__ import annotations

import torch

from taskvec.models.base import Adapter, Encoded
from taskvec.models.registry import Family, TinySpec, register_family


class Qwen2VLAdapter(Adapter):
    """Qwen2-VL / Qwen2.5-VL: 3-D rotary positions, computed once per prompt and passed explicitly."""

    family = "qwen2_vl"
    image_placeholder = "<|vision_start|><|image_pad|><|vision_end|>"
    image_token_names = ("<|image_pad|>",)

    def position_ids(self, enc: Encoded) -> torch.Tensor | None:
        inp = enc.inputs
        if "image_grid_thw" not in inp:
            return None  # text only: 1-D positions from the cache position, as usual
        inner = self.model.model
        pos, _ = inner.get_rope_index(
            inp["input_ids"], mm_token_type_ids=inp.get("mm_token_type_ids"),
            image_grid_thw=inp.get("image_grid_thw"), attention_mask=inp.get("attention_mask"),
        )
        return pos  # (3, B, T)


TINY = {
    "qwen2_vl": TinySpec(3, (
        "Prompt text <|vision_start|><|image_pad|><|vision_end|>; <|image_pad|> expands to 4-6 tokens "
        "(~56x56 px after smart resize, 14-px patches, 2x2 merge; count depends on aspect ratio); the "
        "processor also returns mm_token_type_ids; M-RoPE position ids (3 sections) made by the model."
    )),
    "qwen2_5_vl": TinySpec(2, (
        "Like Qwen2-VL (<|image_pad|> -> 4-6 tokens, M-RoPE), windowed-attention vision tower; "
        "uses Qwen2VLImageProcessor (2.5-VL has no image processor of its own)."
    )),
}


def build_tiny(model_type: str, seed: int):
    """(tiny random Qwen2-VL / Qwen2.5-VL model, its processor)."""
    from taskvec.testing.builders import HEADS, HIDDEN, INTER, byte_level_tokenizer, finish, llama_like_text, vocab_size

    patch, merge = 14, 2
    side = patch * merge * 2  # 56 px -> 4x4 patches -> 2x2 merged = 4 image tokens
    specials = ["<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>",
                "<|video_pad|>"]
    tok = byte_level_tokenizer(bos=None, eos="<|im_end|>", pad="<|endoftext|>", specials=specials)
    vocab = vocab_size(tok)
    head_dim = HIDDEN // HEADS
    text = llama_like_text(TINY[model_type].layers, vocab, tok,
                           rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                            "mrope_section": [2, 3, 3]})
    assert sum(text["rope_parameters"]["mrope_section"]) == head_dim // 2
    ids = dict(
        image_token_id=tok.convert_tokens_to_ids("<|image_pad|>"),
        video_token_id=tok.convert_tokens_to_ids("<|video_pad|>"),
        vision_start_token_id=tok.convert_tokens_to_ids("<|vision_start|>"),
        vision_end_token_id=tok.convert_tokens_to_ids("<|vision_end|>"),
    )
    size = {"shortest_edge": side * side, "longest_edge": side * side}
    if model_type == "qwen2_vl":
        from transformers import (Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLImageProcessor,
                                  Qwen2VLProcessor, Qwen2VLVideoProcessor)

        vision = dict(depth=2, embed_dim=HIDDEN, hidden_size=HIDDEN, num_heads=HEADS, mlp_ratio=2,
                      patch_size=patch, spatial_merge_size=merge)
        cfg = Qwen2VLConfig(text_config=text, vision_config=vision, **ids)
        cls, proc_cls = Qwen2VLForConditionalGeneration, Qwen2VLProcessor
    else:
        from transformers import (Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor,
                                  Qwen2VLImageProcessor, Qwen2VLVideoProcessor)

        vision = dict(depth=2, hidden_size=HIDDEN, intermediate_size=INTER, num_heads=HEADS,
                      out_hidden_size=HIDDEN, patch_size=patch, spatial_merge_size=merge, window_size=56,
                      fullatt_block_indexes=[1])
        cfg = Qwen2_5_VLConfig(text_config=text, vision_config=vision, **ids)
        cls, proc_cls = Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor
    proc = proc_cls(
        image_processor=Qwen2VLImageProcessor(size=size, patch_size=patch, merge_size=merge),
        tokenizer=tok,
        video_processor=Qwen2VLVideoProcessor(size=size, patch_size=patch, merge_size=merge),
    )
    torch.manual_seed(seed)
    return finish(cls(cfg), model_type, seed), proc


FAMILY = register_family(Family(
    name="qwen2_vl",
    model_types=("qwen2_vl", "qwen2_5_vl"),
    adapter=Qwen2VLAdapter,
    text_only=False,
    build_tiny=build_tiny,
    tiny=TINY,
    suggested={"Qwen/Qwen2.5-VL-3B-Instruct": "qwen2_5_vl"},
))
