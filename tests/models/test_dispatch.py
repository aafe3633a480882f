"""A model dispatched by accelerate (issue 11: larger than one GPU), tested through its CPU/disk
offload path: the same hooks, patches, sweeps and lens, numbers equal to the undispatched model."""

from __future__ import annotations

import pytest
import torch

from taskvec.analysis.invariants import run_checks
from taskvec.cli import main
from taskvec.core.activations import residuals
from taskvec.core.patching import first_token_logits
from taskvec.core.prompts import icl_prompt, query_prompt
from taskvec.core.sweep import layer_sweep
from taskvec.errors import ModelLoadError
from taskvec.models import load_model
from taskvec.models.loading import parse_max_memory
from taskvec.testing import build_tiny

PAIRS = [("France", "Paris"), ("Italy", "Rome"), ("Peru", "Lima")]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("llama")
    model, tok = build_tiny("llama")
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def _same_numbers(a, b):
    q = query_prompt("Spain")
    vec = residuals(b, [icl_prompt(PAIRS, "Chile")]).values[0, :, 0]
    torch.testing.assert_close(residuals(a, [icl_prompt(PAIRS, "Chile")]).values[0, :, 0], vec)
    torch.testing.assert_close(first_token_logits(a, q), first_token_logits(b, q))
    torch.testing.assert_close(layer_sweep(a, q, vec).logits, layer_sweep(b, q, vec).logits)


def test_explicit_map_with_disk_offload(folder, tmp_path):
    dm = {"model.embed_tokens": "cpu", "model.layers.0": "cpu", "model.layers.1": "disk", "model.layers.2": "disk",
          "model.layers.3": "cpu", "model.norm": "cpu", "model.rotary_emb": "cpu", "lm_head": "cpu"}
    plain = load_model(str(folder))
    sharded = load_model(str(folder), device_map=dm, offload_folder=str(tmp_path))
    assert sharded.model.hf_device_map["model.layers.1"] == "disk" and sharded.device == torch.device("cpu")
    assert any(p.device.type == "meta" for p in sharded.model.parameters())  # really offloaded
    _same_numbers(sharded, plain)
    report = run_checks(sharded)
    assert report.passed, report.rows()


def test_auto_map_with_a_memory_budget_offloads_to_disk(folder, tmp_path):
    sharded = load_model(str(folder), device_map="auto", max_memory={"cpu": "60KB"}, offload_folder=str(tmp_path))
    assert "disk" in set(sharded.model.hf_device_map.values())
    _same_numbers(sharded, load_model(str(folder)))


def test_check_cli_on_a_dispatched_model(folder, tmp_path, capsys):
    assert main(["check", "--model", str(folder), "--quick", "--device-map", "auto", "--max-memory", "cpu=60KB",
                 "--offload-folder", str(tmp_path)]) == 0
    assert "mechanics verified on this checkpoint" in capsys.readouterr().out


def test_dispatch_bad_input(folder):
    with pytest.raises(ModelLoadError, match="Unknown device map"):
        load_model(str(folder), device_map="everywhere")
    with pytest.raises(ModelLoadError, match="go with --device-map"):
        load_model(str(folder), max_memory={"cpu": "1GB"})
    for name in ("tiny-random/llama", "organism", "smollm2"):
        with pytest.raises(ModelLoadError, match="device map applies to hub ids and local folders"):
            load_model(name, device_map="auto")
    assert parse_max_memory("0=20GiB, cpu=64GiB") == {0: "20GiB", "cpu": "64GiB"}
    with pytest.raises(ModelLoadError, match="device=size pairs"):
        parse_max_memory("20GiB")
