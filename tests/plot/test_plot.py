"""taskvec.plot: every public figure from small hand-made data, one shared style, no torch on import."""

import subprocess
import sys

import plotly.graph_objects as go
import pytest

from taskvec import plot as P
from taskvec.plot import style

MEAN = [[0.8, 0.1, 0.1], [0.3, 0.5, 0.2], [0.1, 0.2, 0.7]]  # (L+1=3, 3) input / task / answer
STD = [[0.05, 0.02, 0.02], [0.1, 0.1, 0.05], [0.02, 0.05, 0.1]]
TOKENS = (":", " capital", " Paris")


def _lines(fig, name_start):
    return [t for t in fig.data if t.mode and "lines" in t.mode and t.fill != "toself"
            and (t.name or "").startswith(name_start)]


def _bands(fig):
    return [t for t in fig.data if t.fill == "toself"]


def test_import_is_light():
    """No torch/transformers/gradio, and nothing of taskvec beyond what ``import taskvec`` itself loads."""
    code = ("import sys, taskvec; before = set(sys.modules); import taskvec.plot; "
            "new = [m for m in set(sys.modules) - before if m.startswith('taskvec.') and not m.startswith('taskvec.plot')]; "
            "bad = [m for m in ('torch', 'transformers', 'gradio') if m in sys.modules] + new; "
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_show_token():
    assert P.show_token(" a\n") == "·a⏎" and P.show_token("") == "∅"
    assert P.show_token is style.show_token


def test_topk_bar_colours_and_shared_axis():
    fig = P.topk_bar([" Paris", " paris", " Lyon"], [0.5, 0.2, 0.1], "t", correct=[True, False, False], x_max=0.9)
    assert len(fig.data) == 1 and list(fig.layout.xaxis.range) == [0, 0.9]
    # most likely on top: the bars are reversed
    assert fig.data[0].y[-1] == "·Paris" and fig.data[0].marker.color[-1] == style.SERIES_COLORS["correct"]
    assert fig.data[0].marker.color[0] == style.SERIES_COLORS["other"]
    plain = P.topk_bar(["a", "a"], [0.4, 0.3], "t")
    assert list(plain.data[0].y) == ["a (2)", "a (1)"] and plain.layout.xaxis.range[1] == pytest.approx(0.46)


def test_sweep_single_curve_with_band_and_layer():
    fig = P.sweep_figure([0.1, 0.5, 0.9], prompt=0.4, no_context=0.05, chosen_layer=1, n=20, title="s")
    assert len(_lines(fig, "Patch")) == 1 and len(_lines(fig, "Prompt")) == 1 and len(_lines(fig, "No Context")) == 1
    assert len(_bands(fig)) == 1 and fig.layout.shapes[0].x0 == 1
    assert "binomial" in fig.layout.title.text and "n = 20" in fig.layout.title.text
    assert _lines(fig, "Patch")[0].line.color == style.SERIES_COLORS["Patch"]
    assert len(P.sweep_figure([0.1, 0.5, 0.9], layers=[3, 4, 5]).data) == 1  # no baselines, no band


def test_sweep_grid_per_task():
    curves = {"a": [0.1, 0.6], "b": [0.2, 0.4], "Avg": [0.15, 0.5]}
    fig = P.sweep_figure(curves, {"a": 0.3, "b": 0.2, "Avg": 0.25}, {"a": 0.0, "b": 0.1, "Avg": 0.05},
                         chosen_layer=1, n={"a": 10, "b": 10, "Avg": 20}, cols=2)
    assert len(_lines(fig, "Patch")) == 3 and len(_lines(fig, "Prompt")) == 3 and len(_bands(fig)) == 3
    assert sum(t.showlegend is not False for t in _lines(fig, "Prompt")) == 1  # one legend entry per series
    assert len(fig.layout.shapes) == 3  # the chosen layer on every panel
    assert len(P.sweep_figure(curves).data) == 3  # no counts -> no bands


def test_sweep_layer_axis_ends_at_the_layers_and_keeps_labels_upright():
    """A 19-layer grid (Gemma 3 270M) ticks every 2nd layer in a 3-column grid and every layer alone;
    the axis ends half a layer past the first and last layer (no tick at -1 or L + 1)."""
    ys = [0.1] * 19
    grid = P.sweep_figure({"a": ys, "b": ys, "Avg": ys}, cols=3)
    alone = P.sweep_figure(ys)
    assert grid.layout.xaxis.dtick == 2 and alone.layout.xaxis.dtick == 1
    assert list(grid.layout.xaxis.range) == list(alone.layout.xaxis.range) == [-0.5, 18.5]
    assert list(P.sweep_figure([0.1] * 3, layers=[3, 4, 5]).layout.xaxis.range) == [2.5, 5.5]
    assert P.sweep_figure([0.1] * 81).layout.xaxis.dtick == 3  # 81 layers: every 3rd


def test_phase_single_and_grid_share_role_colours():
    one = P.phase_figure(MEAN, STD, TOKENS, title="p", n_runs=7)
    grid = P.phase_grid({"a": (MEAN, STD, TOKENS), "b": (MEAN, None, TOKENS)})
    for fig in (one, grid):
        for role in style.ROLES:
            assert {t.line.color for t in _lines(fig, role)} == {style.ROLE_COLORS[role]}
    assert len(one.data) == 6 and len(_bands(one)) == 3 and "7 example sets" in one.layout.title.text
    assert _lines(one, "task")[0].name == "task (·capital)"
    assert len(grid.data) == 3 + 3 + 3 and len(_bands(grid)) == 3  # 'b' has no std -> no bands
    assert "·capital" in grid.layout.annotations[0].text


def test_lens_heatmap_and_top1():
    hm = P.lens_heatmap([["a", " b"], ["\n", "c"]], [[0.5, 0.2], [0.9, 0.05]], "h")
    assert len(hm.data) == 1 and hm.data[0].text[0][1] == "·b" and hm.data[0].text[1][0] == "⏎"
    t1 = P.top1_figure([[("a", 0.6), ("b", 0.4)], [("c", 1.0)]], "t", n=2)
    assert len(t1.data) == 2 and list(t1.data[1].x) == [0] and t1.data[0].marker.color == style.color(0)


def test_cluster_symbols_and_colours():
    xy = [[0, 0], [1, 1], [2, 0], [3, 1], [0, 2], [1, 3]]
    tasks = ["capital", "capital", "currency", "currency", "capital", "currency"]
    mods = ["text", "image", "text", "image", "instruction", "context"]
    fig = P.cluster_figure(xy, tasks, mods, "c", hover=list("abcdef"), axis_titles=("PC 1", "PC 2"))
    assert len(fig.data) == 6
    for tr in fig.data:
        task, mod = tr.name.split(" · ")
        assert tr.marker.symbol == style.SYMBOLS[mod]
        assert tr.marker.color == style.color(0 if task == "capital" else 1)
    assert fig.layout.xaxis.title.text == "PC 1"
    assert style.symbol("image examples") == "square" and style.symbol("text (base LLM)") == "circle"


def test_cosine_figures():
    hm = P.cosine_heatmap([[1, 0.5], [0.5, 1]], ["a", "b"], "t")
    assert len(hm.data) == 1 and hm.data[0].zmin == -1 and hm.data[0].text[0][1] == 0.5
    cf = P.cosine_figure({"x": [0.1, 0.9], "Avg": [0.2, 0.8]}, chosen_layer=1)
    assert len(cf.data) == 2 and cf.data[1].line.color == "black" and cf.layout.shapes[0].x0 == 1


def test_tables():
    st = P.summary_table({"capital": {"text": [(" Paris", 0.5), ("x", 0.1)], "image": [("y", 0.3)]}}, layer=2)
    assert len(st.data) == 1 and "(layer 2)" in st.layout.title.text
    assert list(st.data[0].header.values) == ["task", "text", "image"] and "·Paris" in st.data[0].cells.values[1][0]
    ens = P.ensemble_figure([1, 5, 10], {"Text Examples Patch": [0.1, 0.3, 0.4], "Ensemble Prompt": [0.2, 0.4, 0.5]})
    assert len(ens.data) == 2 and ens.data[1].line.dash == "dot" and ens.data[0].line.color == style.color(0)


def test_fonts_are_readable():
    fig = P.cosine_heatmap([[1]], ["a"], "t", note="n")
    assert fig.layout.font.size >= 14 and fig.layout.title.font.size > fig.layout.font.size


def test_save_figure_and_pages(tmp_path):
    fig = P.cosine_heatmap([[1, 0.5], [0.5, 1]], ["a", "b"], "t")
    out = P.save_figure(fig, tmp_path / "sub" / "cos", png=False)
    assert out == [tmp_path / "sub" / "cos.html"] and (tmp_path / "sub" / "plotly.min.js").exists()
    assert "plotly.min.js" in out[0].read_text()
    page = P.save_figures({"a": fig, "none": None, "b": P.topk_bar(["x"], [1.0], "b")}, tmp_path / "all.html")
    assert page == [tmp_path / "all.html"] and page[0].read_text().count("Plotly.newPlot") == 2
    assert P.save_figures({"none": None}, tmp_path / "empty.html") == []
