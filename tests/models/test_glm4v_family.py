"""GLM-4V's trap on its tiny builds (taskvec/models/families/glm4v.py): 3-D rotary positions that the
model derives only from a whole prompt, so a cached-prefix sweep must be handed them."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

from taskvec.core.activations import residuals  # noqa: E402
from taskvec.core.prompts import icl_prompt, query_prompt  # noqa: E402
from taskvec.core.sweep import layer_sweep, naive_sweep  # noqa: E402
from taskvec.testing import color_image, tiny_adapter  # noqa: E402

ATOL = 2e-4


@pytest.mark.parametrize("family", ["glm4v", "glm4v_moe", "glm46v"])
def test_sweeps_carry_the_3d_positions(family):
    """With an image in the prompt the M-RoPE positions after it are not the token index; the
    adapter's explicit positions make both batched sweeps equal the per-layer loop; without them
    (1-D positions for the suffix) a sweep is wrong or fails."""
    a = tiny_adapter(family)
    q = query_prompt(color_image(3, (40, 40)))  # square: a 2x2 merged grid, so positions fall behind the index
    enc = a.encode([q])
    pos = a.position_ids(enc)  # (3, 1, T)
    T = enc.input_ids.shape[1]
    assert pos.shape == (3, 1, T) and not torch.equal(pos[0, 0], torch.arange(T))
    vec = residuals(a, [icl_prompt([("France", "Paris"), ("Italy", "Rome")], "Peru")]).values[0, :, 0]
    slow = naive_sweep(a, q, vec).logits
    for packed in (True, False):
        b = object.__new__(type("Declared", (type(a),), {"packed_sweep": packed}))
        b.__dict__.update(a.__dict__)
        torch.testing.assert_close(layer_sweep(b, q, vec, max_batch=2).logits, slow, atol=ATOL, rtol=1e-4)
        no_positions = {"packed_sweep": packed, "position_ids": lambda self, e: None}
        c = object.__new__(type("NoPositions", (type(a),), no_positions))
        c.__dict__.update(a.__dict__)
        try:  # 1-D suffix positions: wrong numbers, or (repeated cache) a shape error from stale rope deltas
            wrong = layer_sweep(c, q, vec, max_batch=2).logits
        except RuntimeError:
            continue
        assert (wrong - slow).abs().max() > 1e-4


def test_one_run_per_image_inside_its_begin_and_end_tokens():
    a = tiny_adapter("glm4v")
    p = icl_prompt([(color_image(1), "Paris"), (color_image(2, (64, 20)), "Rome")], color_image(3))
    ids = a.encode([p]).input_ids[0].tolist()
    begin, end = (a.tokenizer.convert_tokens_to_ids(t) for t in ("<|begin_of_image|>", "<|end_of_image|>"))
    runs = a.image_runs(ids)
    assert len(runs) == 3
    for run in runs:
        assert ids[run[0] - 1] == begin and ids[run[-1] + 1] == end
