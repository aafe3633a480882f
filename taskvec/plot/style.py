"""The one look of every taskvec figure: palette, role colours, modality symbols, fonts, layout.

Plain Python and plotly only; the CLI figures and the app draw with these same constants.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import plotly.graph_objects as go

PALETTE = ("#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2", "#FF9DA6", "#9D755D", "#BAB0AC")
"""Categorical colours (tasks, methods, ranks), in order."""

ROLES = ("input", "task", "answer")
ROLE_COLORS = {"input": "#4C78A8", "task": "#54A24B", "answer": "#E45756"}
"""Logit-lens roles: the same colour for a role in every phase figure."""

SERIES_COLORS = {"Patch": "#4C78A8", "Prompt": "#E45756", "No Context": "#7F7F7F", "layer": "#B279A2",
                 "correct": "#54A24B", "other": "#4C78A8"}
"""Fixed meanings: the patch curve, the two baselines, the chosen-layer line, right/other answers."""

SYMBOLS = {"text": "circle", "image": "square", "instruction": "diamond", "ensemble": "x", "context": "triangle-up"}
"""Marker symbol by how a task was specified."""

FONT = 15       # px: axes, ticks, legends, hover
TITLE_FONT = 20  # px: figure titles
SUBTITLE_FONT = 16  # px: subplot titles
NOTE_FONT = 13  # px: the note line under a title, cell text in heatmaps
TEMPLATE = "plotly_white"


def color(i: int) -> str:
    """The i-th categorical colour (cycling)."""
    return PALETTE[i % len(PALETTE)]


def rgba(hex_color: str, alpha: float) -> str:
    """'#RRGGBB' -> 'rgba(r,g,b,alpha)' (for translucent bands)."""
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def symbol(modality: str) -> str:
    """Marker symbol of a specification modality: 'text', 'image examples', 'text (base LLM)', ... -> SYMBOLS."""
    m = (modality or "").strip().lower()
    for key, sym in SYMBOLS.items():
        if m.startswith(key):
            return sym
    return "circle"


def show_token(t: str) -> str:
    """A token made visible: spaces as ·, newlines as ⏎, empty as ∅."""
    if t == "":
        return "∅"
    return t.replace("\n", "⏎").replace(" ", "·")


def pick(value, name: str):
    """``value[name]`` for a mapping (None when absent), else ``value`` itself (one value for every panel)."""
    if isinstance(value, Mapping):
        return value.get(name)
    return value


def binomial_band(p: Sequence[float], n: int) -> tuple[list[float], list[float]]:
    """(low, high): p ± one binomial standard error sqrt(p(1-p)/n), clipped to [0, 1]."""
    se = [math.sqrt(max(0.0, q * (1 - q)) / max(1, n)) for q in p]
    return [max(0.0, q - s) for q, s in zip(p, se)], [min(1.0, q + s) for q, s in zip(p, se)]


def band_trace(x: Sequence, low: Sequence[float], high: Sequence[float], hex_color: str, name: str = "band",
               alpha: float = 0.18, legendgroup: str | None = None) -> go.Scatter:
    """A filled band between ``low`` and ``high`` (no legend entry, no hover)."""
    x = list(x)
    return go.Scatter(x=x + x[::-1], y=list(high) + list(low)[::-1], fill="toself", fillcolor=rgba(hex_color, alpha),
                      mode="lines", line=dict(width=0), hoverinfo="skip", showlegend=False, name=name,
                      legendgroup=legendgroup)


def wrap_note(note: str, width: int = 110) -> list[str]:
    """A note's '; '-separated clauses packed into lines of about ``width`` characters."""
    lines: list[str] = []
    for clause in note.split("; "):
        if lines and len(lines[-1]) + 2 + len(clause) <= width:
            lines[-1] += "; " + clause
        else:
            lines.append(clause)
    return lines


def layout(fig: go.Figure, title: str, note: str | None = None, height: int = 420,
           legend: str = "right", subtitle_lines: int = 0, **kw) -> go.Figure:
    """Title (+ a smaller, wrapped note), fonts, margins, template; ``height`` grows with the title block.

    ``legend``: 'right', 'below' or 'none'; ``subtitle_lines``: lines of subplot titles above the
    first row (room is made for them under the title)."""
    text = title or ""
    lines = wrap_note(note) if note else []
    if lines:
        text += "".join(f"<br><span style='font-size:{NOTE_FONT}px'>{line}</span>" for line in lines)
    top = 30 + (34 if title else 0) + 26 * len(lines) + 26 * subtitle_lines  # px, as rendered
    height += max(0, top - 90)  # a long note or subplot titles add height instead of squeezing the plot
    bottom = 60
    if legend == "below":
        bottom = 120
        plot_h = max(100, height - top - bottom)  # the legend sits below the x-axis title
        kw.setdefault("legend", dict(orientation="h", yanchor="top", y=-75 / plot_h, x=0, xanchor="left"))
    elif legend == "none":
        kw.setdefault("showlegend", False)
    fig.update_layout(title=dict(text=text, font=dict(size=TITLE_FONT), x=0.01, xanchor="left",
                                 yref="container", y=1 - 28 / height, yanchor="top"),
                      font=dict(size=FONT), template=TEMPLATE, height=height,
                      margin=dict(t=top, l=70, r=30, b=bottom), **kw)
    return fig


# the x/y title of every per-layer axis: taskvec's residual numbering, with the paper's beside it
LAYER_AXIS = "residual layer l (0 = embeddings; paper's L = l - 1)"
