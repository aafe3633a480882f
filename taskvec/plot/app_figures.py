"""Plotly figures for the browser app (plain data in, figures out; no torch, no model)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from taskvec.plot.figures import ROLE_COLORS  # input / task / answer: the same colors in the app and the CLI figures

COLORS = ("#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2", "#FF9DA6", "#9D755D", "#BAB0AC")
SYMBOLS = {"text": "circle", "image": "square", "instruction": "diamond", "ensemble": "x", "context": "triangle-up"}


def _layout(fig: go.Figure, title: str, height: int = 320, **kw) -> go.Figure:
    fig.update_layout(title=dict(text=title, font=dict(size=14)), height=height, template="plotly_white",
                      margin=dict(l=50, r=20, t=50, b=45), **kw)
    return fig


def show_token(t: str) -> str:
    """A token made visible: spaces as ·, newlines as ⏎, empty as ∅."""
    if t == "":
        return "∅"
    return t.replace("\n", "⏎").replace(" ", "·")


def topk_bar(tokens: Sequence[str], probs: Sequence[float], title: str, highlight: str | None = None) -> go.Figure:
    """Top-k first-token probabilities as horizontal bars (most likely on top)."""
    shown = [show_token(t) for t in tokens]
    labels = [f"{t} ({i + 1})" if shown.count(t) > 1 else t for i, t in enumerate(shown)][::-1]
    vals = list(probs)[::-1]
    from taskvec.core.metrics import first_token_match

    colors = ["#54A24B" if highlight and first_token_match(t, highlight, case_insensitive=True) else "#4C78A8"
              for t in list(tokens)[::-1]]
    fig = go.Figure(go.Bar(x=vals, y=labels, orientation="h", marker_color=colors,
                           text=[f"{v:.3f}" for v in vals], textposition="auto",
                           hovertemplate="%{y}: p=%{x:.4f}<extra></extra>"))
    fig.update_xaxes(title="probability of the first token", range=[0, max(1e-9, max(vals, default=0)) * 1.15])
    fig.update_yaxes(type="category")
    return _layout(fig, title, height=260)


def sweep_figure(layers: Sequence[int], values: Sequence[float], baseline: float | None, ylabel: str,
                 title: str, band: Sequence[float] | None = None, suggested: int | None = None) -> go.Figure:
    """Patch result per layer, with the prompting baseline as a dotted line (paper Fig. 10)."""
    fig = go.Figure(go.Scatter(x=list(layers), y=list(values), mode="lines+markers", name="Patch",
                               line=dict(color="#4C78A8", width=2),
                               hovertemplate="layer %{x}: %{y:.3f}<extra>Patch</extra>"))
    if baseline is not None:
        fig.add_trace(go.Scatter(x=[min(layers), max(layers)], y=[baseline, baseline], mode="lines",
                                 name="Prompt (baseline)", line=dict(color="#E45756", dash="dot", width=2)))
    if suggested is not None:
        fig.add_vline(x=suggested, line=dict(color="#999", dash="dash", width=1),
                      annotation_text=f"suggested layer {suggested}", annotation_position="top")
    fig.update_xaxes(title="residual layer patched (0 = embeddings)", dtick=1 if len(layers) <= 40 else None)
    fig.update_yaxes(title=ylabel, range=[-0.02, 1.05])
    return _layout(fig, title, height=360, legend=dict(orientation="h", y=-0.25))


def phase_figure(mean: np.ndarray, std: np.ndarray, labels: Sequence[str], tokens: Sequence[str],
                 title: str) -> go.Figure:
    """Relative probability of input/task/answer tokens per layer: mean line with a ±1 std band."""
    mean, std = np.asarray(mean), np.asarray(std)
    x = list(range(mean.shape[0]))
    fig = go.Figure()
    for i, role in enumerate(labels):
        c = ROLE_COLORS.get(role, COLORS[i % len(COLORS)])
        tok = show_token(tokens[i]) if i < len(tokens) else ""
        lo, hi = np.clip(mean[:, i] - std[:, i], 0, 1), np.clip(mean[:, i] + std[:, i], 0, 1)
        fig.add_trace(go.Scatter(x=x + x[::-1], y=list(hi) + list(lo[::-1]), fill="toself", fillcolor=c,
                                 opacity=0.18, line=dict(width=0), hoverinfo="skip", showlegend=False))
        fig.add_trace(go.Scatter(x=x, y=mean[:, i], mode="lines+markers", name=f"{role} ({tok})",
                                 line=dict(color=c, width=2),
                                 hovertemplate=f"layer %{{x}}: %{{y:.3f}}<extra>{role}</extra>"))
    fig.update_xaxes(title="residual layer (0 = embeddings)", dtick=1 if mean.shape[0] <= 40 else None)
    fig.update_yaxes(title="relative probability", range=[0, 1])
    return _layout(fig, title, height=360, legend=dict(orientation="h", y=-0.25))


def lens_heatmap(tokens: Sequence[Sequence[str]], probs: Sequence[Sequence[float]], title: str) -> go.Figure:
    """Layers x top-k logit-lens decodings: cell text = token, colour and hover = probability."""
    P = np.asarray(probs, dtype=float)  # (L+1, k)
    text = [[show_token(t) for t in row] for row in tokens]
    fig = go.Figure(go.Heatmap(z=P, text=text, texttemplate="%{text}", colorscale="Blues", zmin=0,
                               x=[f"top {i + 1}" for i in range(P.shape[1])], y=list(range(P.shape[0])),
                               hovertemplate="layer %{y}, %{x}: %{text} p=%{z:.4f}<extra></extra>",
                               colorbar=dict(title="p")))
    fig.update_yaxes(title="residual layer", autorange="reversed", dtick=1 if P.shape[0] <= 40 else None)
    return _layout(fig, title, height=max(300, 28 * P.shape[0] + 90))


def top1_figure(dist: Sequence[Sequence[tuple[str, float]]], title: str, n: int = 3) -> go.Figure:
    """Per layer, the shares of the most frequent top-1 lens tokens over runs (stacked bars)."""
    fig = go.Figure()
    for rank in range(n):
        xs, ys, txt = [], [], []
        for layer, row in enumerate(dist):
            if rank < len(row):
                xs.append(layer); ys.append(row[rank][1]); txt.append(show_token(row[rank][0]))
        fig.add_trace(go.Bar(x=xs, y=ys, text=txt, textposition="inside", name=f"#{rank + 1} token",
                             marker_color=COLORS[rank], hovertemplate="layer %{x}: %{text} share %{y:.2f}<extra></extra>"))
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title="residual layer", dtick=1 if len(dist) <= 40 else None)
    fig.update_yaxes(title="share of runs with this top-1 token", range=[0, 1])
    return _layout(fig, title, height=340, legend=dict(orientation="h", y=-0.25))


def scatter_figure(xy: np.ndarray, groups: Sequence[str], kinds: Sequence[str], hover: Sequence[str],
                   title: str) -> go.Figure:
    """2-D projection: colour = task, marker = how it was specified, hover = the example set."""
    xy = np.asarray(xy)
    fig = go.Figure()
    order = list(dict.fromkeys(groups))
    for gi, g in enumerate(order):
        for kind in dict.fromkeys(kinds):
            idx = [i for i in range(len(groups)) if groups[i] == g and kinds[i] == kind]
            if not idx:
                continue
            fig.add_trace(go.Scatter(
                x=xy[idx, 0], y=xy[idx, 1], mode="markers", name=f"{g} · {kind}",
                marker=dict(color=COLORS[gi % len(COLORS)], symbol=SYMBOLS.get(kind, "circle"), size=9,
                            line=dict(width=0.5, color="#333")),
                text=[hover[i] for i in idx], hovertemplate="%{text}<extra>" + f"{g} · {kind}" + "</extra>"))
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False)
    return _layout(fig, title, height=480)


def cosine_heatmap(matrix: np.ndarray, labels: Sequence[str], title: str) -> go.Figure:
    M = np.asarray(matrix, dtype=float)
    fig = go.Figure(go.Heatmap(z=M, x=list(labels), y=list(labels), zmin=-1, zmax=1, colorscale="RdBu",
                               reversescale=True, text=np.round(M, 2), texttemplate="%{text}",
                               hovertemplate="%{y}<br>%{x}<br>cosine %{z:.3f}<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, title, height=max(380, 30 * len(labels) + 160))


def message_figure(text: str) -> go.Figure:
    """An empty figure carrying a message (e.g. 'run the patch to see this')."""
    fig = go.Figure()
    fig.add_annotation(text=text, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font=dict(size=13))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, "", height=200)
