"""Aya Vision (Cohere): a SigLIP tower, pixel shuffle and a Cohere 2 decoder.

What differs from the generic layout reading: the processor expands ``<image>`` into
``<|START_OF_IMG|>``, then per tile a ``TILE_k`` marker and its ``<|IMG_PATCH|>`` feature tokens, a
global tile ``TILE_GLOBAL`` and ``<|END_OF_IMG|>``; by default it tiles an image into crops
(``crop_to_patches``), and pads text on the left. The adapter makes one image one tile (the paper's
one predictable block), pads on the right, and groups an image's feature tokens up to ``<|END_OF_IMG|>``.
"""

from __future__ import annotations

import torch

from taskvec.models.generic import DeclaredAdapter
from taskvec.models.registry import Family, TinySpec, register_family


class AyaVisionAdapter(DeclaredAdapter):
    """One tile per image; an image's feature tokens run up to <|END_OF_IMG|>. No packed sweep: the Cohere 2
    decoder's sliding-window layers build their own masks, which a custom 4-D mask would replace (as
    cohere2_vision, whose window-8 build shows the packed sweep wrong)."""

    packed_sweep = False

    processor_defaults = {"images_kwargs": {"crop_to_patches": False}, "text_kwargs": {"padding_side": "right"}}
    image_end_token = "<|END_OF_IMG|>"


TINY = {"aya_vision": TinySpec(3, "SigLIP tower 28 px / 14 px patches, pixel shuffle 2: one <|IMG_PATCH|> per tile; "
                                  "Cohere 2 decoder; crop_to_patches off (one tile + the global tile).")}
SPECIALS = ["<image>", "<|START_OF_IMG|>", "<|END_OF_IMG|>", "<|IMG_PATCH|>", "<|IMG_LINE_BREAK|>", "TILE", "TILE_GLOBAL"]


def build_tiny(model_type: str, seed: int):
    """(tiny random Aya Vision model, its processor)."""
    import transformers as tf

    from taskvec.testing.builders import HEADS, HIDDEN, INTER, byte_level_tokenizer, finish, llama_like_text, vocab_size

    img, patch = 28, 14
    tok = byte_level_tokenizer(bos="<s>", eos="</s>", pad="<pad>", unk="<unk>", add_bos=True, specials=SPECIALS)
    vision = dict(model_type="siglip_vision_model", hidden_size=HIDDEN, intermediate_size=INTER, num_hidden_layers=2,
                  num_attention_heads=HEADS, image_size=img, patch_size=patch)
    text = dict(model_type="cohere2", **llama_like_text(TINY[model_type].layers, vocab_size(tok), tok))
    cfg = tf.AyaVisionConfig(vision_config=vision, text_config=text,
                             image_token_index=tok.convert_tokens_to_ids("<|IMG_PATCH|>"), downsample_factor=2,
                             vision_feature_layer=-1, vision_feature_select_strategy="full")
    proc = tf.AyaVisionProcessor(image_processor=tf.GotOcr2ImageProcessor(size={"height": img, "width": img}),
                                 tokenizer=tok, patch_size=2 * patch, img_size=img, downsample_factor=1)
    proc.images_kwargs = {"crop_to_patches": False}  # one tile per image (the adapter sets it on real processors)
    proc.text_kwargs = {"padding_side": "right"}
    torch.manual_seed(seed)
    return finish(tf.AyaVisionForConditionalGeneration(cfg), model_type, seed), proc


FAMILY = register_family(Family(
    name="aya_vision",
    model_types=("aya_vision",),
    adapter=AyaVisionAdapter,
    text_only=False,
    build_tiny=build_tiny,
    tiny=TINY,
    suggested={"CohereLabs/aya-vision-8b": "aya_vision (Aya Vision 8B)"},
))
