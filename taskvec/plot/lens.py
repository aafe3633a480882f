"""Logit-lens figures: phase curves (paper Fig. 12), top-k decodings per layer, top-1 shares."""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from taskvec.plot.style import (LAYER_AXIS, NOTE_FONT, ROLE_COLORS, ROLES, SUBTITLE_FONT, band_trace, color, layout,
                                show_token)

PHASE_Y = "relative probability"


def _phase_traces(mean, std, labels: Sequence[str], tokens: Sequence[str], legend: bool, with_tokens: bool):
    """Per role: a ±1 std band (if ``std``) and the mean line. ``mean``/``std``: (L+1, 3) array-likes."""
    m = np.asarray(mean, dtype=float)  # (L+1, 3)
    s = None if std is None else np.asarray(std, dtype=float)  # (L+1, 3)
    xs = list(range(m.shape[0]))
    out = []
    for j, role in enumerate(labels):
        c = ROLE_COLORS.get(role, color(j))
        if s is not None:
            lo, hi = np.clip(m[:, j] - s[:, j], 0, 1), np.clip(m[:, j] + s[:, j], 0, 1)
            out.append(band_trace(xs, lo.tolist(), hi.tolist(), c, f"{role} ± 1 std", legendgroup=role))
        if with_tokens and role == "answer":
            name = "answer (each set's own)"  # a mean over sets whose answers differ: no one token to name
        else:
            name = f"{role} ({show_token(tokens[j])})" if with_tokens and j < len(tokens) else role
        out.append(go.Scatter(x=xs, y=m[:, j].tolist(), mode="lines+markers", name=name, legendgroup=role,
                              showlegend=legend, line=dict(color=c, width=2),
                              hovertemplate=f"layer %{{x}}: %{{y:.3f}}<extra>{role}</extra>"))
    return out


def _band_note(note: str | None, bands: bool, n_runs: int | None, extra: str = "") -> str | None:
    runs = f"{n_runs} example sets" if n_runs else "example sets"
    return "; ".join(x for x in (note, f"lines: mean, bands: ±1 std over {runs}" if bands else "", extra) if x) or None


def phase_figure(mean, std=None, tokens: Sequence[str] = (), labels: Sequence[str] = ROLES,
                 title: str = "Logit-lens phases at the delimiter", note: str | None = None,
                 n_runs: int | None = None) -> go.Figure:
    """Relative probability of the (input, task, answer) tokens per layer: mean line, ±1 std band.

    ``mean``/``std``: (L+1, 3) arrays or nested lists; ``tokens``: each role's decoded token;
    ``n_runs``: the example sets behind the mean (named in the note).
    """
    fig = go.Figure(_phase_traces(mean, std, labels, tokens, legend=True, with_tokens=True))
    L1 = len(fig.data[-1].x)
    fig.update_xaxes(title=LAYER_AXIS, dtick=1 if L1 <= 40 else None)
    fig.update_yaxes(title=PHASE_Y, range=[0, 1])
    return layout(fig, title, _band_note(note, std is not None, n_runs), height=440, legend="below")


