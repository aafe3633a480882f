"""Declared residual sites (``taskvec.core.hooks.ResidualSites``): residual layers read as the input of
the next decoder layer (a model that edits the hidden state between layers), and hidden states passed
between layers in another form than (B, T, D) (stacked parallel streams), on toy decoders."""

import pytest
import torch
from torch import nn

from taskvec.core.hooks import Capture, Edit, Patch, ResidualSites, hooked_modules, intervene
from taskvec.errors import LayerNotRunError, PatchError

B, T, D, K = 2, 5, 4, 3


class Block(nn.Module):
    def __init__(self, d: int):
        super().__init__()
        self.lin = nn.Linear(d, d)

    def forward(self, h):
        return h + torch.tanh(self.lin(h))


class Injecting(nn.Module):
    """Adds ``extra[i]`` at positions ``at`` after decoder layer i (as Qwen3-VL's DeepStack)."""

    def __init__(self, n=4):
        super().__init__()
        torch.manual_seed(0)
        self.layers = nn.ModuleList(Block(D) for _ in range(n))
        self.extra = torch.randn(n - 1, D)
        self.at = torch.tensor([1, 3])

    def forward(self, h):
        ins = []
        for i, layer in enumerate(self.layers):
            ins.append(h)
            h = layer(h)
            if i < len(self.extra):
                h = h.clone()
                h[:, self.at] += self.extra[i]
        return h, ins


class Streams(nn.Module):
    """K parallel streams (K, B, T, D) between layers; ``skip``: layers not run."""

    def __init__(self, n=3, skip=()):
        super().__init__()
        torch.manual_seed(1)
        self.layers = nn.ModuleList(Block(D) for _ in range(n))
        self.skip = set(skip)

    def forward(self, x):  # (B, T, D)
        h = torch.stack([x * (k + 1) for k in range(K)])  # (K, B, T, D)
        for i, layer in enumerate(self.layers):
            if i not in self.skip:
                h = layer(h)
        return h.mean(0)  # (B, T, D)


def stream_sites(layers) -> ResidualSites:
    return ResidualSites(layers,
                         view=lambda h: h.permute(1, 2, 0, 3).reshape(h.shape[1], h.shape[2], -1),  # (B, T, K*D)
                         unview=lambda v: v.reshape(v.shape[0], v.shape[1], K, -1).permute(2, 0, 1, 3).contiguous())


def test_at_input_reads_what_each_layer_receives_and_the_default_reads_outputs():
    m = Injecting()
    x = torch.randn(B, T, D)
    L = len(m.layers)
    pos = torch.arange(T).expand(B, T)
    at_in, plain = Capture(range(L + 1), pos), Capture(range(L + 1), pos)
    with torch.no_grad(), intervene(ResidualSites(m.layers, at_input=True), captures=[at_in]):
        out, ins = m(x)
    for l in range(L):
        torch.testing.assert_close(at_in.store[l], ins[l], rtol=0, atol=0)
    torch.testing.assert_close(at_in.store[L], out, rtol=0, atol=0)  # the last layer's output
    with torch.no_grad(), intervene(m.layers, captures=[plain]):
        m(x)
    # default: the output of layer l - 1, which misses the injection at positions `at` only
    for l in range(1, L):
        diff = (plain.store[l] - at_in.store[l]).abs().amax(-1)  # (B, T)
        assert bool((diff[:, m.at] > 0).all()) and float(diff.sum() - diff[:, m.at].sum()) == 0.0


def test_at_input_patch_is_what_the_next_layer_receives():
    m = Injecting()
    x = torch.randn(B, T, D)
    v = torch.randn(D)
    seen = {}
    with torch.no_grad(), intervene(ResidualSites(m.layers, at_input=True), [Patch(2, 1, v)]) as log:
        h = m.layers[2].register_forward_pre_hook(lambda mod, a: seen.__setitem__("in", a[0].clone()))  # after ours
        try:
            m(x)
        finally:
            h.remove()
    torch.testing.assert_close(seen["in"][:, 1], v.expand(B, D), rtol=0, atol=0)
    assert log.patched == {2: [0]}
    assert hooked_modules(m) == []


