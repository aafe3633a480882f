"""Qwen3-VL's DeepStack trap: visual features are added to the hidden states at image positions after
early decoder layers, so residual layer l must be what decoder layer l receives, not what layer l - 1
returned. Checked against independent hooks registered here (not taskvec's)."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

from taskvec.core.activations import run_captured  # noqa: E402
from taskvec.core.hooks import Patch, hooked_modules, intervene  # noqa: E402
from taskvec.core.patching import first_token_logits, make_patch  # noqa: E402
from taskvec.core.prompts import icl_prompt, query_prompt  # noqa: E402
from taskvec.errors import ModelLoadError  # noqa: E402
from taskvec.models.families.qwen3_vl import Qwen3VLAdapter  # noqa: E402
from taskvec.models.loading import build_tiny  # noqa: E402
from taskvec.testing import color_image, tiny_adapter  # noqa: E402

TYPES = ["qwen3_vl", "qwen3_vl_moe"]


def _deepstack_layers(a) -> int:
    return len(a.model.config.vision_config.deepstack_visual_indexes)


def _raw_forward(a, enc):
    """One forward with this test's own hooks: each decoder layer's input and output, (B, T, D)."""
    ins, outs = {}, {}
    handles = []
    for i, layer in enumerate(a.decoder_layers):
        def pre(module, args, kwargs, i=i):
            ins[i] = (args[0] if args else kwargs["hidden_states"]).detach().clone()

        def post(module, args, output, i=i):
            outs[i] = (output[0] if isinstance(output, tuple) else output).detach().clone()

        handles += [layer.register_forward_pre_hook(pre, with_kwargs=True), layer.register_forward_hook(post)]
    try:
        with torch.no_grad():
            a.model(**a.full_inputs(enc), use_cache=False)
    finally:
        for h in handles:
            h.remove()
    return ins, outs


@pytest.mark.parametrize("model_type", TYPES)
def test_captured_residual_is_what_the_next_layer_receives(model_type):
    a = tiny_adapter(model_type)
    assert a.residual_sites.at_input and 1 <= _deepstack_layers(a) < a.n_layers
    enc = a.encode([icl_prompt([(color_image(1), "Paris")], color_image(2))])
    ids = enc.input_ids[0].tolist()
    image = [p for run in a.image_runs(ids) for p in run]
    text = [p for p in range(len(ids)) if p not in image]
    assert image and text
    ins, outs = _raw_forward(a, enc)
    allpos = torch.arange(len(ids))[None]  # (1, T)
    got = run_captured(a, enc, allpos)[0]  # (L+1, T, D)
    L = a.n_layers
    torch.testing.assert_close(got[0], ins[0][0], rtol=0, atol=0)  # embeddings
    torch.testing.assert_close(got[L], outs[L - 1][0], rtol=0, atol=0)  # the last layer's output
    for l in range(1, L):
        torch.testing.assert_close(got[l], ins[l][0], rtol=0, atol=0)  # what decoder layer l receives
        # text positions: the previous layer's output is the same tensor
        torch.testing.assert_close(got[l][text], outs[l - 1][0][text], rtol=0, atol=0)
        injected = (got[l][image] - outs[l - 1][0][image]).abs().amax(-1)  # (n_image,)
        if l <= _deepstack_layers(a):  # DeepStack added features after decoder layer l - 1
            assert bool((injected > 1e-3).all()), f"layer {l}: no DeepStack injection seen"
        else:
            assert float(injected.max()) == 0.0


@pytest.mark.parametrize("model_type", TYPES)
def test_patch_at_an_image_position_is_what_the_next_layer_receives(model_type):
    """Writing the residual's own value at image positions changes nothing (as output of layer l - 1 it
    would be injected twice), and a written vector is exactly decoder layer l's input there."""
    a = tiny_adapter(model_type)
    q = query_prompt(color_image(3))
    enc = a.encode([q])
    pos = a.image_runs(enc.input_ids[0].tolist())[0][0]
    own = run_captured(a, enc, torch.tensor([[pos]]))[0, :, 0]  # (L+1, D) at the first image token
    base = first_token_logits(a, q)
    for l in range(1, _deepstack_layers(a) + 1):
        patched = first_token_logits(a, q, lambda e, l=l: [make_patch(a, e, own[l], l, position=pos)])
        torch.testing.assert_close(patched, base, atol=2e-5, rtol=1e-5)
        v = torch.randn(a.hidden_size, generator=torch.Generator().manual_seed(l))
        seen = {}

        def record(module, args, kwargs):
            seen["in"] = (args[0] if args else kwargs["hidden_states"]).detach().clone()

        with torch.no_grad(), intervene(a.residual_sites, [Patch(l, pos, v)]):
            h = a.decoder_layers[l].register_forward_pre_hook(record, with_kwargs=True)  # runs after taskvec's
            try:
                a.model(**a.full_inputs(enc), use_cache=False)
            finally:
                h.remove()
        torch.testing.assert_close(seen["in"][0, pos], v, rtol=0, atol=0)
    assert hooked_modules(a.model) == []


def test_a_deepstack_past_the_last_layer_is_refused():
    model, proc = build_tiny("qwen3_vl_moe", 0)
    L = len(model.model.language_model.layers)
    model.config.vision_config.deepstack_visual_indexes = list(range(L))  # an injection after the last layer
    with pytest.raises(ModelLoadError, match="DeepStack"):
        Qwen3VLAdapter(model, proc, "tiny-random/qwen3_vl_moe")
