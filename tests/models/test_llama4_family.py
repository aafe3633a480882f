"""Llama 4: mixture-of-experts layers and chunked local attention with no-RoPE global layers.

The shared suites run the default tiny build (chunk 64: short prompts stay inside one chunk). These
tests build one with chunk 8 and a temperature floor of 4, so the prompts cross chunks and the
no-RoPE layers' temperature varies: the declared repeated-cache sweep must still equal the per-layer
loop, the packed sweep the adapter does not declare must not (chunk masks bypassed), and batching
must not change any real token (per-token routing, no capacity dropping).
"""

import pytest
import torch

from taskvec.core.activations import residuals
from taskvec.core.prompts import icl_prompt, query_prompt
from taskvec.core.hooks import hooked_modules
from taskvec.core.sweep import layer_sweep, naive_sweep
from taskvec.errors import PatchError
from taskvec.models.families.llama4 import Llama4Adapter, build_tiny
from taskvec.testing import color_image, tiny_adapter

ATOL = 2e-5


@pytest.fixture(scope="module")
def chunked():
    model, proc = build_tiny("llama4", 0, chunk=8, floor_scale=4)
    return Llama4Adapter(model, proc, "tiny-random/llama4 (chunk 8)", meaningless_weights=True)


def _prompts():
    return [icl_prompt([("Chile", "Santiago"), ("Peru", "Lima")], "Spain"),
            icl_prompt([(color_image(1), "Paris")], color_image(3))]


def test_the_tiny_builds_cross_chunks_and_route_through_experts(chunked):
    cfg = chunked.text_config
    assert cfg.attention_chunk_size == 8 and cfg.layer_types == ["chunked_attention"] * 3 + ["full_attention"]
    assert cfg.no_rope_layers == [1, 1, 1, 0] and cfg.moe_layers == [1, 3]
    assert [type(l.feed_forward).__name__ for l in chunked.decoder_layers] == ["Llama4TextMLP", "Llama4TextMoe"] * 2
    assert all(int(chunked.encode([p]).lengths[0]) > 2 * cfg.attention_chunk_size for p in _prompts())


def test_declared_sweep_equals_the_loop_and_packing_would_not(chunked):
    assert chunked.causal_prefix and not chunked.packed_sweep
    src = residuals(chunked, [icl_prompt([("France", "Paris"), ("Italy", "Rome")], "Peru")]).values[0, :, 0]
    packed = type("Packed", (Llama4Adapter,), {"packed_sweep": True, "joins_copies": False})
    b = object.__new__(packed)
    b.__dict__.update(chunked.__dict__)
    for q in _prompts():
        slow = naive_sweep(chunked, q, src, mode="add", scale=2.0).logits
        torch.testing.assert_close(layer_sweep(chunked, q, src, mode="add", scale=2.0).logits, slow, atol=ATOL, rtol=1e-5)
        torch.testing.assert_close(layer_sweep(chunked, q, src, mode="add", scale=2.0, max_batch=2).logits, slow,
                                   atol=ATOL, rtol=1e-5)  # the chunked layers' sliding cache, copied per chunk
        # one packed row: its 4-D mask is used as-is by the chunked layers, so copies see across chunks
        assert float((layer_sweep(b, q, src, mode="add", scale=2.0).logits - slow).abs().max()) > 1e-3
    # joining copies at their layer would not run wrong either: its (1, T, d) complex rotary table is refused by name
    joined = object.__new__(type("Joined", (Llama4Adapter,), {"packed_sweep": True}))
    joined.__dict__.update(chunked.__dict__)
    with pytest.raises(PatchError, match="'position_embeddings'"):
        layer_sweep(joined, _prompts()[0], src)
    assert hooked_modules(chunked.model) == []


def test_moe_routes_each_token_alone(chunked):
    """Llama4TextMoe on a batch of tokens == on each token alone: no capacity limit, no dropped tokens."""
    moe = chunked.decoder_layers[1].feed_forward
    x = torch.randn(3, 5, chunked.hidden_size, generator=torch.Generator().manual_seed(0))  # (B, T, D)
    with torch.no_grad():
        together = moe(x)[0].view(3, 5, -1)
        alone = torch.stack([torch.stack([moe(x[b, t][None, None])[0][0] for t in range(5)]) for b in range(3)])
    torch.testing.assert_close(together, alone, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("which", ["default", "chunk 8"])
def test_batched_extraction_equals_one_at_a_time(chunked, which):
    a = tiny_adapter("llama4") if which == "default" else chunked
    prompts = [*_prompts(), query_prompt("a much longer query text here"), query_prompt(color_image(5, (64, 20)))]
    together = residuals(a, prompts).values  # right-padded: padding tokens go through the experts too
    alone = torch.cat([residuals(a, [p]).values for p in prompts])
    torch.testing.assert_close(together, alone, atol=ATOL, rtol=1e-5)


def test_one_image_is_one_block_whatever_its_shape():
    """The adapter sets one crop per image and right padding on a processor that has the hub's defaults."""
    model, proc = build_tiny("llama4", 0)
    proc.images_kwargs, proc.text_kwargs = {}, {}  # the processor's own defaults: up to 16 crops, left padding
    wide = proc(text=["Q:<|image|>\nA:"], images=[[color_image(2, (120, 20))]], return_tensors="pt")["input_ids"]
    assert wide[0].tolist().count(model.config.image_token_index) > 4
    a = Llama4Adapter(model, proc, "tiny-random/llama4", meaningless_weights=True)
    vocab = a.tokenizer.get_vocab()
    for size in [(40, 30), (120, 20), (20, 120)]:
        enc = a.encode([query_prompt(color_image(2, size))])
        ids = enc.input_ids[0].tolist()
        assert [len(r) for r in a.image_runs(ids)] == [4]
        assert vocab["<|tile_x_separator|>"] not in ids and vocab["<|tile_y_separator|>"] not in ids
        assert enc.inputs["pixel_values"].dtype == torch.float32  # the processor rescales in bfloat16
    two = a.encode([query_prompt("Spain"), query_prompt(color_image(3))])
    assert two.inputs["attention_mask"][:, 0].tolist() == [1, 1]  # right padding
