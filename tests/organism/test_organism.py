"""The shipped model organism: loads offline, tokenizer/processor contracts, KV cache,
padding, and a fast self-check that text task vectors beat prompting on image queries."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from taskvec.organism import ASSET_DIR, OrganismForCausalLM, load_organism


@pytest.fixture(scope="module")
def organism():
    torch.manual_seed(0)
    return load_organism()


@pytest.fixture(scope="module")
def world_json():
    return json.loads((ASSET_DIR / "world.json").read_text())


def test_weights_load_offline_and_are_small(organism, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    size = (ASSET_DIR / "model.safetensors").stat().st_size
    assert size <= 20 * 2**20, f"model.safetensors is {size / 2**20:.1f} MB, the budget is 20 MB"
    from transformers import AutoConfig, AutoModelForCausalLM

    import taskvec.organism as org

    org._register()  # idempotent
    cfg = AutoConfig.from_pretrained(ASSET_DIR, local_files_only=True)
    assert cfg.model_type == "taskvec-organism"
    m = AutoModelForCausalLM.from_pretrained(ASSET_DIR, local_files_only=True)
    assert isinstance(m, OrganismForCausalLM)
    model, _ = organism
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()  # tied


def test_tokenizer_round_trips_template(organism, world_json):
    _, proc = organism
    tok = proc.tokenizer
    country = world_json["entities"]["country"][0]
    text = f"Q:{country}\nA:Paris\n\nQ:{country}\nA:"
    ids = tok(text)["input_ids"]
    assert tok.decode(ids) == text
    toks = tok.convert_ids_to_tokens(ids)
    assert toks.count(":") == 4 and toks.count("\n") == 4
    instr = world_json["tasks"][0]["instruction"]
    assert tok.decode(tok(instr)["input_ids"]) == instr
    assert tok.unk_token_id not in tok(instr)["input_ids"]


def test_processor_expands_images_and_resizes(organism):
    model, proc = organism
    cfg = model.config
    imgs = [Image.new("RGB", (300, 200), "red"), Image.new("L", (7, 9))]
    enc = proc(text=["Q:<image>\nA:", "<image> and"], images=imgs, return_tensors="pt", padding=True)
    assert enc["pixel_values"].shape == (2, 3, cfg.image_size, cfg.image_size)
    row = enc["input_ids"][0].tolist()
    s = row.index(cfg.img_start_token_id)
    assert row[s + 1 : s + 1 + cfg.image_seq_len] == [cfg.image_patch_token_id] * cfg.image_seq_len
    assert row[s + 1 + cfg.image_seq_len] == cfg.img_end_token_id
    assert proc.batch_decode(enc["input_ids"][:1], skip_special_tokens=True) == ["Q:\nA:"]
    with pytest.raises(ValueError, match="placeholders"):
        proc(text="Q:<image>\nA:", images=None)


def _inputs(proc):
    img = Image.new("RGB", (64, 64), (200, 30, 30))
    return proc(text="Q:<image>\nA:red\n\nQ:<image>\nA:", images=[img, img], return_tensors="pt")


@torch.no_grad()
def test_generate_with_cache_equals_greedy_full_forwards(organism):
    model, proc = organism
    enc = _inputs(proc)
    out = model.generate(**enc, max_new_tokens=4, do_sample=False)
    ids = enc["input_ids"]
    for _ in range(4):
        z = model(input_ids=ids, pixel_values=enc["pixel_values"], use_cache=False).logits
        ids = torch.cat([ids, z[:, -1].argmax(-1, keepdim=True)], 1)
    assert out.tolist() == ids.tolist()


@torch.no_grad()
def test_right_padded_batch_equals_unpadded(organism):
    model, proc = organism
    texts = ["Q:France\nA:", "The capital city of the country:\nQ:France\nA:"]
    batch = proc(text=texts, return_tensors="pt", padding=True)
    zb = model(**batch).logits
    for i, t in enumerate(texts):
        z = model(**proc(text=t, return_tensors="pt")).logits[0]
        assert torch.allclose(zb[i, : z.shape[0]], z, atol=1e-5)


@torch.no_grad()
def test_cached_prefix_expanded_along_batch(organism):
    model, proc = organism
    enc = _inputs(proc)
    ids, pv = enc["input_ids"], enc["pixel_values"]
    full = model(input_ids=ids, pixel_values=pv).logits[0, -1]
    out = model(input_ids=ids[:, :-1], pixel_values=pv, use_cache=True)
    cache = out.past_key_values
    cache.batch_repeat_interleave(3)
    z = model(input_ids=ids[:, -1:].repeat(3, 1), past_key_values=cache, use_cache=True).logits[:, -1]
    assert torch.allclose(z, full.expand(3, -1), atol=1e-5)


def test_selfcheck_text_vector_patch_beats_prompting(organism):
    from taskvec.organism.selfcheck import quick_check

    model, proc = organism
    shipped = json.loads((ASSET_DIR / "selfcheck.json").read_text())
    r = quick_check(model, proc, layer=shipped["best_layer"], n_test=20, seed=0)
    # Shipped weights (run 13) on this subset (seeds 0/1): patch 0.63/0.74, prompt 0.39/0.53,
    # no context 0.27/0.30 (full self-check in docs/RESULTS_ORGANISM.md). Margins ~50-60% of that.
    assert r["patch"] - r["prompt"] >= 0.12, r
    assert r["patch"] - r["no_context"] >= 0.22, r


def test_suggested_layer_is_the_validated_one():
    import json

    from taskvec.analysis.compare import suggested_layer
    from taskvec.models import load_model
    from taskvec.organism import ASSET_DIR

    best = json.loads((ASSET_DIR / "selfcheck.json").read_text())["best_layer"]
    assert suggested_layer(load_model("organism")) == best


def test_app_banner_states_what_the_organism_was_trained_for():
    from taskvec.app.host import ModelHost

    host = ModelHost()
    banner = host.load("organism")
    assert "never trained" in banner and "TVP-loss" in banner and "Random weights" not in banner


@pytest.mark.parametrize("kind", ["text examples", "image examples"])
def test_lens_phases_run_input_then_task_then_answer(kind):
    """The logit lens at the delimiter (the app's view, the paper's Fig. 12 metric with ':' as the
    fixed input token): per task, the leading role over layers is input, then task, then answer,
    each for at least one layer and in that order. For text examples the task phase is planted
    by the task-lens loss at residual layer 3; for image examples it is not trained."""
    import re

    from taskvec.analysis.phases import phases
    from taskvec.data.tasks import paper_tasks
    from taskvec.models import load_model

    adapter = load_model("organism")
    for task in paper_tasks():
        phase = phases(adapter, task, kind.split()[0], n_sets=8, seed=1).curve
        roles = "".join(r[0] for r in phase.dominant())  # i, t, a per residual layer 0..L
        assert re.fullmatch(r"i+t+a+", roles), (task.id, kind, roles, phase.mean)
        assert roles.startswith("i") and roles.endswith("a")


def test_organism_sweeps_equal_the_per_layer_loop():
    """The organism takes whole 4-D masks: its one-pass and cached-prefix sweeps equal the naive loop."""
    from taskvec.core.activations import residuals
    from taskvec.core.prompts import icl_prompt, query_prompt
    from taskvec.core.sweep import layer_sweep, naive_sweep
    from taskvec.models import load_model

    a = load_model("organism")
    assert a.packed_sweep
    src = residuals(a, [icl_prompt([("France", "Paris"), ("Italy", "Rome")], "Peru")]).values[0, :, 0]
    img = Image.new("RGB", (40, 30), (200, 30, 40))
    for q in (query_prompt("Spain"), query_prompt(img)):
        ref = naive_sweep(a, q, src)
        torch.testing.assert_close(layer_sweep(a, q, src).logits, ref.logits, atol=1e-4, rtol=1e-4)  # one pass
        torch.testing.assert_close(layer_sweep(a, q, src, max_batch=3).logits, ref.logits, atol=1e-4, rtol=1e-4)
