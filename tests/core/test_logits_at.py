"""``Adapter.logits_at``: the unembedding at chosen positions equals the full forward's logits there."""

import pytest
import torch

from taskvec.core.patching import first_token_logits
from taskvec.core.prompts import icl_prompt, query_prompt
from taskvec.core.sweep import layer_sweep, naive_sweep
from taskvec.testing import color_image, tiny_adapter

FAMILIES = ["llama", "qwen2_vl", "gemma3", "idefics3", "fuyu"]


def _full_logits(adapter, enc):
    with torch.no_grad():
        return adapter.model(**adapter.full_inputs(enc), use_cache=False).logits.float()  # (B, T, V)


@pytest.mark.parametrize("family", FAMILIES)
def test_kept_positions_equal_the_full_forward(family):
    adapter = tiny_adapter(family)
    prompt = query_prompt(color_image(2)) if family != "llama" else icl_prompt([("France", "Paris")], "Spain")
    enc = adapter.encode([prompt])
    full = _full_logits(adapter, enc)  # (1, T, V)
    T = full.shape[1]
    keep = torch.tensor([0, T // 2, T - 1])
    with torch.no_grad():
        _, last = adapter.logits_at(adapter.full_inputs(enc), 1, use_cache=False)
        _, some = adapter.logits_at(adapter.full_inputs(enc), keep, use_cache=False)
    assert last.shape == (1, 1, full.shape[2]) and some.shape == (1, 3, full.shape[2])
    torch.testing.assert_close(last.float()[0, 0], full[0, -1], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(some.float()[0], full[0, keep], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(first_token_logits(adapter, prompt), full[0, -1], atol=1e-5, rtol=1e-5)


def test_a_model_without_logits_to_keep_is_sliced_after_the_forward(monkeypatch):
    adapter = tiny_adapter("llama")
    prompt = icl_prompt([("France", "Paris"), ("Italy", "Rome")], "Spain")
    enc = adapter.encode([prompt])
    full = _full_logits(adapter, enc)
    forward = adapter.model.forward
    seen = []

    def no_keep(*args, **kwargs):  # a forward that knows nothing of logits_to_keep
        seen.append("logits_to_keep" in kwargs)
        return forward(*args, **kwargs)

    monkeypatch.setattr(adapter.model, "forward", no_keep)
    adapter.__dict__.pop("takes_logits_to_keep", None)  # the shared tiny adapter: re-read, and restored below
    try:
        _check_fallback(adapter, prompt, enc, full, seen)
    finally:
        adapter.__dict__.pop("takes_logits_to_keep", None)


def _check_fallback(adapter, prompt, enc, full, seen):
    assert adapter.takes_logits_to_keep is False
    keep = torch.tensor([1, 3])
    with torch.no_grad():
        _, some = adapter.logits_at(adapter.full_inputs(enc), keep, use_cache=False)
        _, last = adapter.logits_at(adapter.full_inputs(enc), 2, use_cache=False)
    assert seen == [False, False]
    torch.testing.assert_close(some[0].float(), full[0, keep])
    torch.testing.assert_close(last[0].float(), full[0, -2:])
    # and every sweep path still equals the reference loop through the fallback
    vectors = torch.randn(adapter.n_layers + 1, adapter.hidden_size)
    torch.testing.assert_close(layer_sweep(adapter, prompt, vectors).logits,
                               naive_sweep(adapter, prompt, vectors).logits, atol=2e-4, rtol=1e-4)


def test_keep_must_name_a_position():
    adapter = tiny_adapter("llama")
    enc = adapter.encode([query_prompt("Spain")])
    with pytest.raises(ValueError, match="keep must be >= 1"):
        adapter.logits_at(adapter.full_inputs(enc), 0)
