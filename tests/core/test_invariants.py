"""Exact invariants of extraction, patching, sweeps and the lens, on every model family."""

import pytest
import torch

from taskvec.core.activations import residuals
from taskvec.core.hooks import hooked_modules, intervene
from taskvec.testing import TEXT_ONLY_FAMILIES, TINY_FAMILIES, color_image, tiny_adapter
from taskvec.core.patching import first_token_logits, generate, make_patch
from taskvec.core.sweep import layer_sweep, naive_sweep
from taskvec.core.prompts import icl_prompt, query_prompt
from taskvec.errors import UnsupportedInputError

VLMS = [f for f in TINY_FAMILIES if f not in TEXT_ONLY_FAMILIES]
ATOL = 2e-4


def queries(family):
    qs = [query_prompt("Spain")]
    if family in VLMS:
        qs.append(query_prompt(color_image(3)))
    return qs


@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_identity_patch_changes_nothing(family):
    a = tiny_adapter(family)
    for q in queries(family):
        own = residuals(a, [q]).values[0, :, 0]  # (L+1, D) at the delimiter
        base = first_token_logits(a, q)
        for layer in range(a.n_layers + 1):
            patched = first_token_logits(a, q, lambda enc, l=layer: [make_patch(a, enc, own[l], l)])
            torch.testing.assert_close(patched, base, atol=ATOL, rtol=1e-4)
    assert hooked_modules(a.decoder_layers) == []


@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_lens_at_last_layer_is_the_models_logits(family):
    a = tiny_adapter(family)
    for q in queries(family):
        last = int(a.encode([q]).lengths[0]) - 1  # Fuyu adds a begin-of-answer token after ':'
        own = residuals(a, [q], positions=[[last]]).values[0, :, 0]
        torch.testing.assert_close(a.lens(own[-1]), first_token_logits(a, q), atol=ATOL, rtol=1e-4)
        h = torch.randn(a.hidden_size, generator=torch.Generator().manual_seed(1))
        patched = first_token_logits(a, q, lambda enc: [make_patch(a, enc, h, a.n_layers, position=last)])
        torch.testing.assert_close(patched, a.lens(h), atol=ATOL, rtol=1e-4)


@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_batched_sweep_equals_naive_loop(family):
    a = tiny_adapter(family)
    src = residuals(a, [icl_prompt([("France", "Paris"), ("Italy", "Rome")], "Peru")]).values[0, :, 0]
    for q in queries(family):
        for mode in ("replace", "add"):
            fast, slow = layer_sweep(a, q, src, mode=mode, scale=2.0), naive_sweep(a, q, src, mode=mode, scale=2.0)
            assert fast.layers == slow.layers == list(range(a.n_layers + 1))
            torch.testing.assert_close(fast.logits, slow.logits, atol=ATOL, rtol=1e-4)
        unordered = layer_sweep(a, q, src, layers=[2, 0, 1, 2, 0])  # one pass, any order, layers repeated
        torch.testing.assert_close(unordered.logits, naive_sweep(a, q, src, layers=[2, 0, 1, 2, 0]).logits,
                                   atol=ATOL, rtol=1e-4)
        chunked = layer_sweep(a, q, src, layers=[2, 0, 1], max_batch=2)  # several passes, any order
        torch.testing.assert_close(chunked.logits, naive_sweep(a, q, src, layers=[2, 0, 1]).logits, atol=ATOL, rtol=1e-4)
        # the other strategy (packed one-row vs. repeated-cache batch) gives the same numbers too, where it can run:
        # packing repeats per-position inputs as (1, T) rows (mllama's (1, T, images, tiles) cross-attention mask
        # cannot be packed: its adapter declares no packed sweep)
        enc = a.encode([q])
        if any(k in enc.inputs and enc.inputs[k].dim() > 2 for k in a.per_position_keys):
            continue
        # (chunks only: gemma4 / molmo2 pack exactly over a cached prefix, not in one pass over their image blocks)
        others = [({"packed_sweep": not a.packed_sweep}, ((None, 2), ([2, 0, 1], 2)))]
        if a.joined_sweep:  # and the one-pass row with every copy through every layer
            others.append(({"joins_copies": False}, ((None, 64), ([2, 0, 1, 2, 0], 64))))
        for declared, runs in others:
            b = object.__new__(type(a.__class__.__name__, (a.__class__,), declared))
            b.__dict__.update(a.__dict__)
            for layers, max_batch in runs:
                torch.testing.assert_close(layer_sweep(b, q, src, layers=layers, max_batch=max_batch).logits,
                                           naive_sweep(a, q, src, layers=layers).logits, atol=ATOL, rtol=1e-4)
    assert hooked_modules(a.decoder_layers) == []


