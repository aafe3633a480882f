"""Qwen3-VL / Qwen3-VL-MoE: DeepStack visual injection, <|image_pad|> tokens and 3-D rotary positions.

The trap. After each of the first k decoder layers (k = ``len(vision_config.deepstack_visual_indexes)``)
the text model adds features from an intermediate vision layer to the hidden states at the image
positions (``Qwen3VLTextModel._deepstack_process``). So the output of decoder layer l - 1 is not what
decoder layer l receives at those positions. The adapter declares ``residual_at_input``: residual
layer l (1 <= l < L) is read and written as the INPUT of decoder layer l, what the model computes
from; l = 0 is the embeddings (as everywhere) and l = L the output of the last layer (the loader
refuses a config whose DeepStack reaches past the last layer, where no decoder layer would receive
the sum). At text positions, delimiters included, both readings are the same tensor.

Capabilities. ``causal_prefix``: causal attention and the injection only touches image positions,
which are all in the prefix of a sweep (images come before the query's delimiter), so a prefix's
cache is the same whatever follows. ``packed_sweep``: the text model takes a custom 4-D mask as is
(``create_causal_mask``), with explicit M-RoPE position ids per copy, as Qwen2-VL.
Qwen3-VL-MoE: every MoE layer routes each token on its own (softmax over experts, top-k, weights
renormalised; no expert capacity, so no token is dropped or rerouted by what else is in the batch),
so batching, padding and packing copies change no token's result.
"""

from __future__ import annotations

import torch

from taskvec.errors import ModelLoadError
from taskvec.models.families.qwen2_vl import Qwen2VLAdapter
from taskvec.models.registry import Family, TinySpec, register_family


class Qwen3VLAdapter(Qwen2VLAdapter):
    """Qwen3-VL(-MoE): Qwen2-VL's prompt layout and M-RoPE; residuals read as each decoder layer's input."""

    family = "qwen3_vl"
    residual_at_input = True  # DeepStack adds visual features between decoder layers

    def __init__(self, model, processor, model_id: str = "", revision: str | None = None,
                 meaningless_weights: bool = False):
        super().__init__(model, processor, model_id, revision, meaningless_weights)
        k = len(getattr(model.config.vision_config, "deepstack_visual_indexes", ()) or ())
        if k >= self.n_layers:
            raise ModelLoadError(
                f"{model_id or self.family}: DeepStack injects visual features after {k} decoder layers but the text "
                f"model has {self.n_layers}; the sum after the last layer reaches no decoder layer, so residual "
                f"layer {self.n_layers} (the last layer's output) would not be what the final norm receives. "
                "Expected fewer DeepStack layers than decoder layers."
            )


TINY = {
    "qwen3_vl": TinySpec(3, (
        "Prompt text <|vision_start|><|image_pad|><|vision_end|>; <|image_pad|> expands to 2-4 tokens (smart "
        "resize to ~64x64 px of area, 16-px patches, 2x2 merge; count depends on aspect ratio: 2 for the 40x30 "
        "test images); mm_token_type_ids from the processor; "
        "M-RoPE (interleaved sections 2/3/3); DeepStack adds vision-layer-0 and -1 features after decoder "
        "layers 0 and 1 (residual layers 1, 2 read as inputs of decoder layers 1, 2)."
    )),
    "qwen3_vl_moe": TinySpec(2, (
        "Like qwen3_vl (<|image_pad|> -> 2-4 tokens, M-RoPE); every decoder layer a sparse MoE MLP (4 experts, "
        "top-2); DeepStack after decoder layer 0 only (vision layer 1), so residual 1 is decoder layer 1's input."
    )),
}


def tiny_parts():
    """The Qwen3-VL-style tokenizer, its token ids for the config, and the processor (64-px images: 4x4 patches
    of 16 px, 2x2 merge = 4 image tokens), shared by the tiny builds of this family and of qwen3_5."""
    from transformers import Qwen2VLImageProcessor, Qwen3VLProcessor, Qwen3VLVideoProcessor

    from taskvec.testing.builders import byte_level_tokenizer

    patch, merge = 16, 2
    side = patch * merge * 2  # 64 px -> 4x4 patches -> 2x2 merged = 4 image tokens
    specials = ["<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>",
                "<|video_pad|>"]
    tok = byte_level_tokenizer(bos=None, eos="<|im_end|>", pad="<|endoftext|>", specials=specials)
    ids = dict(
        image_token_id=tok.convert_tokens_to_ids("<|image_pad|>"),
        video_token_id=tok.convert_tokens_to_ids("<|video_pad|>"),
        vision_start_token_id=tok.convert_tokens_to_ids("<|vision_start|>"),
        vision_end_token_id=tok.convert_tokens_to_ids("<|vision_end|>"),
    )
    size = {"shortest_edge": side * side, "longest_edge": side * side}
    proc = Qwen3VLProcessor(
        image_processor=Qwen2VLImageProcessor(size=size, patch_size=patch, merge_size=merge, temporal_patch_size=2),
        tokenizer=tok,
        video_processor=Qwen3VLVideoProcessor(size=size, patch_size=patch, merge_size=merge, temporal_patch_size=2),
    )
    return tok, ids, proc, patch, merge


def build_tiny(model_type: str, seed: int):
    """(tiny random Qwen3-VL / Qwen3-VL-MoE model, its processor)."""
    from taskvec.testing.builders import HEADS, HIDDEN, INTER, finish, llama_like_text, vocab_size

    tok, ids, proc, patch, merge = tiny_parts()
    head_dim = HIDDEN // HEADS
    n = TINY[model_type].layers
    text = llama_like_text(n, vocab_size(tok), tok, head_dim=head_dim,
                           rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                            "mrope_section": [2, 3, 3], "mrope_interleaved": True})
    assert sum(text["rope_parameters"]["mrope_section"]) == head_dim // 2
    deepstack = [0, 1] if model_type == "qwen3_vl" else [1]
    vision = dict(depth=2, hidden_size=HIDDEN, intermediate_size=INTER, num_heads=HEADS, patch_size=patch,
                  spatial_merge_size=merge, temporal_patch_size=2, out_hidden_size=HIDDEN,
                  num_position_embeddings=16, deepstack_visual_indexes=deepstack)
    if model_type == "qwen3_vl":
        from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration

        cfg, cls = Qwen3VLConfig(text_config=text, vision_config=vision, **ids), Qwen3VLForConditionalGeneration
    else:
        from transformers import Qwen3VLMoeConfig, Qwen3VLMoeForConditionalGeneration

        text.update(num_experts=4, num_experts_per_tok=2, moe_intermediate_size=INTER // 2, decoder_sparse_step=1)
        cfg, cls = Qwen3VLMoeConfig(text_config=text, vision_config=vision, **ids), Qwen3VLMoeForConditionalGeneration
    torch.manual_seed(seed)
    return finish(cls(cfg), model_type, seed), proc


FAMILY = register_family(Family(
    name="qwen3_vl",
    model_types=("qwen3_vl", "qwen3_vl_moe"),
    adapter=Qwen3VLAdapter,
    text_only=False,
    build_tiny=build_tiny,
    tiny=TINY,
    suggested={"Qwen/Qwen3-VL-2B-Instruct": "qwen3_vl", "Qwen/Qwen3-VL-30B-A3B-Instruct": "qwen3_vl_moe"},
))
