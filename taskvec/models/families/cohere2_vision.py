"""Command A Vision (cohere2_vision): a SigLIP 2 tower, pixel shuffle with a SwiGLU projector, and a
Cohere 2 decoder.

What differs from the generic layout reading:

- Images. The processor expands the prompt's ``<|IMG_PATCH|>`` into ``<|START_OF_IMG|>``, per tile ``<|IMG_PATCH|>`` x
  patch_size^2 followed by ``<|IMG_LINE_BREAK|>``, then ``<|END_OF_IMG|>``; by default the image
  processor crops an image into up to 12 tiles plus a thumbnail (``crop_to_patches``), and the
  processor pads on the left. The adapter makes one image one tile (the paper's one predictable
  block), pads on the right, and groups an image's feature tokens up to ``<|END_OF_IMG|>`` (with
  tiles, the line breaks interrupt the run).
- ``packed_sweep`` False: the Cohere 2 decoder interleaves sliding-window layers (window 4096 in
  the released model) with full-attention layers, each building its own mask; a custom 4-D mask is
  returned as-is for both, bypassing the window, so packed copies would see past it once a row is
  longer than the window. ``causal_prefix`` True: both kinds are causal, and the repeated-cache
  sweep uses transformers' sliding-window cache as ``generate`` does.
"""

from __future__ import annotations

import torch

from taskvec.models.generic import DeclaredAdapter
from taskvec.models.registry import Family, TinySpec, register_family


class Cohere2VisionAdapter(DeclaredAdapter):
    """One tile per image, right padding; an image's feature tokens run up to <|END_OF_IMG|>."""

    packed_sweep = False  # sliding-window layers build their own masks
    processor_defaults = {"images_kwargs": {"crop_to_patches": False}, "text_kwargs": {"padding_side": "right"}}
    image_end_token = "<|END_OF_IMG|>"


TINY = {"cohere2_vision": TinySpec(4, (
    "Prompt text <|IMG_PATCH|>; SigLIP tower 56 px / 14 px patches, pixel shuffle 2: 4 <|IMG_PATCH|> + "
    "<|IMG_LINE_BREAK|> per tile between "
    "<|START_OF_IMG|> and <|END_OF_IMG|> (crop_to_patches off: one tile); Cohere 2 decoder, layers 0-2 sliding "
    "(window 64), layer 3 full."))}
NAMED = {"boi_token": "<|START_OF_IMG|>", "eoi_token": "<|END_OF_IMG|>", "image_token": "<|IMG_PATCH|>",
         "img_line_break_token": "<|IMG_LINE_BREAK|>"}


def build_tiny(model_type: str, seed: int, sliding_window: int = 64):
    """(tiny random Command A Vision model, its processor). ``sliding_window``: the decoder's window (a small
    one makes short prompts cross it, for tests)."""
    import transformers as tf

    from taskvec.testing.builders import HEADS, HIDDEN, INTER, byte_level_tokenizer, finish, llama_like_text, vocab_size

    img, patch, shuffle = 56, 14, 2
    tok = byte_level_tokenizer(bos="<BOS_TOKEN>", eos="<|END_OF_TURN_TOKEN|>", pad="<PAD>", unk="<UNK>", add_bos=True,
                               specials=list(NAMED.values()), named=NAMED)
    vision = dict(model_type="siglip_vision_model", hidden_size=HIDDEN, intermediate_size=INTER, num_hidden_layers=2,
                  num_attention_heads=HEADS, image_size=img, patch_size=patch, vision_use_head=False)
    text = dict(model_type="cohere2", **llama_like_text(TINY[model_type].layers, vocab_size(tok), tok,
                                                        sliding_window=sliding_window))
    cfg = tf.Cohere2VisionConfig(vision_config=vision, text_config=text, downsample_factor=shuffle,
                                 alignment_intermediate_size=INTER, image_token_id=tok.convert_tokens_to_ids("<|IMG_PATCH|>"))
    ip = tf.Cohere2VisionImageProcessor(size={"height": img, "width": img}, patch_size=img // patch // shuffle)
    proc = tf.Cohere2VisionProcessor(image_processor=ip, tokenizer=tok)
    proc.images_kwargs = {"crop_to_patches": False}  # one tile per image (the adapter sets it on real processors)
    proc.text_kwargs = {**proc.text_kwargs, "padding_side": "right"}
    torch.manual_seed(seed)
    return finish(tf.Cohere2VisionForConditionalGeneration(cfg), model_type, seed), proc


FAMILY = register_family(Family(
    name="cohere2_vision",
    model_types=("cohere2_vision",),
    adapter=Cohere2VisionAdapter,
    text_only=False,
    build_tiny=build_tiny,
    tiny=TINY,
    suggested={"CohereLabs/command-a-vision-07-2025": "cohere2_vision (Command A Vision)"},
))