@pytest.mark.parametrize("family", VLMS)
def test_delimiter_is_the_colon_of_the_last_A_with_images(family):
    a = tiny_adapter(family)
    prompts = [query_prompt(color_image(1))]
    if family != "fuyu":  # Fuyu takes one image per prompt
        prompts.append(icl_prompt([(color_image(1), "Paris"), (color_image(2), "Rome")], color_image(3)))
    for p in prompts:
        enc = a.encode([p])
        ids = enc.input_ids[0, : int(enc.lengths[0])].tolist()
        d = int(enc.delimiters[0])
        assert a.decode_token(ids[d]).strip().endswith(":")
        before = a.tokenizer.decode(ids[: d + 1])
        assert before.rstrip().endswith("A:"), before[-20:]
        # nothing after it but template/special tokens: no other ':' follows
        assert not any(a.decode_token(t).strip().endswith(":") for t in ids[d + 1:])
        if family != "fuyu" and a.images_are_tokens:
            assert len(a.image_runs(ids)) == sum(not isinstance(s, str) for s in p)
        elif family != "fuyu":  # images by cross-attention (mllama): no image positions, and a clear refusal
            with pytest.raises(UnsupportedInputError):
                a.image_runs(ids)


@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_generation_patches_only_the_prefill(family):
    """generate() with a patch == greedy decoding that recomputes the whole sequence each step
    with the patch at the prompt's delimiter only (so later tokens are never patched)."""
    a = tiny_adapter(family)
    q = queries(family)[-1]
    h = torch.randn(a.n_layers + 1, a.hidden_size, generator=torch.Generator().manual_seed(2)) * 3
    layer = a.n_layers // 2
    gen = generate(a, q, h, layer, max_new_tokens=4)
    enc = a.encode([q])
    seq = []
    for _ in range(len(gen.token_ids)):
        inputs = a.extend_inputs(enc.inputs, torch.tensor([seq], dtype=torch.long))
        with torch.no_grad(), intervene(a.residual_sites, [make_patch(a, enc, h, layer)]):
            seq.append(int(a.model(**inputs, use_cache=False).logits[0, -1].argmax()))
    assert gen.token_ids == seq
    unpatched = generate(a, q, max_new_tokens=1)
    assert hooked_modules(a.decoder_layers) == []
    assert unpatched.first_logits.shape == gen.first_logits.shape


@pytest.mark.parametrize("family", ["llama", "idefics3", "qwen2_vl"])
def test_no_hook_survives_an_exception(family):
    a = tiny_adapter(family)
    q = query_prompt("Spain")
    before = first_token_logits(a, q)
    boom = RuntimeError("boom")

    def raising_hook(module, args, output):
        raise boom

    handle = a.decoder_layers[-1].register_forward_hook(raising_hook)
    try:
        with pytest.raises(RuntimeError):
            layer_sweep(a, q, torch.zeros(a.hidden_size))
        with pytest.raises(RuntimeError):
            generate(a, q, torch.zeros(a.hidden_size), 1)
    finally:
        handle.remove()
    assert hooked_modules(a.decoder_layers) == []
    # The model answers exactly as before the failures: nothing stayed patched.
    torch.testing.assert_close(first_token_logits(a, q), before)


@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_batched_extraction_equals_one_at_a_time(family):
    a = tiny_adapter(family)
    prompts = [icl_prompt([("France", "Paris")], "Peru"), query_prompt("a much longer query text here")]
    if family in VLMS:
        prompts += [query_prompt(color_image(4)), query_prompt(color_image(5, (64, 20)))]
    together = residuals(a, prompts).values
    alone = torch.cat([residuals(a, [p]).values for p in prompts])
    torch.testing.assert_close(together, alone, atol=ATOL, rtol=1e-4)
