"""Perception LM (PLM): a Perception Encoder tower (timm), an MLP projector with 2x2 average pooling,
and a Llama decoder.

What differs from the generic layout reading: the image processor's default
``vision_input_type="thumb+tile"`` splits an image into up to 36 tiles plus a thumbnail, so the
number of ``<|image|>`` feature tokens depends on the image's aspect ratio. The paper's protocol
wants one image to be one predictable block, so this family loads the processor with the single
tile (``vision_input_type="vanilla"``): ``(tile_size / patch / pooling)^2`` consecutive
``<|image|>`` tokens per image. The Llama decoder is causal with full attention and honours a
custom 4-D mask: both capabilities hold. The tower is built by ``timm`` (transformers'
``timm_wrapper``), which must be installed to load this family.
"""

from __future__ import annotations

import torch

from taskvec.models.generic import DeclaredAdapter
from taskvec.models.registry import Family, TinySpec, register_family


class PerceptionLMAdapter(DeclaredAdapter):
    """One tile per image (no thumbnail + tiles), right padding."""

    processor_defaults = {"images_kwargs": {"vision_input_type": "vanilla"}, "text_kwargs": {"padding_side": "right"}}


TINY = {"perception_lm": TinySpec(3, "Perception Encoder (timm vit_pe_core, 2 blocks) 28 px / 7 px patches, CLS "
                                     "dropped, 2x2 pooling: 4 <|image|> per image (single tile); Llama decoder.")}


def build_tiny(model_type: str, seed: int):
    """(tiny random Perception LM model, its processor); needs ``timm``."""
    import transformers as tf

    from taskvec.testing.builders import HEADS, HIDDEN, byte_level_tokenizer, finish, llama_like_text, vocab_size

    img, patch, pool = 28, 7, 2
    named = {"image_token": "<|image|>", "video_token": "<|video|>"}
    tok = byte_level_tokenizer(bos="<|begin_of_text|>", eos="<|eot_id|>", pad="<|end_of_text|>", add_bos=True,
                               specials=list(named.values()), named=named)
    vision = dict(model_type="timm_wrapper", architecture="vit_pe_core_tiny_patch16_384",
                  model_args=dict(embed_dim=HIDDEN, depth=2, num_heads=HEADS, img_size=[img, img], patch_size=patch,
                                  global_pool="", use_post_transformer_norm=False, ref_feat_shape=[img // patch] * 2))
    text = dict(model_type="llama", **llama_like_text(TINY[model_type].layers, vocab_size(tok), tok))
    cfg = tf.PerceptionLMConfig(vision_config=vision, text_config=text, projector_pooling_ratio=pool,
                                image_token_id=tok.convert_tokens_to_ids("<|image|>"),
                                video_token_id=tok.convert_tokens_to_ids("<|video|>"))
    proc = tf.PerceptionLMProcessor(image_processor=tf.PerceptionLMImageProcessor(tile_size=img, max_num_tiles=4),
                                    video_processor=tf.PerceptionLMVideoProcessor(), tokenizer=tok, patch_size=patch,
                                    pooling_ratio=pool)
    proc.images_kwargs = {"vision_input_type": "vanilla"}  # one tile per image (the adapter sets it on real processors)
    torch.manual_seed(seed)
    return finish(tf.PerceptionLMForConditionalGeneration(cfg), model_type, seed), proc


FAMILY = register_family(Family(
    name="perception_lm",
    model_types=("perception_lm",),
    adapter=PerceptionLMAdapter,
    text_only=False,
    build_tiny=build_tiny,
    tiny=TINY,
    suggested={"facebook/Perception-LM-1B": "perception_lm (Perception LM 1B)"},
))
