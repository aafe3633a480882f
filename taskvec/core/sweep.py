"""Patch a query at every layer: the batched ``layer_sweep`` and its reference ``naive_sweep``.

``layer_sweep`` computes the first-token distribution for a patch at every layer in as few
model calls as the family allows: families that take a 4-D attention mask run the prefix and
all patched copies of the suffix in ONE forward, each copy from its patch layer up only (below
it a copy is the unpatched suffix); with more copies than ``max_batch`` the prefix
is cached once and the copies packed over it; other families repeat the prefix's KV cache along
the batch. ``naive_sweep`` is one full forward per layer (the reference: tests, benchmark).
"""

from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import torch

if TYPE_CHECKING:  # the adapter interface lives in taskvec.models (which builds on core)
    from taskvec.models.base import Adapter

from taskvec.core.hooks import Patch, check_layer, growing_row, intervene
from taskvec.core.patching import check_vector, first_token_logits, make_patch
from taskvec.core.prompts import Prompt
from taskvec.errors import VectorShapeError


@dataclass
class Sweep:
    """First-token distributions of a query patched at each of ``layers``.

    ``logits``: (n_layers_swept, V) float32; ``layers``: residual layer of each row.
    """

    layers: list[int]
    logits: torch.Tensor

    def probs(self) -> torch.Tensor:
        return torch.softmax(self.logits, -1)  # (N, V)

    def prob_of(self, token_id: int) -> list[float]:
        return self.probs()[:, token_id].tolist()


def _sweep_args(adapter: Adapter, vectors: torch.Tensor, layers: Sequence[int] | None):
    """Checked layers to sweep and the (L+1, D) vector of each residual layer."""
    check_vector(adapter, vectors, "sweep vectors")
    L = adapter.n_layers
    layers = list(range(L + 1)) if layers is None else [check_layer(l, L) for l in layers]
    per_layer = vectors if vectors.dim() == 2 else vectors.expand(L + 1, -1)
    if per_layer.shape[0] != L + 1:
        raise VectorShapeError(f"Sweep vectors must be (L+1={L + 1}, D); got {tuple(vectors.shape)}.")
    return layers, per_layer


def layer_sweep(adapter: Adapter, prompt: Prompt, vectors: torch.Tensor, layers: Sequence[int] | None = None,
                mode: str = "replace", scale: float = 1.0, max_batch: int = 64) -> Sweep:
    """Patch ``vectors[l]`` at layer l (for every l in ``layers``) at the query's delimiter.

    ``vectors``: (L+1, D), one vector per residual layer (a task vector), or (D,) for the
    same vector everywhere. Strategy, chosen by the family's declared capability
    (``adapter.packed_sweep``: it takes a custom 4-D attention mask):
    - one pass: ``prefix | copy_0 | ... | copy_n`` in one row, each copy of the tokens from the
      delimiter on seeing the prefix and itself; each copy joins at its patch layer where the
      adapter declares ``joined_sweep``, else runs every layer (``_sweep_one_pass``);
    - more copies than ``max_batch``: the prefix cached once, the copies packed over it per chunk;
    - families without 4-D masks: the prefix cache repeated once per copy along the batch;
    - no declared causal prefix (``adapter.causal_prefix`` False: an unverified architecture):
      the exact per-layer loop, ``naive_sweep``.
    Every strategy equals ``naive_sweep`` (tests/core/test_invariants.py).
    """
    if not adapter.causal_prefix:  # a prefix cache is only valid if later tokens cannot change earlier ones
        return naive_sweep(adapter, prompt, vectors, layers, mode, scale)
    layers, per_layer = _sweep_args(adapter, vectors, layers)
    enc = adapter.encode([prompt])
    d, end = int(enc.delimiters[0]), int(enc.lengths[0])
    pos_ids = adapter.position_ids(enc)  # None or (..., 1, T)
    chunks = [layers[i:i + max_batch] for i in range(0, len(layers), max_batch)]
    with torch.no_grad():
        if adapter.packed_sweep and d > 0 and len(chunks) == 1:  # prefix and copies in ONE forward
            return Sweep(layers, _sweep_one_pass(adapter, enc, d, end, pos_ids, layers, per_layer, mode, scale,
                                                 join=adapter.joined_sweep))
        prefix_cache = None
        if d > 0:
            pre = adapter.slice_positions(enc, 0, d)
            if pos_ids is not None:
                pre["position_ids"] = pos_ids[..., :d]
            prefix_cache = adapter.logits_at(pre, 1, use_cache=True)[0].past_key_values  # logits unread
        if adapter.packed_sweep and prefix_cache is not None:
            logits = [_sweep_packed(adapter, enc, d, end, pos_ids, prefix_cache, chunk, per_layer, mode, scale)
                      for chunk in chunks]
        else:
            logits = [_sweep_step(adapter, enc, d, end, pos_ids, prefix_cache, chunk, per_layer, mode, scale,
                                  copy_cache=len(chunks) > 1) for chunk in chunks]
    return Sweep(layers, torch.cat(logits))


