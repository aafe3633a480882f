"""deepseek_vl, perception_lm, cohere2_vision: standard layouts, each image one predictable block.

The shared suites check the invariants on their tiny builds; these check the quirks their family
files set: the processor defaults that turn tiling off (an image's block does not depend on its
shape), and, for cohere2_vision, that its sliding-window layers are why it declares no packed sweep.
"""

import pytest
import torch

from taskvec.core.activations import residuals
from taskvec.core.prompts import icl_prompt, query_prompt
from taskvec.core.sweep import layer_sweep, naive_sweep
from taskvec.models.families.cohere2_vision import Cohere2VisionAdapter, build_tiny
from taskvec.models import registry
from taskvec.testing import build_tiny as build, color_image

BLOCK = {"deepseek_vl": 16, "perception_lm": 4, "cohere2_vision": 4}  # feature tokens per image in the tiny builds


def _feature_tokens(proc, model, size) -> int:
    """Feature tokens of one image of ``size`` as ``proc`` lays it out with its current call defaults."""
    text = f"Q:{proc.image_token}\nA:"
    ids = proc(text=[text], images=[[color_image(1, size)]], return_tensors="pt")["input_ids"][0].tolist()
    return ids.count(model.config.image_token_id)


@pytest.mark.parametrize("family", sorted(BLOCK))
def test_one_image_is_one_block_whatever_its_shape(family):
    """The adapter sets the processor's call defaults itself (a hub processor has none of the tiny build's)."""
    model, proc = build(family)
    proc.images_kwargs, proc.text_kwargs = {}, {}  # as loaded from the hub: the processor's own defaults
    if family != "deepseek_vl":  # which tile a wide or large image into more feature tokens
        assert _feature_tokens(proc, model, (300, 100)) > BLOCK[family]
    a = registry.adapter_for(family)(model, proc, f"tiny-random/{family}", meaningless_weights=True)
    assert a.family == family and a.image_placeholder and a.tokenizer.padding_side == "right"
    for size in [(40, 30), (120, 20), (20, 120), (300, 300)]:
        enc = a.encode([icl_prompt([(color_image(1, size), "Paris")], color_image(2, size))])
        ids = enc.input_ids[0, : int(enc.lengths[0])].tolist()
        assert [len(r) for r in a.image_runs(ids)] == [BLOCK[family]] * 2, size
    two = a.encode([query_prompt("Spain"), query_prompt(color_image(3))])
    assert two.inputs["attention_mask"][:, 0].tolist() == [1, 1]  # right padding


def test_cohere2_vision_sliding_window_forbids_packing():
    model, proc = build_tiny("cohere2_vision", 0, sliding_window=8)
    a = Cohere2VisionAdapter(model, proc, "tiny-random/cohere2_vision (window 8)", meaningless_weights=True)
    assert a.causal_prefix and not a.packed_sweep
    packed = type("Packed", (Cohere2VisionAdapter,), {"packed_sweep": True})
    b = object.__new__(packed)
    b.__dict__.update(a.__dict__)
    src = residuals(a, [icl_prompt([("France", "Paris"), ("Italy", "Rome")], "Peru")]).values[0, :, 0]
    for q in (icl_prompt([("Chile", "Santiago"), ("Peru", "Lima")], "Spain"),
              icl_prompt([(color_image(1), "Paris")], color_image(3))):
        assert int(a.encode([q]).lengths[0]) > 2 * 8
        slow = naive_sweep(a, q, src, mode="add", scale=2.0).logits
        torch.testing.assert_close(layer_sweep(a, q, src, mode="add", scale=2.0).logits, slow, atol=2e-5, rtol=1e-5)
        torch.testing.assert_close(layer_sweep(a, q, src, mode="add", scale=2.0, max_batch=2).logits, slow,
                                   atol=2e-5, rtol=1e-5)
        assert float((layer_sweep(b, q, src, mode="add", scale=2.0).logits - slow).abs().max()) > 1e-3