def phase_grid(curves: Mapping[str, tuple], labels: Sequence[str] = ROLES, title: str = "Logit-lens phases per task",
               note: str | None = None, n_runs: int | None = None, cols: int = 3) -> go.Figure:
    """One phase panel per task: ``curves[name] = (mean, std, tokens)`` as in ``phase_figure``."""
    names = list(curves)
    cols = max(1, min(cols, len(names)))
    rows = math.ceil(len(names) / cols)
    titles = []
    for name in names:
        tokens = curves[name][2]
        roles = " | ".join(f"{r} <b>{show_token(t)}</b>" for r, t in zip(labels, tokens))
        titles.append(f"{name}<br><span style='font-size:{NOTE_FONT}px'>{roles}</span>" if tokens else name)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, shared_yaxes=True,
                        horizontal_spacing=0.06, vertical_spacing=0.2 if rows > 1 else 0.1)
    fig.update_annotations(font_size=SUBTITLE_FONT)
    for i, name in enumerate(names):
        mean, std, tokens = curves[name]
        for tr in _phase_traces(mean, std, labels, tokens, legend=i == 0, with_tokens=False):
            fig.add_trace(tr, i // cols + 1, i % cols + 1)
    fig.update_yaxes(range=[0, 1])
    fig.update_yaxes(title_text=PHASE_Y, col=1)
    n_layers = max(len(c[0]) for c in curves.values()) if curves else 0
    fig.update_xaxes(dtick=1 if n_layers <= 20 else None)
    fig.update_xaxes(title_text="layer", row=rows)
    note = _band_note(note, any(c[1] is not None for c in curves.values()), n_runs,
                      "tokens under each title: the first example set's")
    return layout(fig, title, note, height=330 * rows + 200, legend="below", subtitle_lines=2 if titles != names else 1)


def lens_heatmap(tokens: Sequence[Sequence[str]], probs: Sequence[Sequence[float]],
                 title: str = "Top-k logit-lens tokens per layer", note: str | None = None) -> go.Figure:
    """Layers (rows, 0 on top) x rank (columns): cell text = token, colour and hover = probability."""
    P = np.asarray(probs, dtype=float)  # (L+1, k)
    text = [[show_token(t) for t in row] for row in tokens]
    fig = go.Figure(go.Heatmap(z=P.tolist(), text=text, texttemplate="%{text}", textfont=dict(size=NOTE_FONT),
                               colorscale="Blues", zmin=0, x=[f"top {i + 1}" for i in range(P.shape[1])],
                               y=list(range(P.shape[0])), colorbar=dict(title="p"),
                               hovertemplate="layer %{y}, %{x}: %{text} p=%{z:.4f}<extra></extra>"))
    fig.update_yaxes(title="layer l (paper L = l - 1)", autorange="reversed", dtick=1 if P.shape[0] <= 40 else None)
    return layout(fig, title, note, height=max(340, 28 * P.shape[0] + 150))


def top1_figure(dist: Sequence[Sequence[tuple[str, float]]],
                title: str = "Top-1 lens token per layer (share of example sets)", n: int = 3,
                note: str | None = None) -> go.Figure:
    """Per layer, the shares of the ``n`` most frequent top-1 lens tokens over runs (stacked bars).

    ``dist[layer] = [(token, share), ...]``, most frequent first."""
    fig = go.Figure()
    for rank in range(n):
        xs, ys, txt = [], [], []
        for layer, row in enumerate(dist):
            if rank < len(row):
                xs.append(layer)
                ys.append(float(row[rank][1]))
                txt.append(show_token(row[rank][0]))
        fig.add_trace(go.Bar(x=xs, y=ys, text=txt, textposition="inside", name=f"#{rank + 1} token",
                             marker_color=color(rank), hovertemplate="layer %{x}: %{text} share %{y:.2f}<extra></extra>"))
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title=LAYER_AXIS, dtick=1 if len(dist) <= 40 else None)
    fig.update_yaxes(title="share of runs", range=[0, 1])
    return layout(fig, title, note, height=420, legend="below")


def _matches(token: str, word: str) -> bool:
    """The paper's first-token rule on plain strings: one is a prefix of the other after stripping."""
    t, w = token.strip(), (word or "").strip()
    return bool(t) and bool(w) and (w.startswith(t) or t.startswith(w))


def top1_roles_figure(dist: Sequence[Sequence[tuple[str, float]]], input_token: str, task_word: str,
                      answers: Sequence[str], title: str = "What the top-1 lens token is, per layer",
                      note: str | None = None) -> go.Figure:
    """Per layer, the share of example sets whose top-1 lens token is the input token, the task word, an answer
    (one of the sets' answers) or something else: roles instead of raw token slivers (paper Fig. 13).

    ``dist[layer] = [(token, share), ...]`` (``top1_distribution``; shares of the listed tokens; the rest is 'other')."""
    roles = {r: [] for r in (*ROLES, "other")}
    for row in dist:
        got = dict.fromkeys(roles, 0.0)
        for tok, share in row:
            if _matches(tok, input_token):
                got["input"] += share
            elif _matches(tok, task_word):
                got["task"] += share
            elif any(_matches(tok, a) for a in answers):
                got["answer"] += share
            else:
                got["other"] += share
        got["other"] += max(0.0, 1.0 - sum(got.values()))
        for r in roles:
            roles[r].append(got[r])
    fig = go.Figure()
    xs = list(range(len(dist)))
    names = {"input": f"input ({show_token(input_token)})", "task": f"task ({show_token(task_word)})",
             "answer": "answer (one of the sets' answers)", "other": "other token"}
    for r, ys in roles.items():
        fig.add_trace(go.Bar(x=xs, y=ys, name=names[r], marker_color=ROLE_COLORS.get(r, "#BAB0AC"),
                             hovertemplate="layer %{x}: %{y:.0%}<extra>" + names[r] + "</extra>"))
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title=LAYER_AXIS, dtick=1 if len(dist) <= 40 else None)
    fig.update_yaxes(title="share of example sets", range=[0, 1], tickformat=".0%")
    return layout(fig, title, note, height=420, legend="below")