def _copies_mask(d: int, s: int, n: int, dtype: torch.dtype, with_prefix_rows: bool) -> torch.Tensor:
    """Additive mask: the prefix (``d`` tokens, causal) and ``n`` copies of an ``s``-token suffix, each
    copy seeing the prefix and itself (causal) only. (1, 1, rows, d + n*s); rows = d + n*s or n*s."""
    blocks = torch.block_diag(*[torch.ones(s, s).tril()] * n).bool()  # (n*s, n*s)
    allowed = torch.cat([torch.ones(n * s, d, dtype=torch.bool), blocks], 1)  # (n*s, d + n*s)
    if with_prefix_rows:
        prefix = torch.cat([torch.ones(d, d).tril().bool(), torch.zeros(d, n * s, dtype=torch.bool)], 1)
        allowed = torch.cat([prefix, allowed], 0)  # (d + n*s, d + n*s)
    mask = torch.zeros(allowed.shape, dtype=dtype).masked_fill(~allowed, torch.finfo(dtype).min)
    return mask[None, None]


def _one_row(adapter, enc, d, end, pos_ids, n: int) -> dict:
    """Model inputs for ``prefix | copy_0 | ... | copy_{n-1}`` (copies of the tokens from the delimiter on):
    each copy sees the prefix and itself (4-D mask) and has the suffix's own position ids; image
    inputs ride along with the prefix."""
    s = end - d
    full = adapter.slice_positions(enc, 0, end)
    for k, v in full.items():
        if k == "input_ids" or (k in adapter.per_position_keys and k != "attention_mask"):
            full[k] = torch.cat([v[:, :d], v[:, d:end].repeat(1, n)], 1)  # (1, d + n*s)
    full["attention_mask"] = _copies_mask(d, s, n, adapter.dtype, True).to(adapter.device)
    if pos_ids is not None:
        reps = [1] * (pos_ids.dim() - 1) + [n]
        full["position_ids"] = torch.cat([pos_ids[..., :d], pos_ids[..., d:end].repeat(*reps)], -1)
    else:
        full["position_ids"] = torch.cat([torch.arange(d), torch.arange(d, end).repeat(n)])[None].to(adapter.device)
    return full


def _sweep_one_pass(adapter, enc, d, end, pos_ids, layers, per_layer, mode, scale, join: bool):
    """The prefix and every patched copy of the suffix in ONE forward (no cache, one model call).

    The row is ``prefix | copy_0 | ... | copy_{n-1}`` (``_one_row``); copy i is patched at ``layers[i]``.
    ``join`` (``adapter.joined_sweep``): each copy joins the forward at its patch layer
    (``growing_row``). Below its patch layer a copy is the unpatched suffix, so one copy -- the one
    patched highest, placed first -- runs every layer as the base, and at residual m the copies
    patched at m join as copies of the base's positions (then are patched). The row is then
    ``prefix | base | the others by patch layer``, so residual m holds a prefix of it:
    ``d + s * (1 + #others patched at <= m)`` positions; about half the copy-layers of a full sweep,
    the same numbers.
    """
    n, s = len(layers), end - d
    order, grown = list(range(n)), contextlib.nullcontext()  # row slot -> sweep index
    if join:
        base = max(range(n), key=lambda i: (layers[i], -i))
        order = [base] + sorted((i for i in range(n) if i != base), key=lambda i: layers[i])
        joined = [layers[i] for i in order[1:]]  # non-decreasing
        lengths = [d + s * (1 + sum(l <= m for l in joined)) for m in range(adapter.n_layers + 1)]

        def grow(m: int, hidden: torch.Tensor) -> torch.Tensor:  # (1, A, D) -> (1, lengths[m], D)
            k = (lengths[m] - hidden.shape[1]) // s
            return torch.cat([hidden, *[hidden[:, d:d + s]] * k], 1)

        grown = growing_row(adapter.residual_sites, lengths, grow)
    full = _one_row(adapter, enc, d, end, pos_ids, n)
    patches = [Patch(layers[i], d + slot * s, per_layer[layers[i]], mode=mode, scale=scale) for slot, i in enumerate(order)]
    last = d + torch.arange(n, device=adapter.device) * s + s - 1  # each slot's last token
    with grown, intervene(adapter.residual_sites, patches=patches):
        _, logits = adapter.logits_at(full, last, use_cache=False)
    out = torch.empty_like(logits[0])
    out[torch.tensor(order, device=logits.device)] = logits[0]
    return out.float().cpu()  # (n, V) in the order of ``layers``


