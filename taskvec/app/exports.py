"""Export files for the app: results as CSV/JSON, figures as HTML (and PNG when kaleido works),
task vectors as .safetensors with metadata. Each call writes into its own fresh folder.
"""

from __future__ import annotations

import csv
import json
import re
import tempfile
from pathlib import Path

EXPORT_ROOT = Path(tempfile.gettempdir()) / "taskvec-exports"


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", s).strip("-")[:60] or "result"


def new_dir(prefix: str) -> Path:
    EXPORT_ROOT.mkdir(parents=True, exist_ok=True)
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


def write_figures(folder: Path, figs: dict, png: bool = False) -> list[Path]:
    """All figures in one standalone HTML (plotly.js inlined once: works offline); PNGs if asked and possible."""
    from taskvec.plot import save_figures

    return save_figures({_slug(k): v for k, v in figs.items()}, folder / "figures.html", png=png)


def export_all(prefix: str, rows: list[dict], meta: dict, figs: dict, vector=None, layer: int | None = None,
               png: bool = False) -> list[str]:
    folder = new_dir(prefix)
    paths = write_rows(folder, prefix, rows, meta) + write_figures(folder, figs, png)
    if vector is not None:
        paths.append(vector.save(folder / "task_vector.safetensors", layer))
    return [str(p) for p in paths]
