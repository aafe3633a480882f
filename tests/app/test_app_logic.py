"""The browser app's logic (taskvec.app helpers + taskvec.analysis views) on tiny random-weight models."""

from pathlib import Path

import plotly.graph_objects as go
import pytest
import torch
from PIL import Image

from taskvec import plot as F
from taskvec.analysis import clusters, phases, similarity, summaries, sweep
from taskvec.testing import color_image, tiny_adapter
from taskvec.errors import (ContextLengthError, ImageError, SpecError, TaskvecError, UnsupportedInputError,
                            VectorShapeError)
from taskvec.core.specs import example_sets
from taskvec.app import exports
from taskvec.app import inputs
from taskvec.app import library
from taskvec.app import playground as PG
from taskvec.app import tour
from taskvec.app.host import ModelHost
from taskvec.core.vectors import TaskVector

EXAMPLES = "France : Paris\nItaly : Rome\nSpain : Madrid\nJapan : Tokyo"


@pytest.fixture(scope="module")
def vlm():
    return tiny_adapter("idefics3")


@pytest.fixture
def pngs(tmp_path):
    paths = []
    for i in range(3):
        p = tmp_path / f"img{i}.png"
        color_image(i).save(p)
        paths.append(str(p))
    return paths


def test_playground_text(vlm, tmp_path):
    cache = {}
    res = PG.run_playground(vlm, PG.PlayRequest(examples=EXAMPLES, query_text="Germany", layer=1, n_sets=3),
                            cache=cache)
    # a second run at another layer reuses the session's vector; another task does not
    other = PG.run_playground(vlm, PG.PlayRequest(examples=EXAMPLES, query_text="Peru", layer=2, n_sets=3), cache=cache)
    assert other.vector is res.vector and "Reused" in other.notes[0]
    new = PG.run_playground(vlm, PG.PlayRequest(examples=EXAMPLES + "\nPeru : Lima", query_text="Peru", n_sets=3),
                            cache=cache)
    assert new.vector is not res.vector and cache["vector"] is new.vector
    assert [c.title for c in res.columns] == ["No Context", "Prompt", "Patch"]
    assert all(len(c.gen.top.probs) == 5 for c in res.columns)
    assert res.random == "Paris" and res.layer == 1 and res.vector.n_layers == vlm.n_layers
    assert "Patch" in PG.column_markdown(res.columns[2]) and isinstance(PG.column_figure(res.columns[2]), go.Figure)
    files = exports.export_all("patch", res.rows(), res.as_dict(), {"patch": PG.column_figure(res.columns[2])},
                               res.vector, res.layer)
    assert {Path(f).suffix for f in files} == {".csv", ".json", ".html", ".js", ".safetensors"}  # .js: shared plotly
    # a saved vector uploads back and patches, with or without a specification
    vec = inputs.read_vector([f for f in files if f.endswith(".safetensors")][0])
    again = PG.run_playground(vlm, PG.PlayRequest(examples="", query_text="Germany", layer=1), uploaded=vec)
    assert again.columns[2].answer == res.columns[2].answer and again.columns[1].gen is None


def test_expected_answer_marks_columns(vlm):
    res = PG.run_playground(vlm, PG.PlayRequest(examples=EXAMPLES, query_text="Germany", n_sets=2, expected="Berlin"))
    top = res.columns[2].gen.top.tokens[0]
    assert res.correct(res.columns[2]) == (top.strip() != "" and "Berlin".lower().startswith(top.strip().lower()))
    assert ("✓ correct" in PG.column_markdown(res.columns[2], res)) != ("✗ wrong" in PG.column_markdown(res.columns[2], res))
    assert res.rows()[0]["expected"] == "Berlin"
    hit = PG.PlayResult([], 1, "m", "q", "s", None, expected=top)
    assert hit.correct(res.columns[2]) is (bool(top.strip()))


def test_playground_images_ensemble_override(vlm, pngs):
    req = PG.PlayRequest(kind="image examples", examples=EXAMPLES, image_files=pngs, image_answers="a\nb\nc",
                         instruction="The capital city of the country:", query_image=pngs[0], ensemble=True,
                         weights=(1, 1, 0.5), n_sets=2)
    res = PG.run_playground(vlm, req)
    assert [c.title for c in res.columns][-1] == "Ensemble patch" and res.query.startswith("<image")
    ov = PG.run_playground(vlm, PG.PlayRequest(examples=EXAMPLES, instruction="The color of the food:",
                                               query_text="banana", override=True, n_sets=2))
    assert ov.spec.startswith("override") and len(ov.columns) == 3


