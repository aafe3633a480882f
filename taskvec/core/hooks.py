"""The only module that registers forward hooks.

Every hook lives inside ``intervene(...)``: registered on enter, removed in ``finally`` —
also when a registration in the middle fails or the model raises. Residual layer ``l``
(see docs/ARCHITECTURE.md) is the input of decoder layer 0 for ``l = 0`` (a pre-hook)
and the output of decoder layer ``l - 1`` otherwise (a forward hook). An adapter whose model
does something between decoder layers declares where its residual layers are instead, as
``ResidualSites`` (``adapter.residual_sites``): the input of decoder layer ``l`` for ``l < L``
(Qwen3-VL's DeepStack adds visual features after early layers), and/or a view of the hidden
state the layers pass as one (B, T, D) tensor (Gemma 3n's AltUp passes K parallel streams).

Three kinds of intervention, all at residual layers:

- ``Edit(layer, fn)``: ``fn(hidden (B, T, D)) -> hidden`` on the selected forward calls;
- ``Patch``: the common edit — replace or add a vector at positions (built on ``Edit``'s path);
- ``Capture``: record positions of one forward call.

Beside them, ``growing_row(sites, lengths, grow)`` runs decoder layer m on the row's first
``lengths[m]`` positions only (positions join the forward at a residual layer; the joined sweep).

``calls`` selects forward calls by index within the block: ``"first"`` (call 0, the
prefill of ``generate``; KV-cached steps then run unpatched, the cache keeping the patched
keys/values), ``"all"``, or a set of indices. ``intervene`` yields an ``Intervention``
that records, per residual layer, the calls seen and the calls edited; on normal exit it
raises ``LayerNotRunError`` if a requested layer never ran.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Sequence, Union

import torch
from torch import nn

from taskvec.errors import LayerError, LayerNotRunError, PatchError, PositionError, VectorShapeError

Calls = Union[str, Iterable[int]]  # "first" | "all" | call indices (0 = the first call)


def _check_calls(calls: Calls, what: str) -> str | frozenset[int]:
    """``calls`` normalised: "first", "all" or a non-empty frozenset of call indices >= 0."""
    if isinstance(calls, str):
        if calls in ("first", "all"):
            return calls
        raise PatchError(
            f"The {what}'s calls must be 'first', 'all' or a set of call indices (0 = the first forward "
            f"call, the prefill of generate); got {calls!r}."
        )
    try:
        idx = frozenset(calls)
    except TypeError:
        raise PatchError(f"The {what}'s calls must be 'first', 'all' or a set of ints; got {calls!r}.") from None
    if not idx or not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in idx):
        raise PatchError(
            f"The {what}'s call indices must be a non-empty set of ints >= 0 (0 = the first forward call); "
            f"got {calls!r}."
        )
    return idx


def _selected(calls: str | frozenset[int], i: int) -> bool:
    return calls == "all" or (calls == "first" and i == 0) or (isinstance(calls, frozenset) and i in calls)


@dataclass(frozen=True, eq=False)
class Edit:
    """Apply ``fn(hidden (B, T, D)) -> hidden (B, T, D)`` at residual layer ``layer`` on ``calls``.

    ``fn`` must return a tensor of the same shape; returning its input unchanged is a no-op.
    """

    layer: int
    fn: Callable[[torch.Tensor], torch.Tensor]
    calls: Calls = "first"

    def __post_init__(self) -> None:
        if not callable(self.fn):
            raise PatchError(f"An Edit's fn must be a callable hidden -> hidden; got {type(self.fn).__name__}.")
        _check_calls(self.calls, "edit")


@dataclass(frozen=True, eq=False)
class Patch:
    """Write ``vector`` into residual layer ``layer`` at ``position`` on ``calls``.

    ``position``: one int for every patched row, or a (R,) tensor of per-row positions.
    ``vector``: (D,) for every row, or (R, D) per row. ``rows``: the batch rows to patch, (R,)
    (None = all). ``mode``: "replace" overwrites, "add" adds ``scale * vector``. ``calls``:
    "first" (default; the prefill of ``generate``), "all", or a set of call indices.
    """

    layer: int
    position: int | torch.Tensor
    vector: torch.Tensor
    mode: str = "replace"
    scale: float = 1.0
    rows: torch.Tensor | None = None
    calls: Calls = "first"

    def __post_init__(self) -> None:
        if self.mode not in ("replace", "add"):
            raise PatchError(
                f"Patch mode must be 'replace' (overwrite the residual) or 'add' (add scale * vector); "
                f"got {self.mode!r}."
            )
        if not torch.is_tensor(self.vector) or self.vector.dim() not in (1, 2):
            shape = tuple(self.vector.shape) if torch.is_tensor(self.vector) else type(self.vector).__name__
            raise VectorShapeError(f"A patch vector must be a (D,) or (R, D) tensor; got {shape}.")
        if not isinstance(self.position, int) and not (torch.is_tensor(self.position) and self.position.dim() <= 1):
            raise PositionError(
                f"A patch position must be an int or a (R,) tensor of per-row positions; got {self.position!r}."
            )
        _check_calls(self.calls, "patch")


@dataclass(eq=False)
class Capture:
    """Record residual layers ``layers`` at ``positions`` of forward call ``call``.

    ``positions``: (B, P) per batch row (``rows`` None); with ``rows`` (R,): (R,) or (R, K)
    positions of those rows. After the block, ``store[l]`` holds ``hidden[rows, positions]``
    — (B, P, D), (R, D) or (R, K, D) — for every requested ``l`` (keyed as requested).
    ``detach``: True for analysis; False keeps the autograd graph (training).
    """

    layers: Sequence[int]
    positions: torch.Tensor
    rows: torch.Tensor | None = None
    call: int = 0
    detach: bool = True
    store: dict[int, torch.Tensor] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not torch.is_tensor(self.positions) or self.positions.dim() < 1:
            raise PositionError(f"Capture positions must be a (B, P) or (R, ...) tensor; got {self.positions!r}.")
        if self.rows is not None and (self.rows.dim() != 1 or self.rows.shape[0] != self.positions.shape[0]):
            raise PositionError(
                f"Capture rows must be (R,) with one entry per row of positions {tuple(self.positions.shape)}; "
                f"got rows of shape {tuple(self.rows.shape)}."
            )
        if not isinstance(self.call, int) or self.call < 0:
            raise PatchError(f"A capture records one forward call, an int >= 0 (0 = the first); got {self.call!r}.")


@dataclass
class Intervention:
    """What one ``intervene`` block did, filled in while it runs.

    ``requested``: the hooked residual layers; ``calls[l]``: forward calls layer l saw;
    ``patched[l]``: the indices of the calls an edit or patch was applied to.
    """

    requested: tuple[int, ...]
    calls: dict[int, int]
    patched: dict[int, list[int]]

    @property
    def fired(self) -> list[int]:
        """Residual layers that ran at least once."""
        return [l for l in self.requested if self.calls[l] > 0]

    @property
    def never_ran(self) -> list[int]:
        return [l for l in self.requested if self.calls[l] == 0]


@dataclass(frozen=True, eq=False)
class ResidualSites:
    """Where residual layer ``l`` is read and written in a model's forward, and as what tensor.

    ``layers``: the L decoder layers. ``at_input``: False (the default) — residual ``l`` is the
    output of decoder layer ``l - 1`` (``l = 0``: the input of layer 0); True — residual ``l < L``
    is the input of decoder layer ``l`` (a pre-hook), for a model that changes the hidden state
    between two decoder layers, so that a patch is what the next layer receives; ``l = L`` stays
    the output of the last layer. ``view``: the hidden state as the layers pass it -> (B, T, D)
    (None: it already is); ``unview``: its inverse, (B, T, D) -> the layers' form. Edits, patches
    and captures see the view; an edited view is written back through ``unview``.
    """

    layers: nn.ModuleList
    at_input: bool = False
    view: Callable[[torch.Tensor], torch.Tensor] | None = None
    unview: Callable[[torch.Tensor], torch.Tensor] | None = None

    def __post_init__(self) -> None:
        if (self.view is None) != (self.unview is None):
            raise PatchError("ResidualSites takes view and unview (its inverse, to write an edit back), or neither.")

    def __len__(self) -> int:
        return len(self.layers)

    def pre_hooked(self, layer: int) -> bool:
        """Residual ``layer`` is the input of decoder layer ``layer`` (else the output of ``layer - 1``)."""
        return layer == 0 or (self.at_input and layer < len(self.layers))

    def describe(self, layer: int) -> str:
        where = f"input of decoder layer {layer}" if self.pre_hooked(layer) else f"output of decoder layer {layer - 1}"
        return f"{layer} ({where})"


def _hidden_of(output):
    """Decoder layers return a bare tensor (transformers v5) or a tuple (older code)."""
    return output[0] if isinstance(output, tuple) else output


def _with_hidden(output, hidden: torch.Tensor):
    return (hidden,) + tuple(output[1:]) if isinstance(output, tuple) else hidden


def _check_index(idx: torch.Tensor, size: int, what: str, layer: int, call: int, action: str) -> None:
    if idx.numel() and (bool((idx >= size).any()) or bool((idx < -size).any())):
        raise PositionError(
            f"A {action} at residual layer {layer} asks for {what} {idx.tolist()}, but forward call #{call} has "
            f"{size} {what}s (valid: {-size}..{size - 1}). In KV-cached generation steps T = 1: patch only "
            "the first call (calls='first'), or use position -1 or an Edit."
        )


def _btd(hidden: torch.Tensor, layer: int, action: str) -> tuple[int, int, int]:
    """(B, T, D) of a residual, or a PatchError for a hidden state passed in another form."""
    if hidden.dim() != 3:
        raise PatchError(
            f"A {action} at residual layer {layer} found a {tuple(hidden.shape)} tensor, not (B, T, D): this model "
            "passes its hidden state between decoder layers in another form (e.g. stacked streams). Hook it through "
            "the adapter's declared sites, intervene(adapter.residual_sites, ...), not its bare decoder layers."
        )
    return tuple(hidden.shape)


def _write(p: Patch, layer: int, hidden: torch.Tensor, call: int) -> torch.Tensor:
    """``hidden`` (B, T, D) with ``p`` written in (a new tensor)."""
    B, T, D = _btd(hidden, layer, "patch")
    if p.rows is None and isinstance(p.position, int) and p.vector.dim() == 1 and p.vector.shape[0] == D \
            and -T <= p.position < T:  # the common case, one position of every row: no index tensors
        vec = p.vector.to(device=hidden.device, dtype=hidden.dtype).expand(B, D)
        if p.mode == "add":
            vec = hidden.select(1, p.position) + p.scale * vec
        return hidden.select_scatter(vec, 1, p.position % T)  # (B, T, D), a new tensor
    rows = torch.arange(B, device=hidden.device) if p.rows is None else p.rows.to(hidden.device)  # (R,)
    pos = p.position
    pos = torch.full((len(rows),), int(pos), device=hidden.device) if isinstance(pos, int) else pos.to(hidden.device)
    pos = pos.expand(len(rows)) if pos.dim() == 0 else pos  # (R,)
    if p.vector.shape[-1] != D:
        raise VectorShapeError(
            f"Patch vector has hidden size {p.vector.shape[-1]} but layer {layer} has {D}; "
            "use a vector from a model with the same hidden size."
        )
    if pos.shape != rows.shape:
        raise PositionError(
            f"A patch of {len(rows)} rows at residual layer {layer} needs one position per row, ({len(rows)},); "
            f"got positions of shape {tuple(pos.shape)}. Give an int, or one position per patched row."
        )
    if p.vector.dim() == 2 and p.vector.shape[0] != len(rows):
        raise VectorShapeError(
            f"A patch of {len(rows)} rows at residual layer {layer} takes a (D,) vector or one per row, "
            f"({len(rows)}, D); got {tuple(p.vector.shape)}."
        )
    _check_index(rows, B, "row", layer, call, "patch")
    _check_index(pos, T, "position", layer, call, "patch")
    vec = p.vector.to(hidden.dtype).to(hidden.device)  # (D,) or (R, D)
    vec = vec.expand(len(rows), D) if vec.dim() == 1 else vec  # (R, D)
    if p.mode == "replace":
        return hidden.index_put((rows, pos), vec)  # (B, T, D)
    hidden = hidden.clone()
    hidden[rows, pos] = hidden[rows, pos] + p.scale * vec
    return hidden


def _run_edit(e: Edit, layer: int, hidden: torch.Tensor, call: int) -> torch.Tensor:
    out = e.fn(hidden)
    if not torch.is_tensor(out) or out.shape != hidden.shape:
        got = tuple(out.shape) if torch.is_tensor(out) else type(out).__name__
        raise PatchError(
            f"An Edit at residual layer {layer} must return the hidden states' shape {tuple(hidden.shape)} "
            f"(B, T, D); its fn returned {got} on forward call #{call}."
        )
    return out


def _gather(c: Capture, layer: int, hidden: torch.Tensor, call: int) -> torch.Tensor:
    """``hidden[rows, positions]``: (R, ..., D)."""
    B, T, _ = _btd(hidden, layer, "capture")
    pos = c.positions.to(hidden.device)  # (R, ...)
    rows = torch.arange(B, device=hidden.device) if c.rows is None else c.rows.to(hidden.device)  # (R,)
    if pos.shape[0] != len(rows):
        raise PositionError(
            f"A capture at residual layer {layer} has positions for {pos.shape[0]} rows but the batch has {B}; "
            "give (B, P) positions, or rows with one entry per row of positions."
        )
    _check_index(rows, B, "row", layer, call, "capture")
    _check_index(pos, T, "position", layer, call, "capture")
    v = hidden[rows.view(-1, *([1] * (pos.dim() - 1))), pos]  # (R, ..., D)
    return v.detach() if c.detach else v


class _LayerHook:
    """Edits and patches in order, then captures, at one residual layer."""

    def __init__(self, layer: int, log: Intervention, sites: ResidualSites):
        self.layer, self.log, self.sites = layer, log, sites
        self.ops: list[tuple[str | frozenset[int], Callable]] = []  # (calls, apply(hidden, call))
        self.captures: list[tuple[Capture, int]] = []  # (capture, key as requested)

    def process(self, hidden: torch.Tensor) -> torch.Tensor:
        """``hidden`` as the layer passes it, edited (a new tensor) or unchanged (the same object)."""
        if self.sites.view is None:
            return self._process(hidden)
        seen = self.sites.view(hidden)  # (B, T, D)
        out = self._process(seen)
        return hidden if out is seen else self.sites.unview(out)

    def _process(self, hidden: torch.Tensor) -> torch.Tensor:
        i = self.log.calls[self.layer]
        self.log.calls[self.layer] = i + 1
        edited = False
        for calls, apply in self.ops:
            if _selected(calls, i):
                hidden, edited = apply(hidden, i), True  # (B, T, D)
        if edited:
            self.log.patched[self.layer].append(i)
        for c, key in self.captures:
            if c.call == i:
                c.store[key] = _gather(c, self.layer, hidden, i)
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


def _plan(sites: ResidualSites, patches: Sequence[Patch | Edit], captures: Sequence[Capture]):
    """Per-layer hooks for ``patches`` and ``captures``; the caller's objects are only read."""
    n = len(sites)
    by_layer: dict[int, _LayerHook] = {}
    log = Intervention((), {}, {})

    def hook(layer: int) -> _LayerHook:
        return by_layer.setdefault(layer, _LayerHook(layer, log, sites))

    for p in patches:
        if not isinstance(p, (Patch, Edit)):
            raise PatchError(f"intervene takes Patch or Edit objects as patches; got {type(p).__name__}.")
        layer = check_layer(p.layer, n)
        calls = _check_calls(p.calls, "patch")
        run = _write if isinstance(p, Patch) else _run_edit
        hook(layer).ops.append((calls, lambda h, i, p=p, l=layer, run=run: run(p, l, h, i)))
    for c in captures:
        for key in c.layers:
            hook(check_layer(key, n)).captures.append((c, key))
    log.requested = tuple(sorted(by_layer))
    log.calls.update({l: 0 for l in by_layer})
    log.patched.update({l: [] for l in by_layer})
    return by_layer, log


