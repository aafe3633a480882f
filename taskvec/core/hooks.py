"""The only module that registers forward hooks.

Every hook lives inside ``intervene(...)``: registered on enter, removed in ``finally`` —
also when a registration in the middle fails or the model raises. Residual layer ``l``
(see docs/ARCHITECTURE.md) is the input of decoder layer 0 for ``l = 0`` (a pre-hook)
and the output of decoder layer ``l - 1`` otherwise (a forward hook).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import torch
from torch import nn

from taskvec.errors import LayerError, VectorShapeError


@dataclass
class Patch:
    """Write ``vector`` into residual layer ``layer`` at ``position``.

    ``position``: one int for every batch row, or a (B,) tensor of per-row positions.
    ``vector``: (D,) for every row, or (B, D) per row. ``rows``: the batch rows to patch
    (None = all). ``mode``: "replace" overwrites, "add" adds ``scale * vector``.
    ``prefill_only``: apply on the first forward call only (the prefill of ``generate``;
    later KV-cached steps run unpatched, and the cache keeps the patched keys/values).
    """

    layer: int
    position: int | torch.Tensor
    vector: torch.Tensor
    mode: str = "replace"
    scale: float = 1.0
    rows: torch.Tensor | None = None
    prefill_only: bool = True

    def __post_init__(self) -> None:
        if self.mode not in ("replace", "add"):
            raise ValueError(f"Patch mode must be 'replace' or 'add', got {self.mode!r}.")
        if self.vector.dim() not in (1, 2):
            raise VectorShapeError(
                f"A patch vector must be (D,) or (B, D); got shape {tuple(self.vector.shape)}."
            )


@dataclass
class Capture:
    """Record residual layers ``layers`` at ``positions`` (B, P) (a gather per row).

    After the run, ``store[l]`` is a (B, P, D) tensor for every requested layer ``l``.
    Only the first forward call is recorded (a prefill), like patches.
    """

    layers: Sequence[int]
    positions: torch.Tensor  # (B, P) long
    store: dict[int, torch.Tensor] = field(default_factory=dict)


def _hidden_of(output):
    """Decoder layers return a bare tensor (transformers v5) or a tuple (older code)."""
    return output[0] if isinstance(output, tuple) else output


def _with_hidden(output, hidden: torch.Tensor):
    return (hidden,) + tuple(output[1:]) if isinstance(output, tuple) else hidden


def _apply(hidden: torch.Tensor, patches: list[Patch]) -> torch.Tensor:
    """Return ``hidden`` (B, T, D) with every patch written in (a new tensor)."""
    if not patches:
        return hidden
    hidden = hidden.clone()
    B, T, D = hidden.shape
    for p in patches:
        rows = torch.arange(B, device=hidden.device) if p.rows is None else p.rows.to(hidden.device)
        pos = p.position
        pos = torch.full((len(rows),), int(pos), device=hidden.device) if isinstance(pos, int) else pos.to(hidden.device)
        if p.vector.shape[-1] != D:
            raise VectorShapeError(
                f"Patch vector has hidden size {p.vector.shape[-1]} but layer {p.layer} has {D}; "
                "use a vector from a model with the same hidden size."
            )
        if bool((pos >= T).any()) or bool((pos < -T).any()):
            raise IndexError(f"Patch position {pos.tolist()} outside a sequence of length {T}.")
        vec = p.vector.to(hidden.dtype).to(hidden.device)  # (D,) or (B, D)
        vec = vec.expand(len(rows), D) if vec.dim() == 1 else vec
        if p.mode == "replace":
            hidden[rows, pos] = vec
        else:
            hidden[rows, pos] = hidden[rows, pos] + p.scale * vec
    return hidden


class _LayerHook:
    """Patches, then captures, at one residual layer."""

    def __init__(self, layer: int, patches: list[Patch], captures: list[Capture]):
        self.layer, self.patches, self.captures, self.calls = layer, patches, captures, 0

    def process(self, hidden: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        active = [p for p in self.patches if not (p.prefill_only and self.calls > 1)]
        hidden = _apply(hidden, active)
        if self.calls == 1:
            for c in self.captures:
                pos = c.positions.to(hidden.device)  # (B, P)
                rows = torch.arange(hidden.shape[0], device=hidden.device)[:, None]
                c.store[self.layer] = hidden[rows, pos].detach()  # (B, P, D)
        return hidden

    def pre_hook(self, module, args, kwargs):
        if args:
            return (self.process(args[0]),) + tuple(args[1:]), kwargs
        kwargs = dict(kwargs)
        kwargs["hidden_states"] = self.process(kwargs["hidden_states"])
        return args, kwargs

    def post_hook(self, module, args, output):
        return _with_hidden(output, self.process(_hidden_of(output)))


def check_layer(layer: int, n_layers: int) -> int:
    """Validate a residual layer index in 0..n_layers (negative counts from the end)."""
    if not isinstance(layer, int) or isinstance(layer, bool):
        raise LayerError(f"A layer must be an integer, got {layer!r}.")
    if not -(n_layers + 1) <= layer <= n_layers:
        raise LayerError(
            f"Layer {layer} is out of range: this model has residual layers 0..{n_layers} "
            f"(0 = embeddings, {n_layers} = last decoder layer). Pick one in that range."
        )
    return layer % (n_layers + 1)


@contextmanager
def intervene(
    decoder_layers: nn.ModuleList,
    patches: Sequence[Patch] = (),
    captures: Sequence[Capture] = (),
) -> Iterator[None]:
    """Scope in which ``patches`` are written and ``captures`` recorded; always cleaned up."""
    n = len(decoder_layers)
    by_layer: dict[int, _LayerHook] = {}
    for p in patches:
        p.layer = check_layer(p.layer, n)
        by_layer.setdefault(p.layer, _LayerHook(p.layer, [], [])).patches.append(p)
    for c in captures:
        for layer in c.layers:
            layer = check_layer(layer, n)
            by_layer.setdefault(layer, _LayerHook(layer, [], [])).captures.append(c)
    handles = []
    try:
        for layer, hook in sorted(by_layer.items()):
            if layer == 0:
                handles.append(decoder_layers[0].register_forward_pre_hook(hook.pre_hook, with_kwargs=True))
            else:
                handles.append(decoder_layers[layer - 1].register_forward_hook(hook.post_hook))
        yield
    finally:
        for h in handles:
            h.remove()


def hooked_modules(model: nn.Module) -> list[str]:
    """Names of modules that still hold a forward (pre-)hook: for tests and sanity checks."""
    return [
        name
        for name, m in model.named_modules()
        if m._forward_hooks or m._forward_pre_hooks
    ]
