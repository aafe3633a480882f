"""Llama 3.2 Vision (mllama): cross-attention layers skipped on text queries, images that are not tokens.

The adapter lists the self-attention layers only (taskvec/models/families/mllama.py); these tests
fail if it listed a cross-attention layer (a hook that never fires on a text query), if the
repeated-cache sweep lost the cross-attention cache or mask, or if image positions were read
from the <|image|> markers.
"""

import pytest
import torch

from taskvec.core.activations import context_embeddings, residuals
from taskvec.core.hooks import Capture, hooked_modules, intervene
from taskvec.core.patching import first_token_logits, generate, make_patch
from taskvec.core.prompts import icl_prompt, query_prompt
from taskvec.core.sweep import layer_sweep, naive_sweep
from taskvec.errors import ModelLoadError, UnsupportedInputError
from taskvec.models.families.mllama import MllamaAdapter, build_tiny
from taskvec.testing import color_image, tiny_adapter

TEXT = query_prompt("Spain")
IMAGE = query_prompt(color_image(3))
IMAGES = icl_prompt([(color_image(1), "Paris"), (color_image(2), "Rome")], color_image(3))


@pytest.fixture(scope="module")
def a():
    return tiny_adapter("mllama")


def _all_layers(a):
    return a.model.model.language_model.layers


def test_listed_layers_skip_exactly_the_cross_attention_layers(a):
    full, cross = _all_layers(a), a.model.config.text_config.cross_attention_layers
    assert cross == [1] and len(full) == 4
    listed = [i for i, m in enumerate(full) if any(m is x for x in a.decoder_layers)]
    assert listed == a.self_attention_layers == [i for i in range(len(full)) if i not in cross]
    assert a.n_layers == len(full) - len(cross) == 3
    assert all(type(m).__name__ == "MllamaSelfAttentionDecoderLayer" for m in a.decoder_layers)
    assert all(type(full[i]).__name__ == "MllamaCrossAttentionDecoderLayer" for i in cross)
    assert not any(m is a.decoder_layers for m in a.model.modules())  # a view: the model is not changed


def test_hooks_fire_at_every_residual_layer_on_a_text_query(a):
    enc = a.encode([TEXT])
    layers = list(range(a.n_layers + 1))
    cap = Capture(layers, enc.delimiters[:, None])
    with torch.no_grad(), intervene(a.residual_sites, captures=[cap]) as log:
        a.model(**a.full_inputs(enc), use_cache=False)
    assert log.calls == {l: 1 for l in layers} and sorted(cap.store) == layers
    # the trap is real: the cross-attention layer itself never runs on a text query, and runs with an image
    seen = []
    handle = _all_layers(a)[1].register_forward_hook(lambda *args: seen.append(1))
    try:
        first_token_logits(a, TEXT)
        assert seen == []
        first_token_logits(a, IMAGE)
        assert seen == [1]
    finally:
        handle.remove()
    assert hooked_modules(a.model) == []


@pytest.mark.parametrize("prompt", [IMAGE, IMAGES], ids=["image-query", "image-examples"])
def test_identity_patch_is_exact_and_lens_is_the_logits_with_images(a, prompt):
    own = residuals(a, [prompt]).values[0, :, 0]  # (L+1, D) at the delimiter
    base = first_token_logits(a, prompt)
    for layer in range(a.n_layers + 1):
        patched = first_token_logits(a, prompt, lambda enc, l=layer: [make_patch(a, enc, own[l], l)])
        assert torch.equal(patched, base), layer
    last = int(a.encode([prompt]).lengths[0]) - 1
    h = residuals(a, [prompt], positions=[[last]]).values[0, -1, 0]
    torch.testing.assert_close(a.lens(h), base, atol=2e-5, rtol=1e-5)


def test_the_image_reaches_the_answer_through_cross_attention(a):
    """The tiny build's gates are open: a different image changes the logits (else the sweep test is vacuous)."""
    other = query_prompt(color_image(4))
    assert float((first_token_logits(a, IMAGE) - first_token_logits(a, other)).abs().max()) > 1e-3


def test_cached_prefix_sweep_keeps_the_cross_attention_cache_and_mask(a):
    assert a.causal_prefix and not a.packed_sweep
    src = residuals(a, [icl_prompt([("France", "Paris"), ("Italy", "Rome")], "Peru")]).values[0, :, 0]
    for prompt in (IMAGE, IMAGES):
        slow = naive_sweep(a, prompt, src, mode="add", scale=2.0).logits
        torch.testing.assert_close(layer_sweep(a, prompt, src, mode="add", scale=2.0).logits, slow, atol=2e-5, rtol=1e-5)
        chunked = layer_sweep(a, prompt, src, mode="add", scale=2.0, max_batch=2).logits  # the cache copied per chunk
        torch.testing.assert_close(chunked, slow, atol=2e-5, rtol=1e-5)
    # the per-position cross-attention mask matters: a suffix step without it attends to the padding tile too
    unsliced = type("Unsliced", (MllamaAdapter,), {"per_position_keys": MllamaAdapter.__mro__[1].per_position_keys})
    b = object.__new__(unsliced)
    b.__dict__.update(a.__dict__)
    wide = query_prompt(color_image(5, (40, 40)))  # a square image uses 1 of the 2 tiles: the other is padding
    slow = naive_sweep(a, wide, src).logits
    assert float((layer_sweep(b, wide, src).logits - slow).abs().max()) > 1e-3
    torch.testing.assert_close(layer_sweep(a, wide, src).logits, slow, atol=2e-5, rtol=1e-5)


def test_image_positions_are_refused_not_guessed(a):
    ids = a.encode([IMAGES]).input_ids[0].tolist()
    with pytest.raises(UnsupportedInputError, match="cross-attention"):
        a.image_runs(ids)
    with pytest.raises(UnsupportedInputError, match="not as tokens"):
        context_embeddings(a, IMAGES, layer=1)
    texts = context_embeddings(a, icl_prompt([("France", "Paris"), ("Italy", "Rome")], "Peru"), layer=1)
    assert len(texts) == 2  # text examples still have context embeddings


def test_generation_patches_only_the_prefill_with_an_image(a):
    h = torch.randn(a.n_layers + 1, a.hidden_size, generator=torch.Generator().manual_seed(2)) * 3
    layer = 2
    gen = generate(a, IMAGE, h, layer, max_new_tokens=4)
    enc = a.encode([IMAGE])
    seq = []
    for _ in gen.token_ids:  # recompute the sequence, its cross-attention mask extended as generate extends it
        inputs = a.extend_inputs(enc.inputs, torch.tensor([seq], dtype=torch.long))
        with torch.no_grad(), intervene(a.residual_sites, [make_patch(a, enc, h, layer)]):
            seq.append(int(a.model(**inputs, use_cache=False).logits[0, -1].argmax()))
    assert gen.token_ids == seq


@pytest.mark.parametrize("cross", [(3,), (0, 2)], ids=["last-is-cross", "first-is-cross"])
def test_a_layout_with_cross_attention_at_either_end_is_refused(cross):
    model, proc = build_tiny("mllama", 0, cross_attention_layers=cross)
    with pytest.raises(ModelLoadError, match="first and last decoder layers are self-attention"):
        MllamaAdapter(model, proc, "tiny-random/mllama")