def test_a_plain_module_list_is_the_default_sites_bit_for_bit():
    m = Injecting()
    x = torch.randn(B, T, D)
    v = torch.randn(D)
    outs = []
    for sites in (m.layers, ResidualSites(m.layers)):
        cap = Capture([0, 2, 4], torch.tensor([[0, 3]] * B))
        with torch.no_grad(), intervene(sites, [Patch(2, 3, v, mode="add")], [cap]):
            outs.append((m(x)[0], cap.store))
    assert torch.equal(outs[0][0], outs[1][0])
    assert all(torch.equal(outs[0][1][l], outs[1][1][l]) for l in (0, 2, 4))


def test_stacked_streams_are_one_residual_of_width_K_times_D():
    m = Streams()
    x = torch.randn(B, T, D)
    sites = stream_sites(m.layers)
    L = len(m.layers)
    ref = {}
    handles = [layer.register_forward_hook(lambda mod, a, o, i=i: ref.__setitem__(i + 1, o.clone()))
               for i, layer in enumerate(m.layers)]
    cap = Capture(range(L + 1), torch.tensor([[1, 4]] * B))
    try:
        with torch.no_grad(), intervene(sites, captures=[cap]):
            base = m(x)
    finally:
        for h in handles:
            h.remove()
    for l in range(1, L + 1):
        got = cap.store[l]  # (B, 2, K*D)
        assert got.shape == (B, 2, K * D)
        for k in range(K):  # stream k is the k-th block of D
            torch.testing.assert_close(got[..., k * D:(k + 1) * D], ref[l][k][:, [1, 4]], rtol=0, atol=0)
    # an identity edit hands the layers' own tensor back: the forward is bit-for-bit unchanged
    with torch.no_grad(), intervene(sites, [Edit(l, lambda h: h) for l in range(L + 1)]):
        assert torch.equal(m(x), base)
    # writing the captured residual back changes nothing; writing another one changes every stream
    with torch.no_grad(), intervene(sites, [Patch(2, 4, cap.store[2][:, 1])]):
        torch.testing.assert_close(m(x), base, rtol=0, atol=0)
    v = torch.randn(K * D)
    seen = {}
    with torch.no_grad(), intervene(sites, [Patch(2, 4, v)]):
        h = m.layers[2].register_forward_pre_hook(lambda mod, a: seen.__setitem__("in", a[0].clone()))
        try:
            m(x)
        finally:
            h.remove()
    torch.testing.assert_close(seen["in"][:, :, 4], v.view(K, 1, D).expand(K, B, D), rtol=0, atol=0)
    assert hooked_modules(m) == []


def test_stacked_streams_without_declared_sites_fail_with_the_fix():
    m = Streams()
    with pytest.raises(PatchError, match="residual_sites"):
        with torch.no_grad(), intervene(m.layers, [Patch(1, 0, torch.zeros(D))]):
            m(torch.randn(B, T, D))
    assert hooked_modules(m) == []


def test_declared_sites_keep_the_never_ran_and_no_hook_left_guarantees():
    m = Streams(skip={1})
    sites = stream_sites(m.layers)
    with pytest.raises(LayerNotRunError, match="output of decoder layer 1"):
        with torch.no_grad(), intervene(sites, captures=[Capture([2], torch.zeros(B, 1, dtype=torch.long))]):
            m(torch.randn(B, T, D))
    assert hooked_modules(m) == []
    inj = Injecting()
    with pytest.raises(LayerNotRunError, match="input of decoder layer 2"):
        with intervene(ResidualSites(inj.layers, at_input=True), [Patch(2, 0, torch.zeros(D))]):
            pass  # no forward ran
    with pytest.raises(RuntimeError, match="boom"):
        with torch.no_grad(), intervene(sites, [Edit(1, lambda h: (_ for _ in ()).throw(RuntimeError("boom")))]):
            m(torch.randn(B, T, D))
    assert hooked_modules(m) == [] and hooked_modules(inj) == []
    with pytest.raises(PatchError, match="unview"):
        ResidualSites(m.layers, view=lambda h: h)
