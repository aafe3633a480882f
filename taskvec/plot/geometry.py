"""Geometry of task vectors: cluster scatter (paper Fig. 4), cosine matrix, cosine per layer (Table 3)."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from taskvec.plot.style import LAYER_AXIS, NOTE_FONT, SERIES_COLORS, color, layout, symbol


def cluster_figure(xy, tasks: Sequence[str], modalities: Sequence[str], title: str = "Task vectors",
                   note: str | None = None, hover: Sequence[str] | None = None,
                   axis_titles: tuple[str, str] | None = None) -> go.Figure:
    """2-D points: colour = task, marker symbol = specification modality (``style.SYMBOLS``).

    ``xy``: (N, 2) array-like; ``tasks`` / ``modalities``: N labels; ``hover``: N texts shown on
    hover (e.g. the example set); ``axis_titles``: e.g. ('PC 1 (31%)', 'PC 2 (12%)') — axes keep
    their ticks then; without it the axes are unlabelled (t-SNE/UMAP coordinates mean nothing).
    """
    P = np.asarray(xy, dtype=float)  # (N, 2)
    fig = go.Figure()
    for ti, t in enumerate(dict.fromkeys(tasks)):
        for m in dict.fromkeys(modalities):
            idx = [j for j in range(len(tasks)) if tasks[j] == t and modalities[j] == m]
            if not idx:
                continue
            name = f"{t} · {m}"
            fig.add_trace(go.Scatter(
                x=P[idx, 0].tolist(), y=P[idx, 1].tolist(), mode="markers", name=name, legendgroup=t,
                marker=dict(color=color(ti), symbol=symbol(m), size=10, line=dict(width=0.6, color="#333")),
                text=[hover[j] for j in idx] if hover is not None else None,
                hovertemplate=("%{text}" if hover is not None else "(%{x:.2f}, %{y:.2f})") + f"<extra>{name}</extra>"))
    if axis_titles:
        fig.update_xaxes(title=axis_titles[0])
        fig.update_yaxes(title=axis_titles[1])
    else:
        fig.update_xaxes(showticklabels=False)
        fig.update_yaxes(showticklabels=False)
    mods = ", ".join(f"{m}: {symbol(m)}" for m in dict.fromkeys(modalities))
    note = "; ".join(x for x in (note, f"colour = task; marker = specification ({mods})") if x)
    return layout(fig, title, note, height=560, legend_title_text="task · specification")


def cosine_heatmap(matrix, labels: Sequence[str], title: str = "Cosine similarity",
                   note: str | None = None) -> go.Figure:
    """(N, N) cosine matrix between labelled vectors, values written in the cells."""
    M = np.asarray(matrix, dtype=float)  # (N, N)
    fig = go.Figure(go.Heatmap(z=M.tolist(), x=list(labels), y=list(labels), zmin=-1, zmax=1, colorscale="RdBu",
                               reversescale=True, text=np.round(M, 2).tolist(), texttemplate="%{text}",
                               textfont=dict(size=NOTE_FONT), colorbar=dict(title="cos"),
                               hovertemplate="%{y}<br>%{x}<br>cosine %{z:.3f}<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    return layout(fig, title, note, height=max(420, 34 * len(labels) + 220))


def cosine_figure(per_layer: Mapping[str, Sequence[float]], title: str = "Cosine similarity per layer",
                  note: str | None = None, chosen_layer: int | None = None) -> go.Figure:
    """Cosine between two models' (or two specifications') vectors vs layer, one line per task.

    A curve named 'Avg' or 'mean' is drawn thick and black; ``chosen_layer`` is marked."""
    fig = go.Figure()
    for i, (name, ys) in enumerate(per_layer.items()):
        avg = name.lower() in ("avg", "mean")
        fig.add_trace(go.Scatter(x=list(range(len(ys))), y=[float(y) for y in ys], mode="lines+markers", name=name,
                                 line=dict(color="black" if avg else color(i), width=3 if avg else 1.5),
                                 hovertemplate=f"layer %{{x}}: %{{y:.3f}}<extra>{name}</extra>"))
    if chosen_layer is not None:
        fig.add_vline(x=chosen_layer, line=dict(color=SERIES_COLORS["layer"], width=1.5, dash="dash"),
                      annotation_text=f"chosen layer {chosen_layer}", annotation_position="top",
                      annotation_font_color=SERIES_COLORS["layer"])
    fig.update_xaxes(title_text=LAYER_AXIS, dtick=1 if max((len(y) for y in per_layer.values()), default=0) <= 40 else None)
    fig.update_yaxes(title_text="cosine", range=[-1.02, 1.02])
    return layout(fig, title, note, height=440)
