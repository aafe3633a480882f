"""Export files for the app: results as CSV/JSON, figures as HTML (and PNG when kaleido works),
task vectors as .safetensors with metadata. Each call writes into its own fresh folder.

Small and bounded on disk: the figures page loads ``plotly.min.js`` from beside it (one file
shared by every export, hard-linked into each folder and offered with the other files, so a
downloaded pair works offline; a CDN copy is the fallback), instead of inlining 4.6 MB per page;
and every new export first sweeps folders older than ``KEEP.max_age`` seconds or beyond the
newest ``KEEP.max_dirs`` (``configure`` sets these, tighter in public mode).
"""

from __future__ import annotations

import csv
import html
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

EXPORT_ROOT = Path(tempfile.gettempdir()) / "taskvec-exports"
PLOTLY_JS = "plotly.min.js"


@dataclass
class Keep:
    max_age: float = 24 * 3600.0  # seconds an export folder is kept
    max_dirs: int = 200  # export folders kept at most (the newest)


KEEP = Keep()


def configure(public: bool) -> None:
    """Retention: public mode keeps an hour and 50 folders; local use a day and 200 (set once by ``main``)."""
    KEEP.max_age, KEEP.max_dirs = (3600.0, 50) if public else (24 * 3600.0, 200)


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", s).strip("-")[:60] or "result"


def sweep(root: Path | None = None, keep: Keep | None = None, now: float | None = None, reserve: int = 0) -> int:
    """Delete export folders older than ``keep.max_age`` or beyond the newest ``keep.max_dirs - reserve``
    (``reserve``: folders about to be made); returns how many were deleted."""
    root, keep, now = root or EXPORT_ROOT, keep or KEEP, time.time() if now is None else now
    try:
        dirs = sorted((d for d in root.iterdir() if d.is_dir()), key=lambda d: d.stat().st_mtime, reverse=True)
    except OSError:
        return 0
    gone = 0
    for i, d in enumerate(dirs):
        try:
            old = now - d.stat().st_mtime > keep.max_age
        except OSError:
            continue
        if old or i >= keep.max_dirs - reserve:
            shutil.rmtree(d, ignore_errors=True)
            gone += 1
    return gone


def new_dir(prefix: str) -> Path:
    EXPORT_ROOT.mkdir(parents=True, exist_ok=True)
    sweep(reserve=1)
    return Path(tempfile.mkdtemp(prefix=_slug(prefix) + "-", dir=EXPORT_ROOT))


def write_rows(folder: Path, name: str, rows: list[dict], meta: dict | None = None) -> list[Path]:
    """rows -> name.csv and name.json (the JSON also carries ``meta``)."""
    out = []
    if rows:
        keys = list(dict.fromkeys(k for r in rows for k in r))
        p = folder / f"{name}.csv"
        with p.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            w.writerows(rows)
        out.append(p)
    p = folder / f"{name}.json"
    p.write_text(json.dumps({"meta": meta or {}, "rows": rows}, indent=2, default=str))
    return out + [p]


def shared_plotly_js() -> Path:
    """The one ``plotly.min.js`` of every export (written once per plotly version)."""
    import plotly
    from plotly.offline import get_plotlyjs

    EXPORT_ROOT.mkdir(parents=True, exist_ok=True)
    path = EXPORT_ROOT / f"plotly-{plotly.__version__}.min.js"
    if not path.is_file():
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(get_plotlyjs())
        os.replace(tmp, path)  # atomic: a concurrent export never sees half a file
    return path


def _cdn_url() -> str:
    from plotly.offline.offline import get_plotlyjs_version

    return f"https://cdn.plot.ly/plotly-{get_plotlyjs_version()}.min.js"


def write_figures(folder: Path, figs: dict, png: bool = False, caption: str = "") -> list[Path]:
    """All figures on one HTML page that loads the shared ``plotly.min.js`` from its folder (CDN fallback),
    under ``caption`` (what they show: model, inputs, layer, date; escaped) printed above them; PNGs if asked
    and possible. Returns the page, plotly.min.js and the PNGs ([] without figures)."""
    from taskvec.plot.io import save_png

    figs = {_slug(k): v for k, v in figs.items() if v is not None}
    if not figs:
        return []
    js = folder / PLOTLY_JS
    try:
        os.link(shared_plotly_js(), js)  # no extra disk
    except OSError:
        shutil.copyfile(shared_plotly_js(), js)
    loader = (f"<script src='{PLOTLY_JS}'></script><script>if(!window.Plotly){{document.write("
              f"'<script src=\"{_cdn_url()}\"><\\/script>')}}</script>")
    parts = [fig.to_html(include_plotlyjs=False, full_html=False) for fig in figs.values()]
    page = folder / "figures.html"
    head = (f"<p class='taskvec-caption' style='font:15px/1.4 sans-serif;margin:8px 12px'>{html.escape(caption)}</p>"
            if caption else "")
    title = html.escape(caption[:120]) if caption else "taskvec figures"
    page.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title>" + loader
                    + "</head><body>" + head + "\n".join(parts) + "</body></html>")
    out = [page, js]
    if png:
        out += [p for name, fig in figs.items() if (p := save_png(fig, folder / f"{name}.png")) is not None]
    return out


def export_all(prefix: str, rows: list[dict], meta: dict, figs: dict, vector=None, layer: int | None = None,
               png: bool = False) -> list[str]:
    folder = new_dir(prefix)
    paths = write_rows(folder, prefix, rows, meta) + write_figures(folder, figs, png, str(meta.get("caption", "")))
    if vector is not None:
        paths.append(vector.save(folder / "task_vector.safetensors", layer))
    return [str(p) for p in paths]
