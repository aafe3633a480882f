"""The lens and clusters views stream partial figures as example sets and tasks are read, under the same error
guard, and end with the same result as the one-call handlers; layer sliders and exports name both layer
numberings; the exported figures page prints its caption (issue 12 items 7 and 8, issue 14)."""

import inspect
import json
from pathlib import Path

import pytest


gr = pytest.importorskip("gradio")
ui = pytest.importorskip("taskvec.app.ui")
from taskvec.app import exports as XP  # noqa: E402
from taskvec.app.common import LAYER_SLIDER  # noqa: E402
from taskvec.app.tabs import clusters as CT  # noqa: E402
from taskvec.app.tabs import lens as LT  # noqa: E402
from taskvec.app.view import caption  # noqa: E402


pytestmark = pytest.mark.usefixtures("tiny_vlm_host")


def _figs(out):
    return [f.to_plotly_json() if f is not None else None for f in out]


def test_lens_streams_k_of_K_sets_and_ends_with_the_one_call_result():
    assert inspect.isgeneratorfunction(LT.stream_lens)  # Gradio streams a generator function's outputs
    args = ({}, "country-capital", "text examples", 20, 5, 0, "", 3, False)
    outs = list(LT.stream_lens(*args, progress=None))
    titles = [o[0].layout.title.text for o in outs]
    assert len(outs) == 3 and "8 of 20 sets so far" in titles[0] and "16 of 20 sets so far" in titles[1]
    assert "of 20 sets" not in titles[2]
    assert all(o[4] is None and "Refining: " in o[3] for o in outs[:2])  # exports only with the final result
    final = ui.run_lens(*args, progress=None)
    assert _figs(outs[-1][:3]) == _figs(final[:3]) and outs[-1][3] == final[3]
    assert any(f.endswith("figures.html") for f in outs[-1][4])


def test_clusters_stream_task_by_task_and_skip_partials_when_cached():
    assert inspect.isgeneratorfunction(CT.stream_clusters)
    state = {"user_tasks": []}
    names = ["country-capital", "country-currency", "animal-latin"]
    args = (names, ["text examples", "image examples"], 1, "tsne", "task vectors", 2, False)
    outs = list(CT.stream_clusters(state, *args, progress=None))
    titles = [o[0].layout.title.text for o in outs]
    assert "1 of 3 tasks so far" in titles[0] and "2 of 3 tasks so far" in titles[1] and "tasks so far" not in titles[2]
    assert [sum(len(t.x) for t in o[0].data) for o in outs] == [4, 8, 12]
    assert outs[-1][2] is not None and all(o[2] is None for o in outs[:-1])
    final = ui.run_clusters({"user_tasks": []}, *args, progress=None)  # extracted afresh
    assert _figs(outs[-1][:1]) == _figs(final[:1]) and outs[-1][1] == final[1]
    again = list(CT.stream_clusters(state, *args, progress=None))  # every vector cached: straight to the result
    assert len(again) == 1 and _figs(again[0][:1]) == _figs(final[:1])


def test_a_mistake_at_any_step_is_an_error_box():
    with pytest.raises(gr.Error, match="number of example sets must be at least 1"):
        list(LT.stream_lens({}, "country-capital", "text examples", 0, 5, 0, "", 3, False, progress=None))
    with pytest.raises(gr.Error, match="out of range"):
        list(CT.stream_clusters({}, ["country-capital"], ["text examples"], 99, "pca", "task vectors", 2, False,
                                progress=None))
    steps = CT.stream_clusters({}, ["country-capital"], ["instruction"], 1, "pca", "task vectors", 2, False,
                               progress=None)
    with pytest.raises(gr.Error, match="at least 3 points"):  # raised inside the analysis, at the last step
        list(steps)


def test_layer_sliders_name_both_numberings():
    demo = ui.build()
    cfg = demo.get_config_file()
    sliders = [c["props"] for c in cfg["components"]
               if c["type"] == "slider" and LAYER_SLIDER in (c["props"].get("elem_classes") or [])]
    assert len(sliders) == 4  # playground, summaries, clusters, similarity
    for s in sliders:
        assert "taskvec: residual after l layers; paper's L = l-1" in s["label"]
        assert s["info"] == f"layer {s['value']} (taskvec residual l) = official L={s['value'] - 1}"


def test_caption_and_export_carry_both_layer_numbers(tmp_path, monkeypatch):
    monkeypatch.setattr(XP, "EXPORT_ROOT", tmp_path)
    a = ui.HOST.adapter
    meta = caption(a, "clusters", layer=3, task="<b>x</b> & y")
    assert meta["inputs"]["layer"] == 3 and meta["inputs"]["layer_paper"] == 2
    assert "layer 3 (taskvec residual l) = official L=2" in meta["caption"] and a.model_id in meta["caption"]
    assert "embeddings (no official L)" in caption(a, "x", layer=0)["caption"]
    import plotly.graph_objects as go

    files = XP.export_all("clusters", [{"x": 1}], meta, {"clusters": go.Figure(go.Scatter(x=[1], y=[2]))})
    page = Path(next(f for f in files if f.endswith("figures.html"))).read_text()
    shown = "layer 3 (taskvec residual l) = official L=2"
    body = page.split("<body>", 1)[1]
    assert shown in body and body.index(shown) < body.index("plotly-graph-div")  # a caption above the figures
    assert "&lt;b&gt;x&lt;/b&gt; &amp; y" in body and "<b>x</b>" not in page  # escaped
    saved = json.loads(Path(next(f for f in files if f.endswith(".json"))).read_text())["meta"]
    assert saved["inputs"]["layer_paper"] == 2 and saved["caption"] == meta["caption"]


def test_playground_export_caption_names_both_layers():
    from taskvec.app import examples as EX

    first = dict(zip(EX.FIELDS, EX.playground_examples()[0]))
    out = ui.run_patch({}, *[first[f] for f in EX.FIELDS], 2, False, False, 1, 1, 1, "", None, 2, False,
                       progress=None)
    files = out[-1]
    meta = json.loads(Path(next(f for f in files if f.endswith(".json"))).read_text())["meta"]
    assert meta["inputs"]["layer"] == 2 and meta["inputs"]["layer_paper"] == 1
    page = Path(next(f for f in files if f.endswith("figures.html"))).read_text()
    assert "layer 2 (taskvec residual l) = official L=1" in page
