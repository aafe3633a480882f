"""The playground's figure: top-k first-token probabilities of one generation."""

from __future__ import annotations

from typing import Sequence

import plotly.graph_objects as go

from taskvec.plot.style import SERIES_COLORS, layout, show_token


def topk_bar(tokens: Sequence[str], probs: Sequence[float], title: str, correct: Sequence[bool] | None = None,
             x_max: float | None = None, note: str | None = None) -> go.Figure:
    """Top-k first-token probabilities as horizontal bars, most likely on top (short titles: three fit side by side).

    ``correct[i]``: token i matches the expected answer (drawn in the 'correct' colour; the
    caller applies the metric). ``x_max``: the probability axis' end, so that several columns
    share one scale (default: 1.15 x the largest probability shown).
    """
    shown = [show_token(t) for t in tokens]
    labels = [f"{t} ({i + 1})" if shown.count(t) > 1 else t for i, t in enumerate(shown)][::-1]
    vals = [float(p) for p in probs][::-1]
    ok = list(correct)[::-1] if correct is not None else [False] * len(vals)
    colors = [SERIES_COLORS["correct"] if c else SERIES_COLORS["other"] for c in ok]
    fig = go.Figure(go.Bar(x=vals, y=labels, orientation="h", marker_color=colors,
                           text=[f"{v:.3f}" for v in vals], textposition="auto",
                           hovertemplate="%{y}: p=%{x:.4f}<extra></extra>"))
    end = x_max if x_max is not None else max(vals, default=0.0) * 1.15
    fig.update_xaxes(title="P(first token)", range=[0, max(1e-9, end)])
    fig.update_yaxes(type="category")
    if any(ok):
        note = "; ".join(x for x in (note, "green: matches the expected answer") if x)
    return layout(fig, title, note, height=300 + (20 if note else 0), legend="none")


def method_bars(groups: dict, title: str, note: str | None = None, methods=("No Context", "Prompt", "Patch")) -> go.Figure:
    """Accuracy of each method as grouped bars: ``groups`` = {series name: {method: value in [0, 1]}}
    (e.g. the loaded model beside the paper's Idefics2), values printed on the bars, axis 0-1."""
    from taskvec.plot.style import PALETTE

    fig = go.Figure()
    shades = (PALETTE[0], "#BAB0AC", PALETTE[1], PALETTE[2])
    for i, (name, vals) in enumerate(groups.items()):
        ys = [vals.get(m) for m in methods]
        fig.add_trace(go.Bar(x=list(methods), y=ys, name=name, marker_color=shades[i % len(shades)],
                             text=[f"{y:.2f}" if y is not None else "" for y in ys], textposition="outside",
                             hovertemplate="%{x}: %{y:.2f}<extra>" + name + "</extra>"))
    fig.update_yaxes(title="first-token accuracy", range=[0, 1.08])
    fig.update_layout(barmode="group", bargap=0.25)
    return layout(fig, title, note, height=380, legend="below")
