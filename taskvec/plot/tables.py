"""Table-like figures: task summaries (paper Tables 6/13) and the ensemble curve (paper Fig. 6)."""

from __future__ import annotations

from typing import Mapping, Sequence

import plotly.graph_objects as go

from taskvec.plot.style import FONT, color, layout, show_token


def summary_table(rows: Mapping[str, Mapping[str, Sequence[tuple[str, float]]]], layer: int | None = None,
                  title: str = "Task summaries: top-k lens tokens of the task vector",
                  note: str | None = None) -> go.Figure:
    """``rows[task][spec] = [(token, prob), ...]``: one row per task, one column per specification."""
    specs = list(dict.fromkeys(s for r in rows.values() for s in r))
    cells = [list(rows)]
    for s in specs:
        cells.append(["<br>".join(f"{show_token(t)} {float(p):.3f}" for t, p in rows[task].get(s, []))
                      for task in rows])
    k = max((len(v) for r in rows.values() for v in r.values()), default=1)
    fig = go.Figure(go.Table(header=dict(values=["task"] + specs, fill_color="#e8eef7", align="left",
                                         font=dict(size=FONT)),
                             cells=dict(values=cells, align="left", height=24, font=dict(size=FONT - 1))))
    if layer is not None:
        title = f"{title} (layer {layer})"
    return layout(fig, title, note, height=180 + len(rows) * (22 * k + 12))


def ensemble_figure(ns: Sequence[int], curves: Mapping[str, Sequence[float]],
                    title: str = "Instruction + examples ensemble vs examples alone (test)",
                    note: str | None = None) -> go.Figure:
    """Test accuracy vs the number of examples N, one line per method ('...Prompt' lines dotted)."""
    fig = go.Figure()
    for i, (name, ys) in enumerate(curves.items()):
        dash = "dot" if "prompt" in name.lower() else None
        fig.add_trace(go.Scatter(x=list(ns), y=[float(y) for y in ys], mode="lines+markers", name=name,
                                 line=dict(color=color(i), dash=dash, width=2),
                                 hovertemplate=f"N=%{{x}}: %{{y:.3f}}<extra>{name}</extra>"))
    fig.update_xaxes(title_text="number of examples N", type="log", tickvals=list(ns))
    fig.update_yaxes(title_text="accuracy", range=[-0.03, 1.03])
    return layout(fig, title, note, height=460, legend="below")
