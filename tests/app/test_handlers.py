"""Every tab's handler in taskvec.app.ui, called as Gradio would call it, on a tiny random VLM:
the settings reach the analysis functions in the right order and the outputs have their shapes."""

import plotly.graph_objects as go
import pytest

from taskvec.analysis import sweep
from taskvec.data.tasks import load_task

ui = pytest.importorskip("taskvec.app.ui")


pytestmark = pytest.mark.usefixtures("tiny_vlm_host")


def test_sweep_tab_draws_the_protocols_numbers():
    fig, files = ui.run_sweep({}, "country-capital", "text examples", "image", 2, "", None, "", False, progress=None)
    ref = sweep.task_sweep(ui.HOST.adapter, load_task("country-capital"), "text", "image", n_queries=2)
    patch = next(t for t in fig.data if t.name == "Patch")
    assert list(patch.y) == ref.values and any(f.endswith(".csv") for f in files)


def test_lens_summaries_clusters_similarity_tabs():
    L = ui.HOST.adapter.n_layers
    phase, heat, top1, md, _ = ui.run_lens({}, "food-color", "image examples", 3, 2, 0, "", 3, False, progress=None)
    assert isinstance(phase, go.Figure) and "Q:" in md
    table, _ = ui.run_summaries({}, ["country-capital"], 1, 3, progress=None)
    assert list(table.value["headers"]) == ["task", "text", "image", "instruction"]
    fig, summary, _ = ui.run_clusters({}, ["country-capital", "food-color"], ["text examples", "image examples"], 1,
                                      "pca", "task vectors", 2, False, progress=None)
    assert sum(len(t.x) for t in fig.data) == 8 and "by task" in summary
    fig, _ = ui.run_similarity({}, ["country-capital"], ["text examples", "instruction"], L, "", False, False,
                               progress=None)
    assert len(fig.data[0].z) == 2


def test_a_bad_choice_is_a_visible_error_not_a_crash():
    import gradio as gr

    with pytest.raises(gr.Error, match="out of range"):
        ui.run_summaries({}, ["country-capital"], 99, 3, progress=None)