def _check_ran(log: Intervention, hooks: dict[int, _LayerHook], sites: ResidualSites) -> None:
    """Raise ``LayerNotRunError`` for a hooked layer that never ran, or a captured call that never came."""
    missing = log.never_ran
    short = sorted({(l, c.call) for l, h in hooks.items() for c, _ in h.captures if 0 < log.calls[l] <= c.call})
    if not missing and not short:
        return
    msg = ""
    if missing:
        msg = f"Residual layer(s) {', '.join(map(sites.describe, missing))} never ran inside this intervene block. "
    if short:
        msg += "Captures asked for forward calls that never came: " + ", ".join(
            f"layer {l} call #{c} (it ran {log.calls[l]})" for l, c in short) + ". "
    raise LayerNotRunError(
        msg + f"Hooked layers that ran: {log.fired or 'none'} (of 0..{len(sites)}). Nothing was patched or recorded "
        "there: the model's forward skipped that decoder layer (some architectures skip layers, e.g. "
        "cross-attention layers when there is no image) or no forward ran in the block. Pick a layer that "
        "runs for this input, or run the model inside the block."
    )


@contextmanager
def intervene(
    decoder_layers: ResidualSites | nn.ModuleList,
    patches: Sequence[Patch | Edit] = (),
    captures: Sequence[Capture] = (),
) -> Iterator[Intervention]:
    """Scope in which ``patches`` (``Patch``/``Edit``, applied in order) are written and
    ``captures`` recorded; yields the ``Intervention`` record. Hooks are always removed; on
    normal exit a requested layer that never ran raises ``LayerNotRunError`` (an exception
    raised inside the block propagates unchanged).

    ``decoder_layers``: the adapter's ``residual_sites`` (where its residual layers are), or a
    plain ModuleList of decoder layers (residual l = the output of layer l - 1)."""
    sites = decoder_layers if isinstance(decoder_layers, ResidualSites) else ResidualSites(decoder_layers)
    layers = sites.layers
    hooks, log = _plan(sites, patches, captures)
    handles = []
    try:
        for layer, hook in sorted(hooks.items()):
            if sites.pre_hooked(layer):
                handles.append(layers[layer].register_forward_pre_hook(hook.pre_hook, with_kwargs=True))
            else:
                handles.append(layers[layer - 1].register_forward_hook(hook.post_hook))
        yield log
    finally:
        for h in handles:
            h.remove()
    _check_ran(log, hooks, sites)


