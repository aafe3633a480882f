"""Gemma 3n's AltUp trap: between decoder layers the hidden state is K parallel streams (K, B, T, D),
merged only before the final norm. taskvec's residual is the whole stack as (B, T, K*D); checked here
against independent hooks, the model's logits, and a sliding window shorter than the prompt."""

import copy
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

pytest.importorskip("timm")  # the tiny build's vision tower

from taskvec.core.activations import run_captured  # noqa: E402
from taskvec.core.geometry import normalize  # noqa: E402
from taskvec.core.hooks import Patch, hooked_modules, intervene  # noqa: E402
from taskvec.core.patching import first_token_logits  # noqa: E402
from taskvec.core.prompts import icl_prompt, query_prompt  # noqa: E402
from taskvec.core.sweep import layer_sweep, naive_sweep  # noqa: E402
from taskvec.models.families.gemma3n import Gemma3nAdapter  # noqa: E402
from taskvec.testing import color_image, tiny_adapter  # noqa: E402


def _outputs(a, enc):
    """Each decoder layer's raw output, (K, B, T, D), from this test's own hooks."""
    outs, handles = {}, []
    for i, layer in enumerate(a.decoder_layers):
        handles.append(layer.register_forward_hook(lambda m, args, o, i=i: outs.__setitem__(i, o.detach().clone())))
    try:
        with torch.no_grad():
            a.model(**a.full_inputs(enc), use_cache=False)
    finally:
        for h in handles:
            h.remove()
    return outs


def test_the_residual_is_every_altup_stream():
    a = tiny_adapter("gemma3n")
    K, D = a.text_config.altup_num_inputs, a.text_config.hidden_size
    assert K > 1 and a.hidden_size == K * D
    enc = a.encode([query_prompt(color_image(1))])
    T = enc.input_ids.shape[1]
    outs = _outputs(a, enc)
    assert outs[0].shape == (K, 1, T, D)
    got = run_captured(a, enc, torch.arange(T)[None])[0]  # (L+1, T, K*D)
    for l in range(1, a.n_layers + 1):
        for k in range(K):
            torch.testing.assert_close(got[l][:, k * D:(k + 1) * D], outs[l - 1][k, 0], rtol=0, atol=0)
    assert normalize(a, got[:, -1]).shape == (a.n_layers + 1, D)  # t-SNE's final norm merges the streams first


def test_lens_merges_the_streams_like_the_model():
    """Lens at the last layer == the logits; reading stream 0 alone (no merge) would not be."""
    a = tiny_adapter("gemma3n")
    D = a.text_config.hidden_size
    q = query_prompt("Spain")
    enc = a.encode([q])
    last = int(enc.lengths[0]) - 1
    h = run_captured(a, enc, torch.tensor([[last]]))[0, -1, 0]  # (K*D,)
    logits = first_token_logits(a, q)
    torch.testing.assert_close(a.lens(h), logits, atol=2e-5, rtol=1e-5)
    cap = a.softcap()
    assert cap  # Gemma 3n caps its final logits
    with torch.no_grad():
        stream0 = torch.tanh(a.lm_head(a.model.get_decoder().norm(h[:D])) / cap) * cap
    assert float((stream0 - logits).abs().max()) > 1e-2


def test_a_patch_writes_every_stream():
    a = tiny_adapter("gemma3n")
    K, D = a.text_config.altup_num_inputs, a.text_config.hidden_size
    enc = a.encode([query_prompt("Spain")])
    d = int(enc.delimiters[0])
    v = torch.randn(K * D, generator=torch.Generator().manual_seed(0))
    for l in (1, a.n_layers - 1):
        seen = {}
        with torch.no_grad(), intervene(a.residual_sites, [Patch(l, d, v)]):
            h = a.decoder_layers[l].register_forward_pre_hook(  # after taskvec's own pre-hook
                lambda m, args: seen.__setitem__("in", args[0].detach().clone()))
            try:
                a.model(**a.full_inputs(enc), use_cache=False)
            finally:
                h.remove()
        torch.testing.assert_close(seen["in"][:, 0, d], v.view(K, D), rtol=0, atol=0)
    assert hooked_modules(a.model) == []


def test_cached_prefix_sweep_is_exact_past_the_sliding_window():
    """causal_prefix with sliding-window and KV-shared layers: the same weights with a window of 8 tokens,
    prompts far longer, and the prefix-cache sweep still equals the per-layer loop."""
    a = tiny_adapter("gemma3n")
    cfg = copy.deepcopy(a.model.config)
    cfg.text_config.sliding_window = 8
    small = type(a.model)(cfg)
    small.load_state_dict(a.model.state_dict())
    b = Gemma3nAdapter(small.eval(), a.processor, "tiny-random/gemma3n-window8")
    assert b.causal_prefix and not b.packed_sweep
    assert any(layer.self_attn.is_kv_shared_layer for layer in b.decoder_layers)
    src = run_captured(b, b.encode([icl_prompt([("France", "Paris"), ("Italy", "Rome")], "Peru")]),
                       torch.tensor([[0]]))[0, :, 0]  # (L+1, K*D)
    for q in (icl_prompt([("France", "Paris")], "Spain"), icl_prompt([(color_image(1), "Paris")], color_image(2))):
        n = int(b.encode([q]).lengths[0])
        assert n > 3 * cfg.text_config.sliding_window
        # the window is really in effect: the same weights with the wide window answer differently
        assert float((first_token_logits(b, q) - first_token_logits(a, q)).abs().max()) > 1e-4
        for mode in ("replace", "add"):
            fast, slow = layer_sweep(b, q, src, mode=mode), naive_sweep(b, q, src, mode=mode)
            torch.testing.assert_close(fast.logits, slow.logits, atol=2e-4, rtol=1e-4)
    assert hooked_modules(b.model) == []
