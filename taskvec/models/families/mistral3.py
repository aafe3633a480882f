"""Mistral 3 (Mistral Small 3.x): a Pixtral vision tower in a Mistral decoder.

What differs from the generic layout reading: the processor lays an image out as rows of
``[IMG]`` feature tokens, each row closed by ``[IMG_BREAK]`` and the last by ``[IMG_END]``, so
one image is not one run of consecutive placeholder tokens. ``image_runs`` groups an image's
``[IMG]`` positions up to its ``[IMG_END]`` (the break and end tokens carry no image features).
"""

from __future__ import annotations

import torch

from taskvec.models.generic import DeclaredAdapter
from taskvec.models.registry import Family, TinySpec, register_family


class Mistral3Adapter(DeclaredAdapter):
    """Pixtral's [IMG] rows with [IMG_BREAK]; an image ends at [IMG_END]."""

    image_end_token = "[IMG_END]"


TINY = {"mistral3": TinySpec(3, "Pixtral tower 28 px / 7 px patches, spatial merge 2: 2 rows of 2 [IMG], "
                                "[IMG_BREAK] between rows, [IMG_END] last.")}


def build_tiny(model_type: str, seed: int):
    """(tiny random Mistral 3 model, its Pixtral processor)."""
    import transformers as tf

    from taskvec.testing.builders import HEADS, HIDDEN, INTER, byte_level_tokenizer, finish, llama_like_text, vocab_size

    img, patch = 28, 7
    tok = byte_level_tokenizer(bos="<s>", eos="</s>", pad="<pad>", unk="<unk>", add_bos=True,
                               specials=["[IMG]", "[IMG_BREAK]", "[IMG_END]"])
    vision = dict(model_type="pixtral", hidden_size=HIDDEN, intermediate_size=INTER, num_hidden_layers=2,
                  num_attention_heads=HEADS, image_size=img, patch_size=patch, head_dim=HIDDEN // HEADS)
    text = dict(model_type="mistral", **llama_like_text(TINY[model_type].layers, vocab_size(tok), tok))
    cfg = tf.Mistral3Config(vision_config=vision, text_config=text, image_token_index=tok.convert_tokens_to_ids("[IMG]"),
                            spatial_merge_size=2, vision_feature_layer=-1)
    proc = tf.PixtralProcessor(image_processor=tf.PixtralImageProcessor(size={"longest_edge": img}, patch_size=patch),
                               tokenizer=tok, patch_size=patch, spatial_merge_size=2, image_token="[IMG]",
                               image_break_token="[IMG_BREAK]", image_end_token="[IMG_END]")
    torch.manual_seed(seed)
    return finish(tf.Mistral3ForConditionalGeneration(cfg), model_type, seed), proc


FAMILY = register_family(Family(
    name="mistral3",
    model_types=("mistral3",),
    adapter=Mistral3Adapter,
    text_only=False,
    build_tiny=build_tiny,
    tiny=TINY,
    suggested={"mistralai/Mistral-Small-3.1-24B-Instruct-2503": "mistral3 (Mistral Small 3.1)"},
))
