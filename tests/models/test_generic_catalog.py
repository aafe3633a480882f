"""The generic adapter (any decoder-only model with the standard layout) and the catalog of every
image-text-to-text model type of the installed transformers (``python -m taskvec models``)."""

from __future__ import annotations

import pytest
import torch

from taskvec.analysis.invariants import run_checks
from taskvec.core.activations import residuals
from taskvec.core.prompts import icl_prompt, query_prompt
from taskvec.core.sweep import layer_sweep, naive_sweep
from taskvec.errors import ModelLoadError
from taskvec.models import catalog, load_model, registry
from taskvec.models.generic import GenericAdapter, image_placeholder
from taskvec.models.loading import _adapter_for
from taskvec.testing import build_tiny, color_image, tiny_adapter

PAIRS = [("France", "Paris"), ("Italy", "Rome"), ("Peru", "Lima")]


@pytest.mark.parametrize("family", ["llava", "llava_onevision", "idefics2", "llama"])
def test_generic_adapter_equals_the_family_adapter(family):
    """On architectures with the standard layout, reading layout and image token from the model and
    processor gives the family file's prompts, residuals and sweep, and every invariant passes."""
    fam = tiny_adapter(family)
    gen = GenericAdapter(fam.model, fam.processor, f"tiny-random/{family}", meaningless_weights=True)
    assert gen.image_placeholder == fam.image_placeholder
    assert gen.decoder_layers is fam.decoder_layers and gen.final_norm is fam.final_norm
    q = query_prompt(color_image(1)) if fam.supports_images else query_prompt("Spain")
    prompt = icl_prompt(PAIRS, q[0])
    a, b = gen.encode([prompt]), fam.encode([prompt])
    assert torch.equal(a.input_ids, b.input_ids) and torch.equal(a.delimiters, b.delimiters)
    torch.testing.assert_close(residuals(gen, [prompt]).values, residuals(fam, [prompt]).values)
    vec = residuals(fam, [icl_prompt(PAIRS, "Chile")]).values[0, :, 0]
    # no declared causal prefix: the generic sweep IS the per-layer loop, equal to the family's fast sweep
    torch.testing.assert_close(layer_sweep(gen, q, vec).logits, naive_sweep(fam, q, vec).logits)
    torch.testing.assert_close(layer_sweep(fam, q, vec).logits, layer_sweep(gen, q, vec).logits, atol=2e-5, rtol=1e-4)
    report = run_checks(gen, quick=True)
    assert report.passed, report.rows()
    assert gen.describe()["verified"] is False and gen.family == f"generic:{fam.model.config.model_type}"


def test_generic_adapter_reads_deepstack_models_at_the_next_layers_input():
    """A DeepStack model served by the generic adapter (as Qwen3-Omni or Granite-Docling would be) hooks
    residual l at decoder layer l's input, what that layer receives, like the qwen3_vl family file."""
    fam = tiny_adapter("qwen3_vl")
    gen = GenericAdapter(fam.model, fam.processor, "tiny-random/qwen3_vl", meaningless_weights=True)
    assert fam.residual_at_input and gen.residual_at_input and gen.residual_sites.at_input
    plain = tiny_adapter("llava")
    assert not GenericAdapter(plain.model, plain.processor, "tiny-random/llava").residual_at_input
    # the same sites as the family's (whose mechanism tests/models/test_qwen3_vl_family.py proves)
    assert list(gen.residual_sites.layers) == list(fam.residual_sites.layers)


def test_image_placeholder_from_config_id_when_the_processor_has_none():
    model, processor = build_tiny("llava")

    class Bare:  # a processor exposing only its tokenizer
        tokenizer = processor.tokenizer

    assert image_placeholder(model, Bare()) == "<image>"  # from config.image_token_id
    assert image_placeholder(model, processor.tokenizer) is None  # a bare tokenizer: text only


def test_every_image_text_type_has_a_status():
    entries = {e.model_type: e for e in catalog.catalog()}
    assert set(catalog.image_text_types()) <= set(entries)
    assert set(registry.model_types()) <= set(entries)
    for e in entries.values():
        assert e.status in ("supported", "refused", "generic") and e.detail
        if e.status == "supported":
            assert registry.family_for(e.model_type) is not None and e.checkpoint
    for t in ("shieldgemma2", "chameleon", "florence2"):
        assert entries[t].status == "refused", t
    for t in ("mllama", "paligemma", "llama4", "deepseek_vl", "perception_lm", "cohere2_vision"):  # their family files
        assert entries[t].status == "supported", t
    for t in ("qwen3_vl", "qwen3_vl_moe", "gemma3n"):  # DeepStack / AltUp served by their family files
        assert entries[t].status == "supported", t


@pytest.mark.parametrize("model_type, match", [("shieldgemma2", "prefix-LM"), ("chameleon", "discrete VQ"),
                                              ("pix2struct", "encoder-decoder")])
