"""Writing figures: one HTML page per figure (CLI) or one page for several (app exports), PNG when possible."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import plotly.graph_objects as go


def save_png(fig: go.Figure, path: str | Path, width: int = 1100) -> Path | None:
    """``path`` as PNG via kaleido (needs Chrome/Chromium); None with a printed note when it cannot run."""
    path = Path(path)
    try:
        fig.write_image(str(path), width=width, height=int(fig.layout.height or 500), scale=1)
        return path
    except Exception as e:  # noqa: BLE001 - offline machines may lack kaleido's browser; HTML is enough
        why = str(e).splitlines()[0][:120] if str(e).strip() else type(e).__name__
        print(f"note: PNG export skipped for {path.name} ({why}); HTML written.")
        return None


def save_figure(fig: go.Figure, path: str | Path, png: bool = True, width: int = 1100,
                embed: bool = False) -> list[Path]:
    """Write ``path``.html (always) and ``path``.png (if ``png`` and kaleido can run).

    The HTML loads ``plotly.min.js`` from its own folder (written there once: offline, and
    not 4.5 MB per page); ``embed=True`` makes a self-contained page instead."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    html = path.with_suffix(".html")
    fig.write_html(str(html), include_plotlyjs=True if embed else "directory", full_html=True)
    out = [html]
    if png and (p := save_png(fig, path.with_suffix(".png"), width)) is not None:
        out.append(p)
    return out


def save_figures(figs: Mapping[str, go.Figure | None], path: str | Path, png: bool = False,
                 width: int = 1100) -> list[Path]:
    """Several figures on one self-contained HTML page (plotly.js inlined once: works offline),
    plus ``<key>.png`` beside it for each figure if ``png`` and kaleido can run (keys must be safe file
    names). None figures are skipped."""
    figs = {k: v for k, v in figs.items() if v is not None}
    if not figs:
        return []
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    parts = [fig.to_html(include_plotlyjs=(i == 0), full_html=False) for i, fig in enumerate(figs.values())]
    path.write_text("<!DOCTYPE html><html><head><meta charset='utf-8'><title>taskvec figures</title></head><body>"
                    + "\n".join(parts) + "</body></html>")
    out = [path]
    if png:
        for name, fig in figs.items():
            if (p := save_png(fig, path.parent / f"{name}.png", width)) is not None:
                out.append(p)
    return out