# keyword inputs of a decoder layer that hold one entry per position, and the axes to cut
_PER_POSITION = {"attention_mask": (-2, -1), "position_ids": (-1,), "cache_position": (-1,), "text_position_ids": (-1,)}


def _cut_plan(name: str, value, T: int, layer: int):
    """How to cut ``value`` (a decoder layer's keyword input for a T-position row) to its first positions:
    None (it does not span the row), ("each", axes) for a tuple of tensors, or axes; PatchError if unknown."""
    if isinstance(value, (tuple, list)) and name.startswith("position_embeddings"):  # rotary (cos, sin): (..., T, d)
        for v in value:
            _check_axes(name, v, T, (-2,), layer)
        return ("each", (-2,))
    if name in _PER_POSITION and torch.is_tensor(value):
        return _check_axes(name, value, T, _PER_POSITION[name], layer)
    spans = torch.is_tensor(value) and T in value.shape or isinstance(value, (tuple, list, dict))
    if spans and name not in ("past_key_values", "past_key_value"):
        raise PatchError(
            f"Decoder layer {layer} takes the keyword input {name!r} ({_shape(value)}), which growing_row does not "
            f"know how to cut to the positions the layer runs on. This model cannot run a growing row: declare "
            "joins_copies = False on its adapter (its sweeps then pack every copy through every layer)."
        )
    return None


