"""The eval / figures / bench CLIs end to end on tiny random models (mechanics only; no timing asserts)."""

import csv
import json

import pytest

from taskvec.cli import main
from taskvec.analysis.tables import summarize

TASKS = "country-capital,food-color"
SMALL = ["--limit-val", "4", "--limit-test", "4", "--seeds", "1", "--n-sets", "3", "--no-png"]


def run_eval(tmp, *extra, model="tiny-random/idefics3"):
    return main(["eval", "--model", model, "--tasks", TASKS, "--out", str(tmp), *SMALL, *extra])


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("eval")
    assert run_eval(out) == 0
    return out


def test_eval_writes_json_csv_html_with_table_shape(first_run):
    doc = json.loads((first_run / "results.json").read_text())
    (group, s), = doc["summaries"].items()
    assert group == "text-to-image_n5"
    assert s["rows"] == ["No Context", "Text Examples Prompt", "Random", "Text Examples Patch"]
    for row in s["rows"]:
        assert list(s["table"][row]) == ["country-capital", "food-color", "Avg"]
        assert all(0.0 <= v <= 1.0 for v in s["table"][row].values())
    n_layers = 3 + 1  # tiny idefics3: 3 decoder layers -> residual layers 0..3
    assert all(len(c) == n_layers for c in s["val_curves"].values())
    assert 0 <= s["chosen_layer"] < n_layers and len(s["best_layer_per_seed"]) == 1
    assert s["n_val"] == 4 and s["n_test"] == 4
    rows = list(csv.reader(open(first_run / "results.csv")))
    assert rows[0][:5] == ["group", "method", "country-capital", "food-color", "Avg"] and len(rows) == 5
    html = (first_run / "sweep_text-to-image_n5.html").read_text()
    assert "Prompt" in html and "plotly" in html.lower()
    unit = json.loads(next((first_run / "units").glob("*country-capital*.json")).read_text())
    val_inputs = {it["input"] for it in unit["splits"]["val"]["items"]}
    test_inputs = {it["input"] for it in unit["splits"]["test"]["items"]}
    assert not val_inputs & test_inputs  # examples for one split come from the other
    # the table is analysis.tables.summarize of the saved units (no second computation in the CLI)
    units = [json.loads(p.read_text()) for p in sorted((first_run / "units").glob("*.json"))]
    assert s == json.loads(json.dumps(summarize(units, TASKS.split(","))))
    patch_row = next(r for r in rows if r[1] == "Text Examples Patch")
    assert patch_row[2:5] == [f"{s['table']['Text Examples Patch'][c]:.4f}" for c in (*TASKS.split(","), "Avg")]


def test_eval_is_resumable_and_deterministic(first_run, tmp_path, capsys):
    units = sorted((first_run / "units").glob("*.json"))
    mtimes = [p.stat().st_mtime_ns for p in units]
    before = json.loads((first_run / "results.json").read_text())["summaries"]
    capsys.readouterr()
    assert run_eval(first_run) == 0
    out = capsys.readouterr().out
    assert "(2 loaded" in out and "0 to compute" in out
    assert [p.stat().st_mtime_ns for p in units] == mtimes  # not recomputed
    assert run_eval(tmp_path) == 0  # a fresh folder, same seed -> same numbers
    again = json.loads((tmp_path / "results.json").read_text())["summaries"]
    assert again == before
    for p in units:
        assert json.loads(p.read_text()) == json.loads((tmp_path / "units" / p.name).read_text())


def test_eval_prints_paper_table(first_run, capsys):
    assert run_eval(first_run) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if "country-capital" in line and "Avg" in line)
    assert header.split() == ["country-capital", "food-color", "Avg"]
    assert any(line.startswith("Text Examples Patch") for line in out.splitlines())


def test_source_model_reports_cosine_and_transfer(tmp_path):
    assert run_eval(tmp_path, "--source-model", "tiny-random/mistral", "--query", "text") == 0
    (s,) = json.loads((tmp_path / "results.json").read_text())["summaries"].values()
    assert s["rows"][-1] == "Text Examples Patch (from tiny-random/mistral)"
    assert len(s["cosine"]["Avg"]) == 4 and all(-1.0001 <= c <= 1.0001 for c in s["cosine"]["Avg"])
    assert (tmp_path / "cosine_text-to-text_n5.html").is_file()


def test_instruction_typos_and_ensemble_sweep(tmp_path):
    assert run_eval(tmp_path / "t", "--spec", "instruction", "--typos", "2", "--query", "text") == 0
    (s,) = json.loads((tmp_path / "t" / "results.json").read_text())["summaries"].values()
    assert s["case_insensitive"] and s["instructions"]["country-capital"] != "The capital city of the country:"
    assert run_eval(tmp_path / "e", "--ensemble-sweep", "1,2", "--query", "text") == 0
    doc = json.loads((tmp_path / "e" / "results.json").read_text())
    assert doc["ensemble_sweep"]["n"] == [1, 2] and len(doc["summaries"]) == 4
    assert (tmp_path / "e" / "ensemble_sweep.html").is_file()