def _sweep_packed(adapter, enc, d, end, pos_ids, cache, layers, per_layer, mode, scale):
    """All patched copies of the suffix side by side in ONE row over the shared prefix cache.

    Copy i (tokens ``end - d`` long) sees the prefix and itself only (a 4-D additive mask),
    has the suffix's own position ids, and is patched at layer ``layers[i]``; no cache copies.
    """
    n, s = len(layers), end - d
    step = {k: v.repeat(1, n) for k, v in adapter.slice_positions(enc, d, end).items() if k != "attention_mask"}
    step["attention_mask"] = _copies_mask(d, s, n, adapter.dtype, False).to(adapter.device)  # (1, 1, n*s, d + n*s)
    if pos_ids is not None:
        step["position_ids"] = pos_ids[..., d:end].repeat(*([1] * (pos_ids.dim() - 1)), n)
    else:
        step["position_ids"] = torch.arange(d, end, device=adapter.device).repeat(n)[None]  # (1, n*s)
    patches = [Patch(l, i * s, per_layer[l], mode=mode, scale=scale) for i, l in enumerate(layers)]
    last = torch.arange(n, device=adapter.device) * s + s - 1  # each copy's last token
    try:
        with intervene(adapter.residual_sites, patches=patches):
            _, logits = adapter.logits_at(step, last, past_key_values=cache, use_cache=True)
    finally:
        cache.crop(-n * s)  # back to the prefix for the next chunk
    return logits[0].float().cpu()  # (n, V)


def _sweep_step(adapter, enc, d, end, pos_ids, prefix_cache, layers, per_layer, mode, scale, copy_cache):
    """One batched pass over the tokens from the delimiter on, row i patched at ``layers[i]``."""
    n = len(layers)
    cache = prefix_cache
    if cache is not None:
        cache = copy.deepcopy(cache) if copy_cache else cache
        cache.batch_repeat_interleave(n)
    step = adapter.slice_positions(enc, d, end, rows=n)
    if pos_ids is not None:
        step["position_ids"] = pos_ids[..., d:end].expand(*pos_ids.shape[:-2], n, end - d)
    patches = [Patch(l, 0, per_layer[l], mode=mode, scale=scale, rows=torch.tensor([i])) for i, l in enumerate(layers)]
    with intervene(adapter.residual_sites, patches=patches):
        _, logits = adapter.logits_at(step, 1, past_key_values=cache, use_cache=cache is not None)
    return logits[:, -1].float().cpu()  # (n, V)


def naive_sweep(adapter: Adapter, prompt: Prompt, vectors: torch.Tensor, layers: Sequence[int] | None = None,
                mode: str = "replace", scale: float = 1.0) -> Sweep:
    """The reference: one full forward per layer (for tests and the benchmark)."""
    layers, per_layer = _sweep_args(adapter, vectors, layers)
    rows = [first_token_logits(adapter, prompt, lambda enc, l=l: [make_patch(adapter, enc, per_layer[l], l, mode, scale)])
            for l in layers]
    return Sweep(layers, torch.stack(rows).cpu())