def _shape(value) -> str:
    return f"shape {tuple(value.shape)}" if torch.is_tensor(value) else type(value).__name__


def _check_axes(name: str, value, T: int, axes: tuple[int, ...], layer: int) -> tuple[int, ...]:
    if not torch.is_tensor(value) or value.dim() < len(axes) or any(value.shape[a] != T for a in axes):
        raise PatchError(
            f"Decoder layer {layer}'s keyword input {name!r} should span the row's {T} positions on axes {axes}; "
            f"got {_shape(value)}. This model cannot run a growing row: declare joins_copies = False on its adapter."
        )
    return axes


def _narrow(value: torch.Tensor, axes: tuple[int, ...], A: int) -> torch.Tensor:
    for a in axes:
        value = value.narrow(a, 0, A)
    return value


def _apply_cut(value, plan, A: int):
    if plan is None:
        return value
    if plan[0] == "each":
        return type(value)(_narrow(v, plan[1], A) for v in value)
    return _narrow(value, plan, A)


class _Growth:
    """The hooks of one ``growing_row`` block: cut, grow, and count the calls of every decoder layer."""

    def __init__(self, n: int, lengths: list[int], grow: Callable[[int, torch.Tensor], torch.Tensor]):
        self.lengths, self.grow, self.full = lengths, grow, lengths[-1]
        self.calls = [0] * (n + 1)  # residual layers 0..L
        self.plans: dict = {}  # keyword input name -> (the value checked, how to cut it)

    def _count(self, residual: int) -> None:
        self.calls[residual] += 1
        if self.calls[residual] > 1:
            raise PatchError(
                f"growing_row runs ONE forward call; residual layer {residual} ran twice in the block (a generate "
                "loop or a second model call). Run a single forward inside growing_row."
            )

    def _checked(self, residual: int, hidden: torch.Tensor) -> torch.Tensor:
        want = self.lengths[residual]
        if hidden.dim() != 3 or hidden.shape[1] != want:
            raise PatchError(
                f"growing_row: residual layer {residual} should hold {want} positions; got a hidden state of shape "
                f"{tuple(hidden.shape)} (the grow function must return (B, {want}, D))."
            )
        return hidden

    def pre_hook(self, layer: int, module, args, kwargs):
        hidden = args[0] if args else kwargs["hidden_states"]
        if layer == 0:
            self._count(0)
            if hidden.dim() != 3 or hidden.shape[1] != self.full:
                raise PatchError(f"growing_row expected the row's {self.full} embeddings at decoder layer 0; got a "
                                 f"hidden state of shape {tuple(hidden.shape)}.")
            hidden = hidden[:, : self.lengths[0]]
        A = hidden.shape[1]
        for i, v in enumerate(args[1:], 1):
            if torch.is_tensor(v) and self.full in v.shape:
                raise PatchError(
                    f"Decoder layer {layer} takes a positional input #{i} ({_shape(v)}) spanning the row; growing_row "
                    "cuts keyword inputs by name only. Call the layers with keyword inputs, or declare "
                    "joins_copies = False on the adapter.")
        cut = {}
        for k, v in kwargs.items():
            if k == "hidden_states":
                continue
            known = self.plans.get(k)  # the layers share their inputs: each is checked once
            if known is None or known[0] is not v:
                known = self.plans[k] = (v, _cut_plan(k, v, self.full, layer))
            cut[k] = _apply_cut(v, known[1], A)
        kwargs = cut
        if args:
            return (hidden,) + tuple(args[1:]), kwargs
        return args, {**kwargs, "hidden_states": hidden}

    def post_hook(self, layer: int, module, args, output):
        residual = layer + 1
        self._count(residual)
        hidden = _hidden_of(output)
        if hidden.shape[1] != self.lengths[layer]:
            raise PatchError(f"growing_row: decoder layer {layer} returned {hidden.shape[1]} positions for an input "
                             f"of {self.lengths[layer]}.")
        if self.lengths[residual] == hidden.shape[1]:
            return output
        return _with_hidden(output, self._checked(residual, self.grow(residual, hidden)))


