"""Llama 4 (Scout / Maverick): a vision tower with pixel shuffle, and a mixture-of-experts decoder with
chunked local attention and no-RoPE global layers.

What differs from the generic layout reading, and why the capabilities are what they are:

- Attention. Layers with RoPE use chunked local attention (``attention_chunk_size``: a token sees
  only the earlier tokens of its own chunk); every ``no_rope_layer_interval``-th layer is a global
  no-RoPE layer whose queries are scaled by a temperature that grows with the position
  (``attn_temperature_tuning``, ``floor_scale``). Both are causal, so a prefix's cache is the same
  whatever follows: ``causal_prefix`` True (the repeated-cache sweep; the chunked layers' cache is
  transformers' sliding-window cache, which ``generate`` uses the same way). ``packed_sweep``
  False: a custom 4-D mask is returned as-is for the chunked layers too (their chunk masks are
  bypassed), and the temperature is computed from the token's index in the row plus the cached
  length, not from ``position_ids``, so copies packed side by side in one row would get the wrong
  chunks and temperatures once a row passes ``attention_chunk_size`` or ``floor_scale`` tokens.
- Mixture of experts. ``Llama4TextMoe`` routes each token on its own (top-k of its own router
  logits, sigmoid weights) and runs every expert densely on every token with the unselected ones
  weighted 0, plus a shared expert: there is no capacity limit and no token dropping, so padding
  and batching cannot change a real token's output (batched extraction equals one prompt at a
  time: tests/core/test_invariants.py and tests/models/test_llama4_family.py).
- Images. The processor expands ``<|image|>`` into ``<|image_start|>``, per tile ``<|patch|>`` tokens
  with ``<|tile_x_separator|>`` / ``<|tile_y_separator|>``, then ``<|image|>`` and the global view's
  ``<|patch|>`` tokens, and ``<|image_end|>``; only ``<|patch|>`` carries features. By default it tiles
  an image into up to 16 crops and pads on the left; the adapter asks for one crop
  (``max_patches=1``: ``<|image_start|><|image|>`` + n ``<|patch|>`` + ``<|image_end|>``, one predictable
  block) and right padding, and groups an image's ``<|patch|>`` positions up to ``<|image_end|>``.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import nn

from taskvec.models.generic import DeclaredAdapter
from taskvec.models.registry import Family, TinySpec, register_family

IMAGE_FEATURE_TOKEN = "<|patch|>"


class Llama4Adapter(DeclaredAdapter):
    """One crop per image, right padding; features are the <|patch|> tokens up to <|image_end|>."""

    layer_paths = ("language_model.model.layers",)  # get_decoder() is the Llama4ForCausalLM, not its text model
    norm_paths = ("language_model.model.norm",)
    causal_prefix = True
    packed_sweep = False  # chunked masks and position-by-row temperature: see the module docstring
    processor_defaults = {"images_kwargs": {"max_patches": 1}, "text_kwargs": {"padding_side": "right"}}
    image_end_token = "<|image_end|>"

    def __init__(self, model: nn.Module, processor: Any, model_id: str = "", revision: str | None = None,
                 meaningless_weights: bool = False):
        super().__init__(model, processor, model_id, revision, meaningless_weights)
        self.image_token_names = (IMAGE_FEATURE_TOKEN,)  # not the <|image|> marker inside the expansion


TINY = {"llama4": TinySpec(4, (
    "Vision tower 28 px / 7 px patches, pixel shuffle 0.5: 4 <|patch|> per image between <|image_start|><|image|> "
    "and <|image_end|> (max_patches 1: no tiles); decoder: layers 0-2 chunked RoPE attention (chunk 64), layer 3 "
    "global no-RoPE with temperature tuning; MoE (4 experts, top-1, + shared expert) in layers 1 and 3."))}
SPECIALS = ["<|image_start|>", "<|image_end|>", "<|image|>", "<|patch|>", "<|tile_x_separator|>",
            "<|tile_y_separator|>", "<|header_start|>", "<|header_end|>"]


def build_tiny(model_type: str, seed: int, chunk: int = 64, floor_scale: int = 8192):
    """(tiny random Llama 4 model, its processor). ``chunk`` / ``floor_scale``: the chunked-attention size and
    the temperature's floor scale (small values make short prompts cross them, for tests)."""
    import transformers as tf

    from taskvec.testing.builders import HEADS, HIDDEN, INTER, byte_level_tokenizer, finish, llama_like_text, vocab_size

    img, patch = 28, 7
    tok = byte_level_tokenizer(bos="<|begin_of_text|>", eos="<|eot|>", pad="<|finetune_right_pad|>", add_bos=True,
                               specials=SPECIALS)
    vision = dict(hidden_size=HIDDEN, intermediate_size=4 * HIDDEN, num_hidden_layers=2, num_attention_heads=HEADS,
                  image_size=img, patch_size=patch, pixel_shuffle_ratio=0.5, vision_output_dim=HIDDEN,
                  projector_input_dim=HIDDEN, projector_output_dim=HIDDEN)  # pixel shuffle: 4 x hidden channels
    text = llama_like_text(TINY[model_type].layers, vocab_size(tok), tok, head_dim=HIDDEN // HEADS,
                           intermediate_size_mlp=INTER, num_local_experts=4, num_experts_per_tok=1,
                           moe_layers=[1, 3], no_rope_layer_interval=4, attention_chunk_size=chunk,
                           floor_scale=floor_scale)
    ids = {name: tok.convert_tokens_to_ids(t) for name, t in
           (("boi_token_index", "<|image_start|>"), ("eoi_token_index", "<|image_end|>"),
            ("image_token_index", IMAGE_FEATURE_TOKEN))}
    cfg = tf.Llama4Config(vision_config=vision, text_config=text, **ids)
    proc = tf.Llama4Processor(image_processor=tf.Llama4ImageProcessor(size={"height": img, "width": img}),
                              tokenizer=tok, patch_size=patch, pixel_shuffle_ratio=0.5)
    proc.images_kwargs = {"max_patches": 1}  # one crop per image (the adapter sets it on real processors)
    proc.text_kwargs = {"padding_side": "right"}
    torch.manual_seed(seed)
    with warnings.catch_warnings():  # finish's fp32 cast makes the vision tower's complex rotations real ...
        warnings.filterwarnings("ignore", "Casting complex values to real", UserWarning)
        model = finish(tf.Llama4ForConditionalGeneration(cfg), model_type, seed)
    rope = model.vision_model.rotary_embedding  # ... so recompute them
    rope.freqs_ci = rope._compute_freqs_ci(cfg.vision_config)
    return model, proc


FAMILY = register_family(Family(
    name="llama4",
    model_types=("llama4",),
    adapter=Llama4Adapter,
    text_only=False,
    build_tiny=build_tiny,
    tiny=TINY,
    suggested={"meta-llama/Llama-4-Scout-17B-16E-Instruct": "llama4 (Llama 4 Scout 17B-16E)"},
))
