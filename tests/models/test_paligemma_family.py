"""PaliGemma: a prefix-LM (bidirectional attention over the image + prompt prefix).

These tests fail if the bidirectionality were not real on the tiny build (then declaring no causal
prefix would be untested), if the sweep took a cached-prefix shortcut (it would differ from the
per-layer loop), or if the layout or the generation extension put the answer inside the prefix.
"""

import pytest
import torch

from taskvec.core.activations import residuals
from taskvec.core.hooks import Capture, intervene
from taskvec.core.patching import first_token_logits, generate, make_patch
from taskvec.core.prompts import icl_prompt, query_prompt
from taskvec.core.sweep import layer_sweep, naive_sweep
from taskvec.testing import color_image, tiny_adapter

QUERIES = [query_prompt("Spain"), query_prompt(color_image(3))]


@pytest.fixture(scope="module")
def a():
    return tiny_adapter("paligemma")


def _all_residuals(a, enc, patches=()):
    """(L+1, T, D): every residual layer at every position of one prompt."""
    T = int(enc.lengths[0])
    cap = Capture(list(range(a.n_layers + 1)), torch.arange(T)[None])
    with torch.no_grad(), intervene(a.residual_sites, patches=list(patches), captures=[cap]):
        a.model(**a.full_inputs(enc), use_cache=False)
    return torch.stack([cap.store[l][0] for l in range(a.n_layers + 1)])


@pytest.mark.parametrize("q", QUERIES, ids=["text", "image"])
def test_layout_delimiter_inside_the_prefix_answer_after_it(a, q):
    enc = a.encode([q])
    ids, d, T = enc.input_ids[0].tolist(), int(enc.delimiters[0]), int(enc.lengths[0])
    assert a.decode_token(ids[d]) == ":" and a.decode_token(ids[-1]) == "\n" and d == T - 2
    assert ids.count(a.tokenizer.bos_token_id) == 1
    assert enc.inputs["token_type_ids"].tolist() == [[0] * T]  # the whole prompt is the (bidirectional) prefix
    if len(q) > 1 and not isinstance(q[1], str):  # the image tokens come before <bos>
        runs = a.image_runs(ids)
        assert len(runs) == 1 and runs[0][-1] < ids.index(a.tokenizer.bos_token_id)


@pytest.mark.parametrize("q", QUERIES, ids=["text", "image"])
def test_a_patch_at_the_delimiter_changes_earlier_positions(a, q):
    """Bidirectional prefix: patching the delimiter at layer 1 leaves layers <= 1 alone everywhere but at the
    delimiter, and changes the earlier positions' residuals from layer 2 on (a causal model could not)."""
    enc = a.encode([q])
    d = int(enc.delimiters[0])
    base = _all_residuals(a, enc)
    h = torch.randn(a.hidden_size, generator=torch.Generator().manual_seed(0)) * 5
    patched = _all_residuals(a, enc, [make_patch(a, enc, h, 1)])
    assert torch.equal(patched[:2, :d], base[:2, :d])
    assert float((patched[2:, :d] - base[2:, :d]).abs().amax()) > 1e-2


def test_sweep_is_the_per_layer_loop_and_a_cached_prefix_would_be_wrong(a):
    assert not a.causal_prefix and not a.packed_sweep
    src = residuals(a, [icl_prompt([("France", "Paris"), ("Italy", "Rome")], "Peru")]).values[0, :, 0] * 4
    causal = type("AssumedCausal", (type(a),), {"causal_prefix": True})
    b = object.__new__(causal)
    b.__dict__.update(a.__dict__)
    for q in QUERIES:
        slow = naive_sweep(a, q, src).logits
        assert torch.equal(layer_sweep(a, q, src).logits, slow)
        # the cached-prefix shortcut computes the prefix without the patched suffix: not what the model does
        assert float((layer_sweep(b, q, src).logits - slow).abs().max()) > 1e-4


def test_generation_patches_only_the_prefill_and_generates_after_the_prefix(a):
    q = QUERIES[1]
    h = torch.randn(a.n_layers + 1, a.hidden_size, generator=torch.Generator().manual_seed(2)) * 5
    layer = 2
    gen = generate(a, q, h, layer, max_new_tokens=4)
    enc = a.encode([q])
    seq = []
    for _ in gen.token_ids:  # recompute: generated tokens are suffix tokens (token_type_ids 1, causal)
        inputs = a.extend_inputs(enc.inputs, torch.tensor([seq], dtype=torch.long))
        assert inputs["token_type_ids"][0, int(enc.lengths[0]):].tolist() == [1] * len(seq)
        with torch.no_grad(), intervene(a.residual_sites, [make_patch(a, enc, h, layer)]):
            seq.append(int(a.model(**inputs, use_cache=False).logits[0, -1].argmax()))
    assert gen.token_ids == seq
    patched = first_token_logits(a, q, lambda e: [make_patch(a, e, h, layer)])  # the prefill's logits
    torch.testing.assert_close(gen.first_logits.float(), patched, atol=2e-5, rtol=1e-5)