@contextmanager
def growing_row(sites: ResidualSites | nn.ModuleList, lengths: Sequence[int],
                grow: Callable[[int, torch.Tensor], torch.Tensor]) -> Iterator[None]:
    """Run decoder layer m on the row's first ``lengths[m]`` positions only: positions join the
    forward at a residual layer and skip every layer below it.

    ``lengths``: L+1 non-decreasing ints, the positions residual layer m holds, the last one the
    row's full length T. Residual 0 is the embeddings cut to ``lengths[0]`` (positions joining at
    layer 0 keep their own embeddings); at residual m >= 1, ``grow(m, hidden (B, lengths[m-1], D))``
    returns (B, lengths[m], D), the joining positions appended. Every decoder layer's per-position
    keyword inputs (the 4-D attention mask, position ids, cache positions, rotary embeddings) are
    cut to the positions it runs on; any other keyword input spanning the row raises PatchError
    rather than run wrong. The hooks run before ``intervene``'s at the same layer (they are
    prepended), so a patch at residual m sees the grown row. One forward call per block; the
    standard sites only (residual l = output of decoder layer l - 1, (B, T, D) hidden states).
    """
    sites = sites if isinstance(sites, ResidualSites) else ResidualSites(sites)
    n, lengths = len(sites), [int(x) for x in lengths]
    if sites.at_input or sites.view is not None:
        raise PatchError("growing_row needs the standard residual sites (residual l = the output of decoder layer "
                         "l - 1, a (B, T, D) hidden state); this adapter declares other sites.")
    if len(lengths) != n + 1 or lengths[0] < 1 or any(b < a for a, b in zip(lengths, lengths[1:])):
        raise PatchError(f"growing_row takes L+1 = {n + 1} non-decreasing positive lengths (one per residual layer); "
                         f"got {lengths}.")
    g = _Growth(n, lengths, grow)
    handles = []
    try:
        for layer, module in enumerate(sites.layers):
            handles.append(module.register_forward_pre_hook(
                lambda m, a, k, layer=layer: g.pre_hook(layer, m, a, k), with_kwargs=True, prepend=True))
            handles.append(module.register_forward_hook(
                lambda m, a, o, layer=layer: g.post_hook(layer, m, a, o), prepend=True))
        yield
    finally:
        for h in handles:
            h.remove()
    if 0 in g.calls:
        missing = [l for l, c in enumerate(g.calls) if c == 0]
        raise LayerNotRunError(f"growing_row: residual layer(s) {missing} never ran inside the block; run the model's "
                               "forward (all its decoder layers) inside it.")


def _foreign(hook) -> bool:
    """A hook transformers installs for itself and keeps (its output-capturing hooks, added at the
    first forward that records hidden states, e.g. a vision tower's): not one of ours."""
    return (getattr(hook, "__module__", "") or "").startswith("transformers.")


def hooked_modules(model: nn.Module) -> list[str]:
    """Names of modules that still hold a forward (pre-)hook other than transformers' own
    persistent ones: for tests and sanity checks (no taskvec hook outlives its ``intervene``)."""
    return [
        name
        for name, m in model.named_modules()
        if any(not _foreign(h) for h in (*m._forward_hooks.values(), *m._forward_pre_hooks.values()))
    ]
