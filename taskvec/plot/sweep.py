"""Patch result per layer (paper Fig. 10): one curve, or a grid of per-task curves."""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from taskvec.plot.style import LAYER_AXIS, SERIES_COLORS, SUBTITLE_FONT, band_trace, binomial_band, layout, pick

BASELINES = (("Prompt", "dot"), ("No Context", "dash"))


def sweep_figure(curves: Sequence[float] | Mapping[str, Sequence[float]],
                 prompt: float | Mapping[str, float] | None = None,
                 no_context: float | Mapping[str, float] | None = None,
                 chosen_layer: int | None = None, n: int | Mapping[str, int] | None = None,
                 layers: Sequence[int] | None = None, title: str = "Patch accuracy per layer",
                 note: str | None = None, ylabel: str = "accuracy", chosen_label: str = "chosen layer",
                 cols: int = 3) -> go.Figure:
    """Patch accuracy (or a probability) vs the residual layer patched, with its baselines.

    ``curves``: one list of values per layer, or ``{task: values}`` for a grid (one panel per
    task). ``prompt`` / ``no_context``: baselines as horizontal lines (a number, or one per
    task). ``n``: queries behind each value (a number, or one per task): draws a ±1 binomial
    standard-error band. ``chosen_layer``: marked with a vertical line on every panel.
    ``layers``: the x values (default 0..L).
    """
    grid = isinstance(curves, Mapping)
    panels = {str(k): list(v) for k, v in curves.items()} if grid else {"": list(curves)}
    names = list(panels)
    cols = max(1, min(cols, len(names))) if grid else 1
    rows = math.ceil(len(names) / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=names if grid else None, shared_yaxes=True,
                        horizontal_spacing=0.06, vertical_spacing=0.18 if rows > 1 else 0.1)
    fig.update_annotations(font_size=SUBTITLE_FONT)
    in_unit = True
    for i, name in enumerate(names):
        r, c = i // cols + 1, i % cols + 1
        ys = panels[name]
        xs = list(layers) if layers is not None else list(range(len(ys)))
        in_unit = in_unit and all(0 <= y <= 1 for y in ys)
        count = pick(n, name)
        if count:
            lo, hi = binomial_band(ys, int(count))
            fig.add_trace(band_trace(xs, lo, hi, SERIES_COLORS["Patch"], "Patch ± 1 SE", legendgroup="Patch"), r, c)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name="Patch", legendgroup="Patch",
                                 showlegend=i == 0, line=dict(color=SERIES_COLORS["Patch"], width=2),
                                 hovertemplate="layer %{x}: %{y:.3f}<extra>Patch</extra>"), r, c)
        for (label, dash), base in zip(BASELINES, (prompt, no_context)):
            v = pick(base, name)
            if v is not None:
                fig.add_trace(go.Scatter(x=[xs[0], xs[-1]], y=[v, v], mode="lines", name=label, legendgroup=label,
                                         showlegend=i == 0, line=dict(color=SERIES_COLORS[label], dash=dash, width=2),
                                         hovertemplate=f"{label}: %{{y:.3f}}<extra></extra>"), r, c)
        if chosen_layer is not None:
            fig.add_vline(x=chosen_layer, line=dict(color=SERIES_COLORS["layer"], width=1.5, dash="dash"), opacity=0.8,
                          row=r, col=c, **({} if grid else dict(annotation_text=f"{chosen_label} {chosen_layer}",
                                                                annotation_position="top",
                                                                annotation_font_color=SERIES_COLORS["layer"])))
    if in_unit:
        fig.update_yaxes(range=[-0.03, 1.05])
    xs = list(layers) if layers is not None else list(range(len(panels[names[0]])))
    per_tick = max(1, math.ceil(len(xs) / (40 if cols == 1 else 12)))  # every layer where it fits, upright labels
    fig.update_xaxes(tick0=0, dtick=per_tick, range=[min(xs) - 0.5, max(xs) + 0.5])  # no ticks beyond the layers
    fig.update_xaxes(title_text=LAYER_AXIS if not grid else "layer l", row=rows)
    fig.update_yaxes(title_text=ylabel, col=1)
    parts = [note]
    if chosen_layer is not None:
        parts.append(f"dashed purple line: {chosen_label} = {chosen_layer}")
    if n:
        parts.append("band: ±1 binomial standard error" + (f" (n = {n} queries)" if not isinstance(n, Mapping) else ""))
    full_note = "; ".join(p for p in parts if p) or None
    height = (300 * rows + 190) if grid else 440
    return layout(fig, title, full_note, height=height, legend="below",
                  subtitle_lines=1 if grid or chosen_layer is not None else 0)
