"""Gemma 3 text-only models (``gemma3_text``: Gemma 3 270M and 1B, ``Gemma3ForCausalLM``).

The facts shared with the Gemma 3 VLM (scaled embeddings, sliding-window layers, the softcap
applied exactly when the model's forward applies it) live in ``gemma3.py``; offline real
weights: ``gemma3-270m`` (``taskvec.models.gguf``).
"""

from __future__ import annotations

import torch

from taskvec.models.families.gemma3 import Gemma3Adapter
from taskvec.models.registry import Family, TinySpec, register_family


class Gemma3TextAdapter(Gemma3Adapter):
    """Gemma 3 text-only models (``gemma3_text``: Gemma 3 270M / 1B, Gemma3ForCausalLM): decoder layers at
    ``model.layers``, scaled embeddings, the softcap applied by the model's forward."""

    family = "gemma3-text"
    image_placeholder = None
    image_token_names = ()
    images_nested = False


TINY_TEXT = {
    "gemma3_text": TinySpec(3, (
        "Text-only Gemma3ForCausalLM (the architecture of Gemma 3 270M and 1B): same byte-level tokenizer as the "
        "tiny Gemma 3 VLM (prepends <bos>); scaled embeddings; layers 0-1 sliding (window 64), the last full."
    )),
}


def build_tiny_text(model_type: str, seed: int):
    """(tiny random Gemma3ForCausalLM, its tokenizer)."""
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    from taskvec.testing.builders import byte_level_tokenizer, finish, llama_like_text, vocab_size

    tok = byte_level_tokenizer(bos="<bos>", eos="<eos>", pad="<pad>", unk="<unk>", add_bos=True,
                               specials=["<start_of_turn>", "<end_of_turn>"])
    n = TINY_TEXT[model_type].layers
    cfg = Gemma3TextConfig(**llama_like_text(n, vocab_size(tok), tok, head_dim=16, query_pre_attn_scalar=16,
                                             sliding_window=64, tie_word_embeddings=True,
                                             layer_types=["sliding_attention"] * (n - 1) + ["full_attention"]))
    torch.manual_seed(seed)
    return finish(Gemma3ForCausalLM(cfg), model_type, seed), tok


FAMILY = register_family(Family(
    name="gemma3_text",
    model_types=("gemma3_text",),
    adapter=Gemma3TextAdapter,
    text_only=True,
    build_tiny=build_tiny_text,
    tiny=TINY_TEXT,
    suggested={"google/gemma-3-270m-it": "gemma3_text (text only; offline: `gemma3-270m`)"},
))
