"""Results -> plotly figures. Pure drawing: plain lists/dicts in, ``go.Figure`` out; no torch.

Shared by the CLIs (``eval``, ``figures``, ``bench``) and the app. Every builder takes
plain Python data (lists of floats, strings), so results loaded from JSON draw the same
as results fresh from a run.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Sequence

import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

PALETTE = qualitative.Plotly
ROLE_COLORS = {"input": "#1f77b4", "task": "#2ca02c", "answer": "#d62728"}
SYMBOLS = {"text": "circle", "image": "square", "instruction": "diamond", "ensemble": "x"}


def _color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _layout(fig: go.Figure, title: str, note: str | None = None, top: int = 90, **kw) -> go.Figure:
    if note:
        title = f"{title}<br><sup>{note}</sup>"
    fig.update_layout(title=dict(text=title), template="plotly_white",
                      margin=dict(t=top, l=60, r=20, b=60), **kw)
    return fig


def sweep_figure(curves: Mapping[str, Sequence[float]], prompt: Mapping[str, float] | None = None,
                 no_context: Mapping[str, float] | None = None, best_layer: int | None = None,
                 title: str = "Patch accuracy per layer (validation)", note: str | None = None,
                 cols: int = 3) -> go.Figure:
    """Paper Fig. 10: one panel per task, patch accuracy vs layer (solid), Prompt (dotted).

    ``curves[task]``: accuracy at residual layers 0..L; ``prompt`` / ``no_context``:
    the baselines per task (horizontal lines); ``best_layer``: marked on every panel.
    """
    names = list(curves)
    cols = max(1, min(cols, len(names)))
    rows = math.ceil(len(names) / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=names, shared_yaxes=True,
                        horizontal_spacing=0.06, vertical_spacing=0.16 if rows > 1 else 0.1)
    for i, name in enumerate(names):
        r, c = i // cols + 1, i % cols + 1
        ys = list(curves[name])
        xs = list(range(len(ys)))
        first = i == 0
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name="Patch", legendgroup="patch",
                                 showlegend=first, line=dict(color="#1f77b4", width=2)), r, c)
        for base, label, dash, color in ((prompt, "Prompt", "dot", "#d62728"),
                                         (no_context, "No Context", "dash", "#7f7f7f")):
            if base and name in base:
                fig.add_trace(go.Scatter(x=[xs[0], xs[-1]], y=[base[name]] * 2, mode="lines", name=label,
                                         legendgroup=label, showlegend=first,
                                         line=dict(color=color, dash=dash, width=2)), r, c)
        if best_layer is not None:
            fig.add_vline(x=best_layer, line=dict(color="#9467bd", width=1.5), opacity=0.7, row=r, col=c)
    fig.update_yaxes(range=[-0.03, 1.03])
    fig.update_xaxes(title_text="layer", row=rows)
    fig.update_yaxes(title_text="accuracy", col=1)
    sub = f"purple vertical line: layer {best_layer}, chosen on validation (mean over tasks)" if best_layer is not None else None
    note = "; ".join(x for x in (note, sub) if x) or None
    return _layout(fig, title, note, top=130, height=300 * rows + 150,
                   legend=dict(orientation="h", yanchor="top", y=-0.18 / rows, x=0))


def phase_figure(mean: Sequence[Sequence[float]], std: Sequence[Sequence[float]] | None = None,
                 labels: Sequence[str] = ("input", "task", "answer"), tokens: Sequence[str] = (),
                 title: str = "Logit-lens phases at the delimiter", note: str | None = None) -> go.Figure:
    """Paper Fig. 12: relative probability of (input, task, answer) tokens per layer, mean + band.

    ``mean``/``std``: (L+1, 3) nested lists; ``tokens``: the decoded token of each role.
    """
    fig = go.Figure()
    xs = list(range(len(mean)))
    for j, lab in enumerate(labels):
        color = ROLE_COLORS.get(lab, _color(j))
        m = [row[j] for row in mean]
        name = f"{lab} ({tokens[j]!r})" if j < len(tokens) else lab
        if std is not None:
            s = [row[j] for row in std]
            hi = [min(1.0, a + b) for a, b in zip(m, s)]
            lo = [max(0.0, a - b) for a, b in zip(m, s)]
            fig.add_trace(go.Scatter(x=xs + xs[::-1], y=hi + lo[::-1], fill="toself", fillcolor=_rgba(color, 0.18),
                                     mode="lines", line=dict(width=0), hoverinfo="skip", showlegend=False))
        fig.add_trace(go.Scatter(x=xs, y=m, mode="lines+markers", name=name, line=dict(color=color, width=2)))
    fig.update_xaxes(title_text="layer")
    fig.update_yaxes(title_text="relative probability", range=[0, 1])
    return _layout(fig, title, note, height=380)


def phase_grid(curves: Mapping[str, tuple], title: str = "Logit-lens phases per task", note: str | None = None,
               cols: int = 3) -> go.Figure:
    """Several phase curves side by side: ``curves[name] = (mean, std, tokens)``."""
    names = list(curves)
    cols = max(1, min(cols, len(names)))
    rows = math.ceil(len(names) / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=names, shared_yaxes=True,
                        vertical_spacing=0.16 if rows > 1 else 0.1)
    for i, name in enumerate(names):
        mean, std, tokens = curves[name]
        sub = phase_figure(mean, std, tokens=tokens)
        for tr in sub.data:
            tr.showlegend = i == 0 and tr.showlegend is not False
            if tr.name and "(" in tr.name:
                tr.legendgroup = tr.name.split(" (")[0]
                tr.name = tr.legendgroup
            fig.add_trace(tr, i // cols + 1, i % cols + 1)
        if tokens:
            ann = fig.layout.annotations[i]
            roles = " · ".join(f"{r} {t!r}" for r, t in zip(("input", "task", "answer"), tokens))
            ann.text = f"{name}<br><sub>{roles} (run 0)</sub>"
    fig.update_yaxes(range=[0, 1])
    fig.update_xaxes(title_text="layer", row=rows)
    return _layout(fig, title, note, top=140, height=320 * rows + 160,
                   legend=dict(orientation="h", yanchor="top", y=-0.2 / rows, x=0))


def topk_heatmap(tokens: Sequence[Sequence[str]], probs: Sequence[Sequence[float]],
                 title: str = "Top-k logit-lens tokens per layer", note: str | None = None) -> go.Figure:
    """Layers (rows) x rank (columns), cell text = token, color = probability. (L+1, k) lists."""
    k = len(tokens[0]) if tokens else 0
    fig = go.Figure(go.Heatmap(
        z=[list(p) for p in probs], x=[f"#{i + 1}" for i in range(k)], y=[f"layer {l}" for l in range(len(tokens))],
        text=[[repr(t)[1:-1] for t in row] for row in tokens], texttemplate="%{text}", colorscale="Blues",
        zmin=0, colorbar=dict(title="p"), hovertemplate="%{y} %{x}: %{text} (p=%{z:.3f})<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, title, note, height=max(300, 28 * len(tokens) + 140))


def topk_table(rows: Mapping[str, Mapping[str, Sequence[tuple[str, float]]]], layer: int | None = None,
               title: str = "Task summaries: top-k lens tokens of the task vector", note: str | None = None) -> go.Figure:
    """Paper Tables 6/13: ``rows[task][spec] = [(token, prob), ...]``; specs side by side."""
    specs = list(dict.fromkeys(s for r in rows.values() for s in r))
    cells = [list(rows)]
    for s in specs:
        cells.append(["<br>".join(f"{t!r} {p:.3f}" for t, p in rows[task].get(s, [])) for task in rows])
    fig = go.Figure(go.Table(header=dict(values=["task"] + specs, fill_color="#e8eef7", align="left"),
                             cells=dict(values=cells, align="left", height=24)))
    if layer is not None:
        title = f"{title} (layer {layer})"
    k = max((len(v) for r in rows.values() for v in r.values()), default=1)
    return _layout(fig, title, note, height=160 + len(rows) * (20 * k + 10))


def cluster_figure(xy: Sequence[Sequence[float]], tasks: Sequence[str], modalities: Sequence[str],
                   title: str = "Task vectors (t-SNE)", note: str | None = None) -> go.Figure:
    """Paper Fig. 4: 2-D points, color = task, marker symbol = specification modality."""
    fig = go.Figure()
    task_names = list(dict.fromkeys(tasks))
    mods = list(dict.fromkeys(modalities))
    for i, t in enumerate(task_names):
        for m in mods:
            idx = [j for j in range(len(xy)) if tasks[j] == t and modalities[j] == m]
            if not idx:
                continue
            fig.add_trace(go.Scatter(
                x=[xy[j][0] for j in idx], y=[xy[j][1] for j in idx], mode="markers", name=f"{t} / {m}",
                legendgroup=t, marker=dict(color=_color(i), symbol=SYMBOLS.get(m, "circle"), size=9,
                                           line=dict(width=0.5, color="white")),
            ))
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False)
    return _layout(fig, title, note, height=520, legend=dict(title="task / spec"))


def cosine_figure(per_layer: Mapping[str, Sequence[float]], title: str = "Cosine similarity per layer",
                  note: str | None = None) -> go.Figure:
    """Paper Table 3 as a curve: cosine between two models' (or two specs') vectors vs layer."""
    fig = go.Figure()
    for i, (name, ys) in enumerate(per_layer.items()):
        width = 3 if name.lower() in ("avg", "mean") else 1.5
        fig.add_trace(go.Scatter(x=list(range(len(ys))), y=list(ys), mode="lines+markers", name=name,
                                 line=dict(color="black" if width == 3 else _color(i), width=width)))
    fig.update_xaxes(title_text="layer")
    fig.update_yaxes(title_text="cosine", range=[-1.02, 1.02])
    return _layout(fig, title, note, height=400)


def cosine_heatmap(matrix: Sequence[Sequence[float]], labels: Sequence[str], title: str = "Cosine similarity",
                   note: str | None = None) -> go.Figure:
    """(N, N) cosine matrix between labelled vectors."""
    fig = go.Figure(go.Heatmap(z=[list(r) for r in matrix], x=list(labels), y=list(labels), zmin=-1, zmax=1,
                               colorscale="RdBu", reversescale=True, texttemplate="%{z:.2f}"))
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, title, note, height=200 + 40 * len(labels))


def ensemble_figure(ns: Sequence[int], curves: Mapping[str, Sequence[float]],
                    title: str = "Instruction + examples ensemble vs examples alone (test)",
                    note: str | None = None) -> go.Figure:
    """Paper Fig. 6: test accuracy vs number of examples N, one line per method."""
    fig = go.Figure()
    for i, (name, ys) in enumerate(curves.items()):
        dash = "dot" if "prompt" in name.lower() else None
        fig.add_trace(go.Scatter(x=list(ns), y=list(ys), mode="lines+markers", name=name,
                                 line=dict(color=_color(i), dash=dash, width=2)))
    fig.update_xaxes(title_text="number of examples N", type="log", tickvals=list(ns))
    fig.update_yaxes(title_text="accuracy", range=[-0.03, 1.03])
    return _layout(fig, title, note, height=400)


def bar_table_figure(table: Mapping[str, Mapping[str, float]], title: str = "Accuracy", note: str | None = None):
    """A results table (rows = methods, columns = tasks + Avg) as grouped bars."""
    fig = go.Figure()
    for i, (method, row) in enumerate(table.items()):
        fig.add_trace(go.Bar(x=list(row), y=list(row.values()), name=method, marker_color=_color(i)))
    fig.update_yaxes(title_text="accuracy", range=[0, 1.03])
    return _layout(fig, title, note, barmode="group", height=420)


def save_figure(fig: go.Figure, path: str | Path, png: bool = True, width: int = 1100, embed: bool = False) -> list[Path]:
    """Write ``path``.html (always) and ``path``.png (kaleido; skipped with a note if it cannot run).

    The HTML loads ``plotly.min.js`` from its own folder (written there once); ``embed``
    makes a self-contained page instead."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = [path.with_suffix(".html")]
    # plotly.min.js written once beside the pages (offline, and not 4.5 MB per page); embed=True inlines it
    fig.write_html(str(out[0]), include_plotlyjs=True if embed else "directory", full_html=True)
    if png:
        try:
            height = int(fig.layout.height or 500)
            fig.write_image(str(path.with_suffix(".png")), width=width, height=height, scale=1)
            out.append(path.with_suffix(".png"))
        except Exception as e:  # kaleido needs a Chrome/Chromium; offline machines may lack one
            print(f"note: PNG export skipped for {path.name} ({str(e).splitlines()[0][:120]}); HTML written.")
    return out