def test_additive_flag_adds_its_own_row(tmp_path):
    """--additive adds the Additive Patch row, its layer chosen on validation (the definition of a
    prediction is tested in tests/analysis/test_units.py)."""
    assert run_eval(tmp_path, "--additive", "--query", "text") == 0
    doc = json.loads((tmp_path / "results.json").read_text())
    (g, s), = doc["summaries"].items()
    assert g == "text-to-text_n5_additive"
    assert s["rows"] == ["No Context", "Text Examples Prompt", "Random", "Text Examples Patch",
                         "Text Examples Additive Patch"]
    assert len(s["best_additive_layer_per_seed"]) == 1 and 0 <= s["best_additive_layer_per_seed"][0] <= 3


def _bad_data(tmp_path):
    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "img.jsonl").write_text('{"image": "nope.png", "input": "x", "answer": "y"}\n')
    return {
        "unknown task": ["--tasks", "no-such-task"],
        "empty file": ["--tasks", str(tmp_path / "empty.jsonl")],
        "missing file": ["--tasks", str(tmp_path / "missing.jsonl")],
        "missing image": ["--tasks", str(tmp_path / "img.jsonl")],
        "limit too small": ["--tasks", TASKS, "--limit-val", "1"],
        "typos without instruction": ["--tasks", TASKS, "--typos", "2"],
    }


def test_bad_data_fails_in_one_line_before_loading_a_model(tmp_path, capsys, monkeypatch):
    import taskvec.models

    def no_model(*a, **k):
        raise AssertionError("a model was loaded before the input was checked")

    monkeypatch.setattr(taskvec.models, "load_model", no_model)
    for name, args in _bad_data(tmp_path).items():
        capsys.readouterr()
        code = main(["eval", "--model", "tiny-random/idefics3", "--out", str(tmp_path / "o"), *args])
        err = capsys.readouterr().err
        assert code == 2, name
        assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, (name, err)


def test_image_query_on_text_only_model_fails_before_any_forward(tmp_path, capsys):
    for extra in (["--query", "image"], ["--query", "text", "--spec", "image"]):
        code = main(["eval", "--model", "tiny-random/llama", "--tasks", TASKS, "--out", str(tmp_path), *SMALL, *extra])
        err = capsys.readouterr().err
        assert code == 2 and "text-only" in err and err.count("\n") == 1
        assert not list((tmp_path / "units").glob("*.json"))


def test_figures_cli_writes_its_files(tmp_path, capsys):
    code = main(["figures", "--model", "tiny-random/idefics3", "--tasks", TASKS, "--n-sets", "4", "--projection", "pca",
                 "--out", str(tmp_path), "--no-png"])
    assert code == 0
    for name in ("phases.html", "summaries.html", "summary_layers.html", "clusters_pca.html", "figures.json"):
        assert (tmp_path / name).is_file(), name
    rec = json.loads((tmp_path / "figures.json").read_text())
    assert set(rec["summaries"]["food-color"]) == {"text", "image", "instruction"}
    assert len(rec["phases"]["country-capital"]["mean"]) == 4
    assert rec["phases"]["country-capital"]["tokens_first_run"][0].strip() == ":"  # default input token
    assert len(rec["phases"]["country-capital"]["leading_role_per_layer"]) == 4
    out = capsys.readouterr().out
    assert "Silhouette in the original space (cosine, final-norm-normalized) by task" in out and "by modality" in out


def test_figures_cli_query_as_input_token(tmp_path):
    code = main(["figures", "--model", "tiny-random/idefics3", "--tasks", "country-capital", "--kind", "phases",
                 "--n-sets", "2", "--input-token", "{query}", "--out", str(tmp_path), "--no-png"])
    assert code == 0
    tok = json.loads((tmp_path / "figures.json").read_text())["phases"]["country-capital"]["tokens_first_run"][0]
    assert tok.strip() and tok.strip() != ":"


def test_figures_cli_bad_kind(tmp_path, capsys):
    assert main(["figures", "--model", "tiny-random/idefics3", "--kind", "nope", "--out", str(tmp_path)]) == 2
    assert "Unknown --kind" in capsys.readouterr().err


def test_bench_runs_and_prints_ratios(capsys):
    assert main(["bench", "--model", "tiny-random/llama", "--repeats", "1", "--no-memory", "--n-sets", "2"]) == 0
    out = capsys.readouterr().out
    assert "patch/query" in out and "naive_sweep" in out and "one at a time" in out


def test_bench_memory_child_measures_rss():
    from taskvec.cli.bench import memory_child

    r = memory_child({"args": {"model": "tiny-random/llama", "layers": None, "hidden": 256, "n_sets": 2,
                               "device": "cpu"}, "op": "patch", "n": 5})
    assert r["delta_mb"] >= 0 and r["peak_mb"] > 0 and r["kind"]


def test_changed_settings_are_recomputed_not_mixed(tmp_path, capsys):
    assert run_eval(tmp_path, "--tasks", "food-color") == 0
    capsys.readouterr()
    assert main(["eval", "--model", "tiny-random/idefics3", "--tasks", "food-color", "--out", str(tmp_path),
                 "--limit-val", "4", "--limit-test", "4", "--seeds", "1", "--n-sets", "2", "--no-png"]) == 0
    assert "(0 loaded" in capsys.readouterr().out