def test_refused_types_say_why(model_type, match):
    with pytest.raises(ModelLoadError, match=match):
        _adapter_for(model_type, f"some/{model_type}")


def test_unlisted_types_get_the_generic_adapter():
    assert _adapter_for("ovis2", "AIDC-AI/Ovis2-1B") is GenericAdapter  # (molmo2 has a family file now)
    assert _adapter_for("molmo2", "allenai/Molmo2-8B") is registry.adapter_for("molmo2")
    assert _adapter_for("llava", "x") is registry.adapter_for("llava")


def test_generic_load_of_a_saved_folder_and_a_nonstandard_layout(tmp_path):
    """The real from_pretrained path: a saved tiny Llama whose type no family serves loads generically
    (same logits as the family adapter); GPT-2 (layers at transformer.h) is refused with the reason."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from taskvec.testing.builders import byte_level_tokenizer

    model, tok = build_tiny("llama")
    model.config.model_type = "llama"
    model.save_pretrained(tmp_path / "llama")
    tok.save_pretrained(tmp_path / "llama")
    fam = load_model(str(tmp_path / "llama"))
    gen = GenericAdapter(fam.model, fam.processor, "saved")
    q = query_prompt("Spain")
    torch.testing.assert_close(residuals(gen, [q]).values, residuals(fam, [q]).values)
    GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=300)).save_pretrained(tmp_path / "gpt2")
    byte_level_tokenizer(bos=None, eos="</s>", pad="<pad>").save_pretrained(tmp_path / "gpt2")
    with pytest.raises(ModelLoadError, match="'gpt2' has no family file and not the standard decoder layout"):
        load_model(str(tmp_path / "gpt2"))


def test_hook_census_ignores_only_transformers_own_hooks():
    """transformers keeps output-capturing hooks on a vision tower after its first image forward; the
    'no hook left' checks must not count those, and must still count any other hook."""
    from taskvec.core.hooks import hooked_modules
    from taskvec.core.patching import first_token_logits

    fam = tiny_adapter("llava")
    first_token_logits(fam, query_prompt(color_image(2)))
    tower = fam.model.model.vision_tower.encoder.layers[0]
    assert any(h.__module__.startswith("transformers.") for h in tower._forward_hooks.values())
    assert hooked_modules(fam.model) == []
    handle = tower.register_forward_hook(lambda *a: None)
    try:
        assert hooked_modules(fam.model) == ["model.vision_tower.encoder.layers.0"]
    finally:
        handle.remove()


def test_models_command(capsys):
    from pathlib import Path

    from taskvec.cli import main
    from taskvec.cli.models import markdown_table

    assert main(["models", "--status", "refused"]) == 0
    out = capsys.readouterr().out
    assert "chameleon" in out and "cross-attention" in out and "llava " not in out and "mllama" not in out
    assert f"{len(catalog.REFUSED)} refused" in out or "refused" in out.splitlines()[-1]
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = readme.split("<!-- models-table -->\n", 1)[1].split("\n<!-- /models-table -->", 1)[0]
    assert table == markdown_table()  # the README's table is the registry's


@pytest.mark.slow
def test_models_verify_runs_the_invariants_on_every_tiny_build(capsys):
    import json

    from taskvec.cli import main

    assert main(["models", "--status", "supported", "--verify", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["model_type"] for r in rows} == set(registry.model_types())
    assert all(r["invariants_pass"] for r in rows), [r for r in rows if not r["invariants_pass"]]


@pytest.mark.parametrize("model_type", ["internvl", "aya_vision"])
def test_tiling_processors_load_as_one_tile_per_image(model_type, tmp_path):
    """On the real loading path (a saved processor with the hub's call defaults: tiling on, left padding),
    the family adapter makes one image one tile, pads on the right, and finds one run per image."""
    model, proc = build_tiny(model_type)
    for attr in ("images_kwargs", "text_kwargs"):  # back to the processor class's defaults, as a hub load has them
        proc.__dict__.pop(attr, None)
    assert type(proc).images_kwargs.get("crop_to_patches") is True
    model.save_pretrained(tmp_path)
    proc.save_pretrained(tmp_path)
    adapter = load_model(str(tmp_path))
    assert adapter.processor.images_kwargs["crop_to_patches"] is False
    wide = query_prompt(color_image(4, size=(90, 40)))  # several crops under the processor's default
    enc = adapter.encode([wide, icl_prompt(PAIRS, color_image(5))])  # a batch: right padding required
    one = adapter.encode([wide])
    assert torch.equal(enc.input_ids[0, : int(enc.lengths[0])], one.input_ids[0])
    ids = enc.input_ids[1, : int(enc.lengths[1])].tolist()
    assert len(adapter.image_runs(ids)) == 1
    n = [len(r) for r in adapter.image_runs(one.input_ids[0].tolist())]  # one image, one block, whatever its size
    assert n == [len(adapter.image_runs(ids)[0])]