def test_source_model_transfer_and_mismatch(vlm):
    llm = tiny_adapter("llama")  # 4 layers, like tiny llava (LLaVA is built on a Llama LLM)
    res = PG.run_playground(tiny_adapter("llava"), PG.PlayRequest(examples=EXAMPLES, query_text="Germany", n_sets=2),
                            source=llm)
    assert "llama" in res.notes[0]
    with pytest.raises(VectorShapeError, match="4 layers"):
        PG.run_playground(vlm, PG.PlayRequest(examples=EXAMPLES, query_text="Germany", n_sets=2), source=llm)
    wide = TaskVector(torch.zeros(vlm.n_layers + 1, 64), torch.zeros(1, vlm.n_layers + 1, 64))
    with pytest.raises(VectorShapeError, match="hidden size 64"):
        PG.check_transfer(vlm, wide, "vector")


@pytest.mark.parametrize("req, err, match", [
    (dict(examples="France Paris\nItaly : Rome\n : Madrid"), SpecError, "line 1.*line 3"),
    (dict(examples=""), SpecError, "No examples"),
    (dict(examples=EXAMPLES, query_text="  "), SpecError, "query is empty"),
    (dict(kind="instruction", instruction=" "), SpecError, "instruction is empty"),
    (dict(examples=EXAMPLES, layer=99), TaskvecError, "out of range"),
    (dict(examples=EXAMPLES, override=True, kind="instruction", instruction="x:"), SpecError, "overriding"),
    (dict(examples="\n".join(f"word{i} long example text : answer{i}" for i in range(150))), ContextLengthError,
     "tokens"),
])
def test_bad_playground_input(vlm, req, err, match):
    req = {"query_text": "Germany", **req}
    with pytest.raises(err, match=match):
        PG.run_playground(vlm, PG.PlayRequest(n_sets=2, **req))


def test_bad_uploads(tmp_path, pngs):
    txt = tmp_path / "notes.txt"
    txt.write_text("not an image")
    with pytest.raises(ImageError, match="not a readable image"):
        inputs.read_image(str(txt))
    huge = tmp_path / "huge.png"
    Image.new("1", (7000, 6000)).save(huge)
    with pytest.raises(ImageError, match="over the limit"):
        inputs.query("", str(huge))
    big = tmp_path / "big.png"
    Image.new("RGB", (3000, 1500)).save(big)
    assert max(inputs.read_image({"path": str(big)}).size) == inputs.UPLOAD_MAX_SIDE
    with pytest.raises(SpecError, match="3 images but 2 answers"):
        inputs.image_examples(pngs, "a\nb")
    with pytest.raises(SpecError, match="not a .safetensors"):
        inputs.read_vector(str(txt))
    with pytest.raises(SpecError, match="ensemble is empty"):
        inputs.build_ensemble((1, 1, 1))


def test_text_only_model_refuses_image_query(pngs):
    with pytest.raises(UnsupportedInputError, match="text-only"):
        PG.run_playground(tiny_adapter("llama"), PG.PlayRequest(examples=EXAMPLES, query_image=pngs[0], n_sets=2))


def test_model_host_keeps_previous_model_on_failure(vlm):
    host = ModelHost(adapter=vlm)
    banner = host.load("no-such-org/no-such-model-xyz")
    assert host.adapter is vlm and "failed" in banner and "Still using" in banner and "Random weights" in banner
    assert "Type or pick" in host.load("  ")
    with pytest.raises(TaskvecError, match="No model"):
        ModelHost().require()


