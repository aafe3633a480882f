"""InternVL (2.5 / 3 in transformers' format): an InternViT tower, pixel shuffle, a Qwen2/Llama decoder.

What differs from the generic layout reading: the image processor tiles an image into 448 px
crops by default (``crop_to_patches``), so the number of image tokens depends on the image's
size. The paper's protocol wants one image to be one predictable block, so this family loads the
processor with ``crop_to_patches=False``: one image, one tile, ``image_seq_length`` feature tokens
(``<img>`` + ``<IMG_CONTEXT>`` x n + ``</img>``).
"""

from __future__ import annotations

import torch

from taskvec.models.generic import DeclaredAdapter
from taskvec.models.registry import Family, TinySpec, register_family

class InternVLAdapter(DeclaredAdapter):
    """One tile per image, right padding: set as the processor's call defaults."""

    processor_defaults = {"images_kwargs": {"crop_to_patches": False}, "text_kwargs": {"padding_side": "right"}}


TINY = {"internvl": TinySpec(3, "InternViT 28 px / 7 px patches, pixel shuffle 0.5: 4 <IMG_CONTEXT> per image between "
                                "<img> and </img>; Qwen2 decoder; crop_to_patches off.")}


def build_tiny(model_type: str, seed: int):
    """(tiny random InternVL model, its processor)."""
    import transformers as tf

    from taskvec.testing.builders import HEADS, HIDDEN, INTER, byte_level_tokenizer, finish, llama_like_text, vocab_size

    img, patch = 28, 7
    named = {"context_image_token": "<IMG_CONTEXT>", "start_image_token": "<img>", "end_image_token": "</img>",
             "video_token": "<video>"}
    tok = byte_level_tokenizer(bos="<s>", eos="</s>", pad="<pad>", unk="<unk>", specials=list(named.values()), named=named)
    vision = dict(hidden_size=HIDDEN, intermediate_size=INTER, num_hidden_layers=2, num_attention_heads=HEADS,
                  image_size=[img, img], patch_size=[patch, patch])
    text = dict(model_type="qwen2", **llama_like_text(TINY[model_type].layers, vocab_size(tok), tok))
    cfg = tf.InternVLConfig(vision_config=vision, text_config=text, image_token_id=tok.convert_tokens_to_ids("<IMG_CONTEXT>"),
                            downsample_ratio=0.5, vision_feature_layer=-1)
    proc = tf.InternVLProcessor(image_processor=tf.GotOcr2ImageProcessor(size={"height": img, "width": img}),
                                tokenizer=tok, video_processor=tf.InternVLVideoProcessor(), image_seq_length=4)
    proc.images_kwargs = {"crop_to_patches": False}  # one tile per image (the adapter sets it on real processors)
    torch.manual_seed(seed)
    return finish(tf.InternVLForConditionalGeneration(cfg), model_type, seed), proc


FAMILY = register_family(Family(
    name="internvl",
    model_types=("internvl",),
    adapter=InternVLAdapter,
    text_only=False,
    build_tiny=build_tiny,
    tiny=TINY,
    suggested={"OpenGVLab/InternVL3-1B-hf": "internvl (InternVL3 1B)"},
))
