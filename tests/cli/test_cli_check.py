"""``python -m taskvec check``: every invariant printed with its max abs difference and the dtype's
tolerance; exit 1 on a failure. Tiny models here; the real SmolLM2 in tests/real/."""

import json

import pytest
import torch

import taskvec.analysis.invariants as inv
from taskvec.analysis.invariants import TOLERANCES, CheckResult, run_checks
from taskvec.cli import main
from taskvec.models import load_model, registry
from taskvec.testing import build_tiny

NAMES = ["identity_patch", "lens_last_layer", "sweep_vs_loop", "delimiter_text", "delimiter_image", "prefill_only",
         "no_hook_after_raise"]


def test_check_prints_every_invariant_with_diff_and_tolerance(capsys):
    assert main(["check", "--model", "tiny-random/llama"]) == 0
    out = capsys.readouterr().out
    assert "tolerance for float32: atol 0.001 + rtol 0.0001" in out
    for name in NAMES:
        line = next(l for l in out.splitlines() if l.startswith(name))
        assert " ok " in line, line
    assert "mechanics verified on this checkpoint (7/7 invariants)" in out
    assert "text-only model: an image is refused" in out


def test_check_json_on_a_vlm_finds_the_delimiter_with_images(capsys):
    assert main(["check", "--model", "tiny-random/idefics3", "--quick", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    rows = {r["name"]: r for r in out["results"]}
    assert out["passed"] and list(rows) == NAMES
    assert "with 3 images" in rows["delimiter_image"]["detail"] and rows["delimiter_image"]["passed"]
    for name in ("identity_patch", "lens_last_layer", "sweep_vs_loop"):
        assert 0 <= rows[name]["max_abs_diff"] <= rows[name]["tolerance"]


def test_a_failing_invariant_exits_nonzero(monkeypatch, capsys):
    def broken(adapter, quick):
        return CheckResult("broken", False, 1.0, 1e-3, "made to fail")

    def raising(adapter, quick):
        raise RuntimeError("kaput")

    monkeypatch.setattr(inv, "CHECKS", inv.CHECKS[:1] + (broken, raising))
    assert main(["check", "--model", "tiny-random/llama"]) == 1
    out = capsys.readouterr().out
    assert "broken               FAIL" in out and "raised RuntimeError: kaput" in out
    assert "mechanics check FAILED on this checkpoint: broken, raising" in out


def test_bf16_uses_the_looser_tolerance():
    model, tok = build_tiny("llama")
    a = registry.adapter_for("llama")(model.to(torch.bfloat16), tok, "tiny-random/llama-bf16", meaningless_weights=True)
    report = run_checks(a, quick=True)
    assert report.passed, report.rows()
    lens = next(r for r in report.results if r.name == "lens_last_layer")
    assert lens.tolerance >= TOLERANCES[torch.bfloat16][0] > TOLERANCES[torch.float32][0]
    assert report.dtype == "bfloat16"


def test_measured_layer_is_cached_and_becomes_the_suggested_layer(tmp_path):
    from taskvec.analysis.compare import suggested_layer
    from taskvec.analysis.layer_choice import load_cached, measure_and_cache

    a = load_model("tiny-random/llama")  # a fresh model: the shared tiny one is never mutated
    first = measure_and_cache(a, root=tmp_path, tasks=("country-capital", "food-color"), n_queries=2, n_sets=2)
    assert len(first.curve) == a.n_layers + 1 and first.n == 4
    assert first.curve[first.layer] == max(first.curve) and suggested_layer(a) == first.layer
    again = load_cached(a, tmp_path)
    assert again is not None and again.curve == first.curve and again.path == first.path
    assert [r["layer"] for r in first.rows()] == list(range(a.n_layers + 1))
