"""Gemma 4's traps, as exact invariants on its tiny build (taskvec/models/families/gemma4.py):
KV-shared layers that see only the kept positions, sliding windows and bidirectional image blocks
that a packed sweep would bypass, and the final logit softcap."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

from taskvec.core.activations import residuals  # noqa: E402
from taskvec.core.patching import first_token_logits, generate, make_patch  # noqa: E402
from taskvec.core.prompts import icl_prompt, query_prompt  # noqa: E402
from taskvec.core.hooks import hooked_modules  # noqa: E402
from taskvec.core.sweep import layer_sweep, naive_sweep  # noqa: E402
from taskvec.errors import PatchError  # noqa: E402
from taskvec.models.families.gemma4 import Gemma4Adapter  # noqa: E402
from taskvec.testing import build_tiny, color_image, tiny_adapter  # noqa: E402

ATOL = 2e-4


def _last_layer_widths(model, inputs, **kwargs) -> list[int]:
    """The sequence length the last decoder layer sees, per forward call."""
    seen = []
    handle = model.get_decoder().layers[-1].register_forward_hook(lambda m, a, out: seen.append(out.shape[1]))
    try:
        with torch.no_grad():
            model(**inputs, **kwargs)
    finally:
        handle.remove()
    return seen


def test_kv_shared_layers_see_every_position():
    """Unhandled, transformers slices the hidden state to the kept positions before the KV-shared
    layers; the adapter keeps (B, T, D) there, so the last residual layer is right at every position."""
    raw, proc = build_tiny("gemma4")
    assert raw.config.get_text_config().num_kv_shared_layers == 1
    inputs = dict(proc(text=["Q:France\nA:"], return_tensors="pt"))
    T = inputs["input_ids"].shape[1]
    assert _last_layer_widths(raw, inputs, logits_to_keep=1) == [1]  # the trap is real on a bare model

    a = tiny_adapter("gemma4")
    assert _last_layer_widths(a.model, inputs, logits_to_keep=1) == [T]
    prompt = icl_prompt([("France", "Paris")], "Peru")
    T = int(a.encode([prompt]).lengths[0])
    res = residuals(a, [prompt], positions=[list(range(T))]).values[0, -1]  # (T, D) at residual L
    with torch.no_grad():
        logits = a.model(**a.encode([prompt]).inputs).logits[0].float()  # (T, V), every position computed
    torch.testing.assert_close(a.lens(res), logits, atol=ATOL, rtol=1e-4)
    # generate() prefills with an integer logits_to_keep too: a patch at the output of the KV-shared layer
    # lands at the delimiter and gives the same first token as a full patched forward
    q = query_prompt("Spain")
    h = torch.randn(a.hidden_size, generator=torch.Generator().manual_seed(3))
    gen = generate(a, q, h, a.n_layers, max_new_tokens=2)
    full = first_token_logits(a, q, lambda enc: [make_patch(a, enc, h, a.n_layers)])
    torch.testing.assert_close(gen.first_logits, full, atol=ATOL, rtol=1e-4)


def test_sweep_is_exact_past_the_window_and_packing_is_not():
    """A prompt longer than the sliding window, with images (bidirectional blocks): the declared
    sweep equals the per-layer loop; a one-pass packed sweep would not (its 4-D mask replaces the
    model's window and image blocks), which is why gemma4 declares packed_sweep False."""
    a = tiny_adapter("gemma4")
    assert a.packed_sweep is False and a.causal_prefix is True
    prompt = icl_prompt([(color_image(1), "Paris"), (color_image(2), "Rome")], color_image(3))
    assert int(a.encode([prompt]).lengths[0]) > a.text_config.sliding_window
    vec = residuals(a, [icl_prompt([("France", "Paris"), ("Italy", "Rome")], "Peru")]).values[0, :, 0]
    slow = naive_sweep(a, prompt, vec).logits
    torch.testing.assert_close(layer_sweep(a, prompt, vec).logits, slow, atol=ATOL, rtol=1e-4)

    packed = type("Packed", (type(a),), {"packed_sweep": True, "joins_copies": False})
    b = object.__new__(packed)
    b.__dict__.update(a.__dict__)
    assert (layer_sweep(b, prompt, vec).logits - slow).abs().max() > 1e-3
    # copies joining at their layer are refused rather than run wrong: the per-layer inputs go in by position
    joined = object.__new__(type("Joined", (type(a),), {"packed_sweep": True}))
    joined.__dict__.update(a.__dict__)
    with pytest.raises(PatchError, match="positional input #1"):
        layer_sweep(joined, prompt, vec)
    assert hooked_modules(a.model) == []


def test_lens_applies_the_final_softcap():
    """The lens at the last residual layer is the model's own capped logits; with a cap below the
    tiny model's logit scale the cap bends them, so a lens without it would differ."""
    assert tiny_adapter("gemma4").softcap() == 30.0
    model, proc = build_tiny("gemma4")
    model.config.get_text_config().final_logit_softcapping = 0.1  # this test's own model
    a = Gemma4Adapter(model, proc, "tiny-random/gemma4", meaningless_weights=True)
    q = query_prompt("Spain")
    h = torch.randn(a.hidden_size, generator=torch.Generator().manual_seed(0))  # (D,)
    patched = first_token_logits(a, q, lambda enc: [make_patch(a, enc, h, a.n_layers)])
    torch.testing.assert_close(a.lens(h), patched, atol=1e-5, rtol=1e-4)
    with torch.no_grad():
        uncapped = a.lm_head(a.final_norm(h)).float()  # (V,)
    assert (a.lens(h) - uncapped).abs().max() > 0.05
