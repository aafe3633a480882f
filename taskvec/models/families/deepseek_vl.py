"""DeepSeek-VL (v1, transformers' format): a SigLIP tower, an MLP aligner and a Llama decoder.

The standard layout with nothing to override: the processor expands ``<image_placeholder>`` into a
fixed ``num_image_tokens`` copies of itself (576 for the 384 px tower), the model fills exactly
those positions with the aligned vision features, and the image processor resizes the longest
side to the tower's size and pads to a square, so there is no tiling: one image is always one
run of ``num_image_tokens`` consecutive feature tokens. The Llama decoder is causal with full
attention and honours a custom 4-D mask: both capabilities hold.
"""

from __future__ import annotations

import torch

from taskvec.models.generic import DeclaredAdapter
from taskvec.models.registry import Family, TinySpec, register_family

TINY = {"deepseek_vl": TinySpec(2, "SigLIP tower 28 px / 7 px patches: 16 <image_placeholder> per image (no tiling, "
                                   "padded to a square); Llama decoder; tokenizer prepends its BOS.")}
IMAGE = "<image_placeholder>"


def build_tiny(model_type: str, seed: int):
    """(tiny random DeepSeek-VL model, its processor)."""
    import transformers as tf

    from taskvec.testing.builders import HEADS, HIDDEN, INTER, byte_level_tokenizer, finish, llama_like_text, vocab_size

    img, patch = 28, 7
    tok = byte_level_tokenizer(bos="<｜begin▁of▁sentence｜>", eos="<｜end▁of▁sentence｜>", pad="<｜▁pad▁｜>",
                               add_bos=True, specials=[IMAGE], named={"image_token": IMAGE})
    vision = dict(model_type="siglip_vision_model", hidden_size=HIDDEN, intermediate_size=INTER, num_hidden_layers=2,
                  num_attention_heads=HEADS, image_size=img, patch_size=patch, vision_use_head=False)
    text = dict(model_type="llama", **llama_like_text(TINY[model_type].layers, vocab_size(tok), tok))
    cfg = tf.DeepseekVLConfig(vision_config=vision, text_config=text, image_token_id=tok.convert_tokens_to_ids(IMAGE))
    proc = tf.DeepseekVLProcessor(image_processor=tf.DeepseekVLImageProcessor(size={"height": img, "width": img}),
                                  tokenizer=tok, num_image_tokens=(img // patch) ** 2)
    torch.manual_seed(seed)
    return finish(tf.DeepseekVLForConditionalGeneration(cfg), model_type, seed), proc


FAMILY = register_family(Family(
    name="deepseek_vl",
    model_types=("deepseek_vl",),
    adapter=DeclaredAdapter,
    text_only=False,
    build_tiny=build_tiny,
    tiny=TINY,
    suggested={"deepseek-community/deepseek-vl-1.3b-chat": "deepseek_vl (DeepSeek-VL 1.3B chat)"},
))
