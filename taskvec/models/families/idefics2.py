"""Idefics2 (the paper's best model): laid out like Idefics3, a perceiver resampler; image splitting off."""

from __future__ import annotations

import torch

from taskvec.models.families.idefics3 import NO_SPLITTING, Idefics3Adapter
from taskvec.models.registry import Family, TinySpec, register_family


class Idefics2Adapter(Idefics3Adapter):
    family = "idefics2"


TINY = {
    "idefics2": TinySpec(3, (
        "<image> expands to <fake_token_around_image> + 4x<image> (perceiver latents) + "
        "<fake_token_around_image>; SentencePiece-like tokenizer (<s>, then '▁' before the text, and "
        "a '▁' again after each special token, as legacy Llama/Mistral tokenizers do)."
    )),
}


def build_tiny(model_type: str, seed: int):
    """(tiny random Idefics2 model, its processor)."""
    from transformers import (Idefics2Config, Idefics2ForConditionalGeneration, Idefics2ImageProcessor,
                              Idefics2Processor)

    from taskvec.testing.builders import HEADS, HIDDEN, INTER, finish, llama_like_text, spm_like_tokenizer, vocab_size

    img, patch, latents = 28, 7, 4
    tok = spm_like_tokenizer(pieces=[], add_bos=True,
                             specials=["<fake_token_around_image>", "<image>", "<end_of_utterance>"])
    vocab = vocab_size(tok)
    cfg = Idefics2Config(
        vision_config=dict(hidden_size=HIDDEN, intermediate_size=INTER, num_hidden_layers=2,
                           num_attention_heads=HEADS, image_size=img, patch_size=patch),
        perceiver_config=dict(hidden_size=HIDDEN, resampler_n_latents=latents, resampler_depth=1,
                              resampler_n_heads=HEADS, resampler_head_dim=16, num_key_value_heads=1),
        text_config=llama_like_text(TINY[model_type].layers, vocab, tok, sliding_window=None),
        image_token_id=tok.convert_tokens_to_ids("<image>"),
    )
    proc = Idefics2Processor(
        image_processor=Idefics2ImageProcessor(size={"shortest_edge": img, "longest_edge": img},
                                               do_image_splitting=False),
        tokenizer=tok,
        image_seq_len=latents,
    )
    torch.manual_seed(seed)
    return finish(Idefics2ForConditionalGeneration(cfg), model_type, seed), proc


FAMILY = register_family(Family(
    name="idefics2",
    model_types=("idefics2",),
    adapter=Idefics2Adapter,
    text_only=False,
    build_tiny=build_tiny,
    tiny=TINY,
    suggested={"HuggingFaceM4/idefics2-8b": "idefics2 (the paper's best)"},
    processor_kwargs=NO_SPLITTING,
))
