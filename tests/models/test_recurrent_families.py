"""Hybrid decoders with recurrent or convolutional layers (qwen3_5, qwen3_5_moe: Gated DeltaNet;
lfm2_vl: short convolutions), on their tiny builds: why they declare neither a causal-prefix nor a
packed sweep, that right padding never reaches a real token, and LFM2-VL's one block per image."""

from __future__ import annotations

import os
from functools import lru_cache

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from taskvec.core.activations import residuals  # noqa: E402
from taskvec.core.prompts import icl_prompt, query_prompt  # noqa: E402
from taskvec.core.sweep import layer_sweep, naive_sweep  # noqa: E402
from taskvec.models import registry  # noqa: E402
from taskvec.testing import build_tiny, color_image, tiny_adapter  # noqa: E402

ATOL = 2e-4
RECURRENT = ["qwen3_5", "qwen3_5_moe", "lfm2_vl"]


def _declaring(a, **caps):
    """The same adapter object with other declared capabilities (the model is shared, not copied)."""
    cls = type(f"{type(a).__name__}As", (type(a),), caps)
    b = object.__new__(cls)
    b.__dict__.update(a.__dict__)
    return b


@lru_cache(maxsize=None)
def _strong_mixing(family):
    """This file's own tiny model with its token mixers (Gated DeltaNet / short conv) scaled up 20x: the
    random init mixes tokens so weakly that a leak between positions would hide under the tolerance."""
    model, proc = build_tiny(family)
    mixers = [m for name, m in model.get_decoder().named_modules() if name.endswith(("linear_attn", "conv"))]
    assert mixers, f"{family}: no recurrent/conv token mixer found"
    with torch.no_grad():
        for mixer in mixers:
            for sub in mixer.modules():
                if isinstance(sub, (torch.nn.Linear, torch.nn.Conv1d)):
                    sub.weight.mul_(20)
    return registry.adapter_for(family)(model, proc, f"tiny-random/{family}", meaningless_weights=True)


@pytest.mark.parametrize("family", RECURRENT)
def test_declared_sweep_is_exact_and_the_shortcuts_are_not(family):
    """The exact loop is what the family declares; packing copies in one row would let the
    convolution/recurrence run from one copy into the next (its layers ignore the 4-D mask), and
    the repeated-cache path cannot copy a linear-attention cache along the batch."""
    a = _strong_mixing(family)
    assert (a.causal_prefix, a.packed_sweep) == (False, False)
    vec = torch.randn(a.n_layers + 1, a.hidden_size, generator=torch.Generator().manual_seed(0))
    q = query_prompt("Spain")
    slow = naive_sweep(a, q, vec).logits
    torch.testing.assert_close(layer_sweep(a, q, vec).logits, slow, atol=ATOL, rtol=1e-4)

    packed = _declaring(a, causal_prefix=True, packed_sweep=True)
    assert (layer_sweep(packed, q, vec).logits - slow).abs().max() > 1e-2
    repeated = _declaring(a, causal_prefix=True, packed_sweep=False)
    with pytest.raises(AttributeError, match="batch_repeat_interleave"):
        layer_sweep(repeated, q, vec)


@pytest.mark.parametrize("family", RECURRENT)
def test_right_padding_never_reaches_a_real_token(family):
    """A short prompt batched beside a much longer one (many padded positions after its end) gets
    exactly its residuals alone, at every position and layer."""
    a = _strong_mixing(family)
    short = query_prompt(color_image(4))
    long = icl_prompt([(color_image(1), "Paris"), ("Italy", "Rome"), (color_image(2), "Lima")], "Peru")
    n = int(a.encode([short]).lengths[0])
    assert int(a.encode([long]).lengths[0]) > n + 10
    pos = [list(range(n)), list(range(n))]
    together = residuals(a, [short, long], positions=pos).values[0]  # (L+1, n, D)
    alone = residuals(a, [short], positions=pos[:1]).values[0]
    torch.testing.assert_close(together, alone, atol=ATOL, rtol=1e-4)


def test_lfm2_vl_one_untiled_block_per_image():
    """A large image is split into tiles + a thumbnail by the processor's own default; the adapter
    turns splitting off, so one image is one run of at most max_image_tokens feature tokens."""
    a = tiny_adapter("lfm2_vl")
    big = Image.new("RGB", (1024, 768), (200, 30, 30))
    ph = a.image_placeholder
    split = a.processor(text=[f"Q:{ph}\nA:"], images=[[big]], return_tensors="pt", do_image_splitting=True)
    assert len(a.image_runs(split["input_ids"][0].tolist())) > 1
    a_big = _declaring(a, image_width=None)  # keep the 1024 px so the processor would tile it
    enc = a_big.encode([query_prompt(big)])
    runs = a_big.image_runs(enc.input_ids[0].tolist())
    assert len(runs) == 1 and len(runs[0]) <= a.processor.image_processor.max_image_tokens