def test_views(vlm):
    tasks = library.paper_tasks()[:2]
    assert len(tasks[0].split("val")) == 30 and len(tasks[0].split("test")) == 100
    L = vlm.n_layers
    sw = sweep.task_sweep(vlm, tasks[0], "text", "image", n_queries=2, n_sets=2)
    assert sw.layers == list(range(L + 1)) and 0 <= sw.prompt <= 1 and sw.n == 2 and len(sw.items) == 2
    assert [r["query"] for r in sw.rows()[L + 1:]] == [it.input for it in tasks[0].split("test")[:2]]
    one = sweep.query_sweep(vlm, tasks[0], "instruction", "Germany", "Berlin", n_sets=2)
    assert len(one.values) == L + 1 and all(0 <= v <= 1 for v in one.values) and one.n == 1
    with pytest.raises(SpecError, match="expected answer"):
        sweep.query_sweep(vlm, tasks[0], "text", "Germany", "")
    lens = phases.phases(vlm, tasks[0], "image", n_sets=3)
    assert lens.curve.mean.shape == (L + 1, 3) and len(lens.rows()) == L + 1 and len(lens.top1) == L + 1
    assert lens.curve.tokens[0].strip() == ":"  # the paper's fixed input token: here the delimiter itself
    by_query = phases.phases(vlm, tasks[0], "text", n_sets=3, input_token="{query}")
    items = tasks[0].items
    first_query = items[example_sets([(i, it.answer) for i, it in enumerate(items)], 5, 3, 0)[0].query].input
    assert by_query.curve.tokens[0] == vlm.decode_token(vlm.token_id(first_query))
    by_delim = phases.phases(vlm, tasks[0], "text", n_sets=3)
    assert by_delim.curve.tokens[0].strip() == ":" and not torch.equal(by_query.curve.per_run, by_delim.curve.per_run)
    su = summaries.summaries(vlm, tasks[:1], 1, n_sets=2)
    assert list(su.table()) == [tasks[0].id] and set(su.table()[tasks[0].id]) == {"text", "image", "instruction"}
    assert len(su.rows()) == 3 * 5
    cl = clusters.clusters(vlm, tasks, 1, ("text", "image"), "pca", n_sets=2)
    assert cl.xy.shape == (8, 2) and "Silhouette" in cl.summary() and len(cl.explained) == 2
    ctx = clusters.clusters(vlm, tasks[:1], 1, ("text",), "pca", what="context embeddings")
    assert len(ctx.tasks) >= 3
    sim = similarity.similarity(vlm, tasks[:1], 1, ("text", "image", "instruction"), base=tiny_adapter("llama"),
                                n_sets=2)
    assert sim.matrix.shape == (4, 4) and sim.labels[-1].endswith("(base LLM)")
    centered = similarity.similarity(vlm, tasks, 1, ("text",), n_sets=2, center=True)
    assert centered.matrix[0, 1] < 0 and centered.centered


def test_user_task_library(vlm):
    t = library.user_task("antonyms", "hot : cold\nbig : small\nup : down\nyes : no\nwet : dry")
    assert t.domain == "user" and {it.split for it in t.items} == {"val", "test"}  # the stable hash split
    assert set(summaries.summaries(vlm, [t], 1, n_sets=2).table()["antonyms"]) == {"text"}  # no images, no instruction
    with pytest.raises(TaskvecError, match="no images"):
        sweep.task_sweep(vlm, t, "text", "image", n_queries=2, n_sets=2)
    with pytest.raises(SpecError, match="name"):
        library.user_task(" ", "a : b")
    with pytest.raises(SpecError, match="at least 4"):
        library.user_task("tiny", "a : b\nc : d")


def test_tour_steps(vlm):
    for step in (tour.STEPS[0], tour.STEPS[2]):
        md, fig = tour.tour_step(vlm, step)
        assert "random weights" in md and isinstance(fig, go.Figure)


def test_figures_and_exports(tmp_path):
    assert F.show_token(" a\n") == "·a⏎" and F.show_token("") == "∅"
    fig = F.cosine_heatmap([[1, 0.5], [0.5, 1]], ["a", "b"], "t")
    files = exports.write_figures(tmp_path, {"cos": fig})
    page, js = files  # the page loads the one shared plotly.js beside it (not 4.6 MB inlined per export)
    assert js.name == "plotly.min.js" and "plotly.min.js" in page.read_text() and page.stat().st_size < 200_000
    assert exports.write_rows(tmp_path, "r", [{"a": 1}, {"b": 2}])[0].read_text().splitlines()[0] == "a,b"


def test_gallery_and_defaults(pngs, monkeypatch):
    from taskvec.app import host as runtime

    assert inputs.gallery_items(pngs[:2], "Paris") == [(pngs[0], "Paris"), (pngs[1], "⚠ no answer yet")]
    monkeypatch.setenv("TASKVEC_MODEL", "tiny-random/llama")
    assert runtime.default_model() == "tiny-random/llama"
    monkeypatch.delenv("TASKVEC_MODEL")
    expected = "organism" if runtime.ORGANISM_CONFIG.is_file() else "HuggingFaceTB/SmolVLM-256M-Instruct"
    assert runtime.default_model() == expected and "tiny-random/idefics3" in runtime.model_choices()
