"""One definition per analysis: the eval, the figures CLI and the app give the same numbers for the
same task, model, seed and settings (tiny random Idefics3: the numbers mean nothing, their equality does)."""

import json

import pytest
import torch

from taskvec.analysis import clusters, phases, summaries, sweep
from taskvec.analysis.protocol import correct, layer_accuracy
from taskvec.cli import main
from taskvec.data.tasks import load_task
from taskvec.testing import tiny_adapter

MODEL = "tiny-random/idefics3"


@pytest.fixture(scope="module")
def vlm():
    return tiny_adapter("idefics3")


def test_app_sweep_equals_the_eval_units(vlm, tmp_path):
    """The app's layer sweep on the first 3 test queries == the eval's test items with --limit-test 3."""
    assert main(["eval", "--model", MODEL, "--tasks", "country-capital", "--limit-test", "3", "--seeds", "1",
                 "--n-sets", "2", "--no-png", "--out", str(tmp_path)]) == 0
    unit = json.loads(next((tmp_path / "units").glob("*.json")).read_text())
    items = unit["splits"]["test"]["items"]
    app = sweep.task_sweep(vlm, load_task("country-capital"), "text", "image", n_queries=3, n_sets=2, seed=0)
    assert app.values == layer_accuracy(items)
    assert [it["patch"] for it in app.items] == [it["patch"] for it in items]
    assert [it["prompt"] for it in app.items] == [it["prompt"] for it in items]


def test_figures_cli_equals_the_analysis_functions(vlm, tmp_path):
    """figures.json of the CLI == phases / summaries / clusters called directly (what the app calls)."""
    args = ["figures", "--model", MODEL, "--tasks", "country-capital,food-color", "--n-sets", "3",
            "--projection", "pca", "--layer", "1", "--no-png", "--out", str(tmp_path)]
    assert main(args) == 0
    rec = json.loads((tmp_path / "figures.json").read_text())
    tasks = [load_task("country-capital"), load_task("food-color")]
    ph = phases.phases(vlm, tasks[1], "text", n_sets=3)
    torch.testing.assert_close(torch.tensor(rec["phases"]["food-color"]["mean"]), ph.curve.mean, atol=1e-6, rtol=0)
    assert rec["phases"]["food-color"]["leading_role_per_layer"] == ph.leading()
    su = summaries.summaries(vlm, tasks, 1, n_sets=3).table()
    assert {t: {m: [tok for tok, _ in v] for m, v in r.items()} for t, r in rec["summaries"].items()} == \
        {t: {m: [tok for tok, _ in v] for m, v in r.items()} for t, r in su.items()}
    cl = clusters.clusters(vlm, tasks, 1, ("text", "image"), "pca", n_sets=3)
    assert rec["clusters"]["silhouette_task"] == pytest.approx(cl.silhouette_task, abs=1e-9)
    assert rec["clusters"]["silhouette_modality"] == pytest.approx(cl.silhouette_modality, abs=1e-9)


def test_one_case_rule():
    """Examples are scored case-sensitively, instruction and ensemble case-insensitively, everywhere."""
    assert correct("Paris", "Paris", "text") and not correct("paris", "Paris", "text")
    assert correct("paris", "Paris", "instruction") and correct("PAR", "Paris", "ensemble")
    assert correct("Par", "Paris", "image") and not correct("", "Paris", "instruction")


def test_playground_verdict_and_bars_use_the_same_rule(vlm):
    from taskvec.app.playground import Column, PlayResult
    from taskvec.core.patching import Generation, TopK

    gen = Generation("paris", [1], TopK([1, 2], ["paris", "Rome"], [0.6, 0.4]), torch.zeros(3))
    col = Column("Patch", "", gen)
    for spec, ok in (("text", False), ("instruction", True)):
        res = PlayResult([col], 1, "m", "q", "s", None, expected="Paris", spec_kind=spec)
        assert res.correct(col) is ok and res.bar_correct(col) == [ok, False]
