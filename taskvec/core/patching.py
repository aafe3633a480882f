"""Run a query with a task vector written into its residual stream; batched layer sweeps.

``first_token`` and ``generate`` patch one (layer, position); the model is restored on
exit, also on exceptions (``taskvec.core.hooks.intervene``). Sweeps over layers live in
``taskvec.core.sweep``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataclasses import dataclass, field

import torch

if TYPE_CHECKING:  # the adapter interface lives in taskvec.models (which builds on core)
    from taskvec.models.base import Adapter, Encoded

from taskvec.errors import VectorShapeError
from taskvec.core.hooks import Calls, Patch, check_layer, intervene
from taskvec.core.prompts import Prompt


@dataclass
class TopK:
    """Top-k first tokens: ids, decoded texts and probabilities (descending)."""

    ids: list[int]
    tokens: list[str]
    probs: list[float]

    @classmethod
    def from_logits(cls, adapter: Adapter, logits: torch.Tensor, k: int = 5) -> "TopK":
        p = torch.softmax(logits.float(), -1)  # (V,)
        vals, idx = p.topk(min(k, p.shape[-1]))
        return cls(idx.tolist(), [adapter.decode_token(i) for i in idx.tolist()], vals.tolist())

    def as_dict(self) -> dict:
        return {"tokens": self.tokens, "probs": [round(x, 6) for x in self.probs], "ids": self.ids}


@dataclass
class Generation:
    """A generated answer: its text, token ids, and the first token's top-k."""

    text: str
    token_ids: list[int]
    top: TopK
    first_logits: torch.Tensor = field(repr=False)  # (V,)

    def as_dict(self) -> dict:
        return {"text": self.text, "first_token_top": self.top.as_dict()}


def check_vector(adapter: Adapter, vector: torch.Tensor, what: str = "task vector") -> torch.Tensor:
    """A (D,) vector of this model's hidden size (or (L+1, D) for per-layer vectors)."""
    if not torch.is_tensor(vector):
        raise VectorShapeError(f"The {what} must be a tensor, got {type(vector).__name__}.")
    if vector.shape[-1] != adapter.hidden_size:
        raise VectorShapeError(
            f"The {what} has hidden size {vector.shape[-1]} but {adapter.model_id or adapter.family} has "
            f"{adapter.hidden_size}; vectors transfer only between models of the same width "
            "(e.g. a base LLM and the VLM built on it)."
        )
    return vector


def make_patch(adapter: Adapter, enc: Encoded, vector: torch.Tensor, layer: int, mode: str = "replace",
               scale: float = 1.0, position: int | None = None, calls: Calls = "first") -> Patch:
    """A patch at ``layer`` and each row's delimiter (or ``position``), on forward ``calls``."""
    check_vector(adapter, vector)
    layer = check_layer(layer, adapter.n_layers)
    if vector.dim() == 2:
        if vector.shape[0] != adapter.n_layers + 1:
            raise VectorShapeError(
                f"The task vector has {vector.shape[0]} residual layers but {adapter.model_id or adapter.family} "
                f"has {adapter.n_layers + 1}; patch one layer's (D,) vector, or use a source model with as many layers."
            )
        vector = vector[layer]
    pos = enc.delimiters if position is None else torch.full_like(enc.delimiters, position)
    return Patch(layer, pos, vector, mode=mode, scale=scale, calls=calls)


def first_token_logits(adapter: Adapter, prompt: Prompt, patches_fn=None) -> torch.Tensor:
    """Next-token logits (V,) at the end of ``prompt``; ``patches_fn(enc) -> [Patch]`` adds patches."""
    enc = adapter.encode([prompt])
    patches = patches_fn(enc) if patches_fn else []
    assert int(enc.lengths[0]) == enc.input_ids.shape[1], "one prompt encodes without padding"
    with torch.no_grad(), intervene(adapter.residual_sites, patches=patches):
        _, logits = adapter.logits_at(adapter.full_inputs(enc), 1, use_cache=False)
    return logits[0, -1].float()


def generate(adapter: Adapter, prompt: Prompt, vector: torch.Tensor | None = None, layer: int | None = None,
             mode: str = "replace", scale: float = 1.0, max_new_tokens: int = 8, k: int = 5) -> Generation:
    """Greedy generation from ``prompt``; with ``vector``, patched at ``layer`` in the prefill only."""
    enc = adapter.encode([prompt])
    patches = [] if vector is None else [make_patch(adapter, enc, vector, layer, mode, scale, calls="first")]
    with torch.no_grad(), intervene(adapter.residual_sites, patches=patches):
        out = adapter.model.generate(
            **enc.inputs, max_new_tokens=max_new_tokens, do_sample=False, output_scores=True,
            return_dict_in_generate=True, pad_token_id=adapter.tokenizer.pad_token_id,
        )
    new = out.sequences[0, enc.input_ids.shape[1]:].tolist()
    first = out.scores[0][0].float()  # (V,)
    text = decode_text(adapter.tokenizer, new)
    return Generation(_first_line(text), new, TopK.from_logits(adapter, first, k), first)


def special_ids(tokenizer) -> set[int]:
    """Ids that ``decode(..., skip_special_tokens=True)`` drops: the named special tokens and
    every added token marked special (``all_special_ids`` alone misses the latter in v5)."""
    added = getattr(tokenizer, "added_tokens_decoder", {}) or {}
    return set(tokenizer.all_special_ids) | {i for i, t in added.items() if getattr(t, "special", False)}


def decode_text(tokenizer, ids: list[int]) -> str:
    """``ids`` as text without special tokens; "" when none is left.

    Special and out-of-vocabulary ids are dropped here, before decoding: some ``tokenizers``
    decoders (a ``Strip`` step, as in the organism's) panic on an empty token list, a Rust
    panic that is a ``BaseException`` and escapes ``except Exception``.
    """
    drop, n = special_ids(tokenizer), len(tokenizer)
    kept = [i for i in ids if 0 <= i < n and i not in drop]
    return tokenizer.decode(kept, skip_special_tokens=True) if kept else ""


def _first_line(text: str) -> str:
    """The answer: generation up to the template's example separator (a newline)."""
    return text.split("\n", 1)[0].strip()
