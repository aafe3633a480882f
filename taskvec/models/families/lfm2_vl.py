"""LFM2-VL: a SigLIP2 (NaFlex) tower in an LFM2 decoder of short convolutions and attention.

What transformers 5.23's ``modeling_lfm2.py`` / ``modeling_lfm2_vl.py`` do and what taskvec makes of it:

- Most LFM2 decoder layers are gated short convolutions (``Lfm2ShortConv``: a causal depthwise
  conv over the last ``conv_L_cache`` positions), a few are grouped-query attention. Both are
  causal and every layer returns one (B, T, D) hidden state: the default residual sites hold.
- Conv layers ignore a 4-D attention mask (``create_recurrent_attention_mask`` gives them None for
  one) and would convolve across packed copies: ``packed_sweep`` False.
- Their prefix cache is a conv state in transformers' ``LinearAttentionLayer``, which has no
  ``batch_repeat_interleave``: the repeated-cache sweep cannot copy it along the batch. The state
  itself is causal, but no prefix-cache sweep is exact with this cache: ``causal_prefix`` False,
  sweeps run the exact per-layer loop.
- Right padding: padding follows a row's real tokens and the conv is causal (padded inputs are
  also zeroed), so a padded batch gives every real token what it gets alone.
- The final norm is ``embedding_norm`` (despite its name, Lfm2Model applies it after the last
  decoder layer): the lens reads it there.
- Images: ``do_image_splitting`` is turned off (``processor_defaults``), so one image is
  ``<|image_start|>`` + n x ``<image>`` + ``<|image_end|>``, a single run (no tiles, no row/col
  markers, no thumbnail), n set by the image size between ``min_image_tokens`` and
  ``max_image_tokens``. The processor's own text default drops the tokenizer's ``<|startoftext|>``
  (chat templates write it); taskvec turns special tokens back on, so text-only and image prompts
  both start with it, as the text-only path (the bare tokenizer) does.
"""

from __future__ import annotations

import torch

from taskvec.models.generic import DeclaredAdapter
from taskvec.models.registry import Family, TinySpec, register_family


class Lfm2VlAdapter(DeclaredAdapter):
    """LFM2-VL: exact per-layer sweeps (conv layers), one untiled block per image."""

    causal_prefix = False  # the conv-state prefix cache cannot be repeated along the batch
    packed_sweep = False  # conv layers ignore a 4-D mask
    images_nested = True  # the processor counts images per prompt
    norm_paths = ("model.language_model.embedding_norm",)  # LFM2's final norm, applied after the last layer
    processor_defaults = {"images_kwargs": {"do_image_splitting": False},
                          "text_kwargs": {"add_special_tokens": True, "padding_side": "right"}}


TINY = {
    "lfm2_vl": TinySpec(3, (
        "Prompt text <image> (the processor's image_token); it expands to <|image_start|> + 4-16 x <image> + "
        "<|image_end|> (SigLIP2 NaFlex tower with 4-px patches, 2x2 pixel-unshuffle, image splitting off); "
        "decoder layers conv, attention, conv (conv_L_cache 3); the tokenizer prepends <|startoftext|>."
    )),
}


def build_tiny(model_type: str, seed: int):
    """(tiny random LFM2-VL model, its processor)."""
    import transformers as tf

    from taskvec.testing.builders import HEADS, HIDDEN, INTER, byte_level_tokenizer, finish, llama_like_text, vocab_size

    specials = ["<image>", "<|image_start|>", "<|image_end|>", "<|img_thumbnail|>", "<|im_start|>"]
    tok = byte_level_tokenizer(bos="<|startoftext|>", eos="<|im_end|>", pad="<|pad|>", add_bos=True, specials=specials)
    n = TINY[model_type].layers
    text = dict(model_type="lfm2", **llama_like_text(n, vocab_size(tok), tok, tie_word_embeddings=True),
                layer_types=["conv", "full_attention", "conv"][:n], conv_L_cache=3, block_auto_adjust_ff_dim=False)
    patch = 4
    vision = dict(model_type="siglip2_vision_model", hidden_size=HIDDEN, intermediate_size=INTER,
                  num_hidden_layers=2, num_attention_heads=HEADS, patch_size=patch, num_patches=16,
                  vision_use_head=False)
    cfg = tf.Lfm2VlConfig(text_config=text, vision_config=vision, image_token_id=tok.convert_tokens_to_ids("<image>"),
                          projector_hidden_size=HIDDEN, downsample_factor=2)
    image_processor = tf.Lfm2VlImageProcessor(encoder_patch_size=patch, downsample_factor=2, min_image_tokens=4,
                                              max_image_tokens=16, tile_size=32, do_image_splitting=False)
    proc = tf.Lfm2VlProcessor(image_processor=image_processor, tokenizer=tok)
    torch.manual_seed(seed)
    return finish(tf.Lfm2VlForConditionalGeneration(cfg), model_type, seed), proc


FAMILY = register_family(Family(
    name="lfm2_vl",
    model_types=("lfm2_vl",),
    adapter=Lfm2VlAdapter,
    text_only=False,
    build_tiny=build_tiny,
    tiny=TINY,
    suggested={"LiquidAI/LFM2-VL-1.6B": "lfm2_vl"},
))
