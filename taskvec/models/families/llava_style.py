"""LLaVA-style architectures the generic layout reading serves without quirks: a vision tower, a
projector, and one image placeholder token the processor expands into the image's feature tokens
in a Llama/Mistral decoder. Nothing differs from ``DeclaredAdapter`` but the tiny builds.

- ``llava_next`` (LLaVA-NeXT / 1.6): anyres tiling; the tiny build has one grid pinpoint equal to
  the image size, so one image is one predictable block (the base image and one tile).
- ``llava_next_video``: LLaVA-NeXT with a video path (images as in llava_next).
- ``vipllava``: LLaVA with features from several vision layers.
- ``video_llava``: Video-LLaVA's image path (LanguageBind-style tower; a CLIP tower here).
"""

from __future__ import annotations

import torch

from taskvec.models.generic import DeclaredAdapter
from taskvec.models.registry import Family, TinySpec, register_family

TINY = {
    "llava_next": TinySpec(3, "CLIP tower 28 px / 7 px patches; one grid pinpoint [28, 28]: base image + 1 tile."),
    "llava_next_video": TinySpec(3, "As llava_next, plus a <video> token and its video processor."),
    "vipllava": TinySpec(3, "CLIP tower with 5 layers; features from layers -2, -5, -3, -1, -4; 16 image tokens."),
    "video_llava": TinySpec(3, "CLIP tower 28 px / 7 px patches, CLS dropped: 16 image tokens; a <video> token too."),
}
IMG, PATCH = 28, 7


def _clip(layers: int = 2) -> dict:
    from taskvec.testing.builders import HEADS, HIDDEN, INTER

    return dict(model_type="clip_vision_model", hidden_size=HIDDEN, intermediate_size=INTER, num_hidden_layers=layers,
                num_attention_heads=HEADS, image_size=IMG, patch_size=PATCH, projection_dim=HIDDEN)


def build_tiny(model_type: str, seed: int):
    """(tiny random model, its processor) for each LLaVA-style type."""
    import transformers as tf

    from taskvec.testing.builders import byte_level_tokenizer, finish, llama_like_text, vocab_size

    specials = {"llava_next_video": ["<image>", "<video>"], "video_llava": ["<image>", "<video>"]}
    tok = byte_level_tokenizer(bos="<s>", eos="</s>", pad="<pad>", unk="<unk>", add_bos=True,
                               specials=specials.get(model_type, ["<image>"]))
    text = llama_like_text(TINY[model_type].layers, vocab_size(tok), tok)
    image_id = tok.convert_tokens_to_ids("<image>")
    crop = {"height": IMG, "width": IMG}
    if model_type in ("llava_next", "llava_next_video"):
        extra = dict(video_token_index=tok.convert_tokens_to_ids("<video>")) if model_type == "llava_next_video" else {}
        cfg_cls = tf.LlavaNextVideoConfig if extra else tf.LlavaNextConfig
        cfg = cfg_cls(vision_config=_clip(), text_config=text, image_token_index=image_id, image_grid_pinpoints=[[IMG, IMG]],
                      vision_feature_select_strategy="default", vision_feature_layer=-2, image_seq_length=16, **extra)
        ip = tf.LlavaNextImageProcessor(size={"shortest_edge": IMG}, crop_size=crop, image_grid_pinpoints=[[IMG, IMG]])
        common = dict(image_processor=ip, tokenizer=tok, patch_size=PATCH, vision_feature_select_strategy="default",
                      num_additional_image_tokens=1)
        if extra:
            proc = tf.LlavaNextVideoProcessor(video_processor=tf.LlavaNextVideoVideoProcessor(size={"shortest_edge": IMG},
                                                                                             crop_size=crop), **common)
            model_cls = tf.LlavaNextVideoForConditionalGeneration
        else:
            proc, model_cls = tf.LlavaNextProcessor(**common), tf.LlavaNextForConditionalGeneration
    elif model_type == "vipllava":
        cfg = tf.VipLlavaConfig(vision_config=_clip(5), text_config=text, image_token_index=image_id,
                                vision_feature_layers=[-2, -5, -3, -1, -4], image_seq_length=16)
        proc = tf.LlavaProcessor(image_processor=tf.CLIPImageProcessor(size={"shortest_edge": IMG}, crop_size=crop),
                                 tokenizer=tok, patch_size=PATCH, vision_feature_select_strategy="full",
                                 num_additional_image_tokens=0)
        model_cls = tf.VipLlavaForConditionalGeneration
    elif model_type == "video_llava":
        cfg = tf.VideoLlavaConfig(vision_config=_clip(), text_config=text, image_token_index=image_id,
                                  video_token_index=tok.convert_tokens_to_ids("<video>"),
                                  vision_feature_select_strategy="default", vision_feature_layer=-2, image_seq_length=16,
                                  video_seq_length=16 * 8)
        proc = tf.VideoLlavaProcessor(
            image_processor=tf.VideoLlavaImageProcessor(size={"shortest_edge": IMG}, crop_size=crop),
            video_processor=tf.VideoLlavaVideoProcessor(size={"shortest_edge": IMG}, crop_size=crop),
            tokenizer=tok, patch_size=PATCH, vision_feature_select_strategy="default", num_additional_image_tokens=1)
        model_cls = tf.VideoLlavaForConditionalGeneration
    else:
        raise ValueError(f"llava_style has no tiny build for {model_type!r}.")
    torch.manual_seed(seed)
    return finish(model_cls(cfg), model_type, seed), proc


FAMILY = register_family(Family(
    name="llava_style",
    model_types=tuple(TINY),
    adapter=DeclaredAdapter,
    text_only=False,
    build_tiny=build_tiny,
    tiny=TINY,
    suggested={"llava-hf/llava-v1.6-mistral-7b-hf": "llava_next (LLaVA-NeXT)",
               "llava-hf/LLaVA-NeXT-Video-7B-hf": "llava_next_video",
               "llava-hf/vip-llava-7b-hf": "vipllava",
               "LanguageBind/Video-LLaVA-7B-hf": "video_llava"},
))
