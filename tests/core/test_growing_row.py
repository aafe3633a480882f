"""growing_row: positions that join the forward at a residual layer (the joined one-pass sweep)."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from taskvec.core.hooks import Patch, ResidualSites, growing_row, hooked_modules, intervene  # noqa: E402
from taskvec.core.prompts import icl_prompt, query_prompt  # noqa: E402
from taskvec.core.sweep import layer_sweep, naive_sweep  # noqa: E402
from taskvec.core.vectors import residuals  # noqa: E402
from taskvec.errors import LayerNotRunError, PatchError  # noqa: E402
from taskvec.testing import tiny_adapter  # noqa: E402


class Block(nn.Module):
    """Per-position, with a (B, T) keyword input the way decoder layers take position ids."""

    def __init__(self, d: int):
        super().__init__()
        self.lin = nn.Linear(d, d)

    def forward(self, h, position_ids=None, extra=None):
        out = h + torch.tanh(self.lin(h))  # (B, T, D)
        if position_ids is not None:
            out = out + 0.01 * position_ids[..., None]
        return out if extra is None else out + extra[..., None]


class Stack(nn.Module):
    def __init__(self, n=4, d=8):
        super().__init__()
        torch.manual_seed(0)
        self.layers = nn.ModuleList(Block(d) for _ in range(n))

    def forward(self, h, **kw):
        for layer in self.layers:
            h = layer(h, **kw)
        return h


X = torch.randn(1, 6, 8)  # (B, T, D): 2 "prefix" positions and 4 joiners
POS = torch.arange(6)[None]


def _append_copies(base: int):
    """grow: append copies of position ``base`` up to the residual's length."""
    lengths = [3, 3, 4, 6, 6]

    def grow(m, h):
        return torch.cat([h, h[:, base:base + 1].expand(-1, lengths[m] - h.shape[1], -1)], 1)

    return lengths, grow


def test_a_joining_position_equals_the_full_run_of_the_position_it_copies():
    """Per-position blocks: a position that joins at residual m as a copy of position 2 (same position id)
    ends where position 2 ends; positions running from layer 0 are unchanged; the last layer sees all 6."""
    m = Stack()
    lengths, grow = _append_copies(2)
    pos = torch.tensor([[0, 1, 2, 2, 2, 2]])
    full = m(X[:, [0, 1, 2, 2, 2, 2]], position_ids=pos)
    seen = []
    with growing_row(m.layers, lengths, grow), intervene(m.layers, [Patch(l, -1, torch.zeros(8), mode="add") for l in range(5)]) as run:
        out = m(X, position_ids=pos)
    assert run.fired == [0, 1, 2, 3, 4]
    torch.testing.assert_close(out, full)
    assert hooked_modules(m) == []
    # the joiners really skip the layers below: layer m runs on lengths[m] positions
    handles = [l.register_forward_pre_hook(lambda mod, a, i=i: seen.append((i, a[0].shape[1]))) for i, l in enumerate(m.layers)]
    try:
        with growing_row(m.layers, lengths, grow):
            m(X, position_ids=pos)
    finally:
        for h in handles:
            h.remove()
    assert seen == [(0, 3), (1, 3), (2, 4), (3, 6)]


def test_a_patch_at_the_joining_layer_sees_the_grown_row():
    m = Stack()
    lengths, grow = _append_copies(2)
    v = torch.full((8,), 5.0)
    with growing_row(m.layers, lengths, grow), intervene(m.layers, [Patch(3, 5, v)]) as run:
        m(X, position_ids=POS)  # position 5 exists only from residual 3 on
    assert run.patched == {3: [0]}


def test_bad_lengths_sites_and_grow_are_patch_errors_and_leave_no_hook():
    m = Stack()
    _, grow = _append_copies(2)
    for lengths in ([3, 3, 4, 6], [3, 4, 3, 6, 6], [0, 3, 4, 6, 6]):
        with pytest.raises(PatchError, match="non-decreasing"):
            with growing_row(m.layers, lengths, grow):
                m(X)
    with pytest.raises(PatchError, match="standard residual sites"):
        with growing_row(ResidualSites(m.layers, at_input=True), [3, 3, 4, 6, 6], grow):
            m(X)
    with pytest.raises(PatchError, match=r"should hold 4 positions"):
        with growing_row(m.layers, [3, 3, 4, 6, 6], lambda l, h: h):  # grows nothing
            m(X)
    with pytest.raises(PatchError, match="expected the row's 7 embeddings"):
        with growing_row(m.layers, [3, 3, 4, 7, 7], grow):
            m(X)
    assert hooked_modules(m) == []
    torch.testing.assert_close(m(X), Stack()(X))  # the model runs as before


def test_an_input_it_cannot_cut_is_refused_by_name():
    m = Stack()
    lengths, grow = _append_copies(2)
    with pytest.raises(PatchError, match="'extra'.*joins_copies = False"):
        with growing_row(m.layers, lengths, grow):
            m(X, extra=torch.ones(1, 6))
    with pytest.raises(PatchError, match="positional input #1"):
        with growing_row(m.layers, lengths, grow):
            h = X
            for layer in m.layers:
                h = layer(h, torch.arange(6)[None])  # position ids passed by position
    with pytest.raises(PatchError, match="'position_ids' should span the row's 6 positions"):
        with growing_row(m.layers, lengths, grow):
            m(X, position_ids=torch.arange(5)[None])
    assert hooked_modules(m) == []


def test_one_forward_per_block_and_a_forward_at_all():
    m = Stack()
    lengths, grow = _append_copies(2)
    with pytest.raises(PatchError, match="ran twice"):
        with growing_row(m.layers, lengths, grow):
            m(X)
            m(X)
    with pytest.raises(LayerNotRunError, match="never ran"):
        with growing_row(m.layers, lengths, grow):
            pass
    assert hooked_modules(m) == []


def test_joined_sweep_runs_fewer_positions_and_equals_the_loop():
    a = tiny_adapter("llama")
    assert a.joined_sweep
    q = query_prompt("Peru")
    enc = a.encode([q])
    d, s, L = int(enc.delimiters[0]), int(enc.lengths[0] - enc.delimiters[0]), a.n_layers
    src = residuals(a, [icl_prompt([("France", "Paris"), ("Italy", "Rome")], "Peru")]).values[0, :, 0]
    seen = []
    handles = [l.register_forward_pre_hook(lambda mod, args, kw, i=i: seen.append((i, (args[0] if args else kw["hidden_states"]).shape[1])),
                                           with_kwargs=True) for i, l in enumerate(a.decoder_layers)]
    try:
        fast = layer_sweep(a, q, src)
    finally:
        for h in handles:
            h.remove()
    # every layer sweeps L+1 copies; the copy patched at L runs every layer, the one at l < L joins at l
    assert seen == [(m, d + s * (2 + m)) for m in range(L)]
    torch.testing.assert_close(fast.logits, naive_sweep(a, q, src).logits, atol=1e-5, rtol=1e-4)
    assert hooked_modules(a.model) == []
