"""Ready-made inputs for the playground.

First the rows picked by measurement on the default model (``taskvec.app.picks``, file
``assets/app_picks.json``; re-pick with ``python -m taskvec.app.picks``): an image query where No
Context and Prompt are wrong and the patch right, then one where all three are right and one where
the patch fails, each labelled by what it shows. Then two unmeasured rows (text -> text, flag
examples -> flag). Every row sets every field: the ones its specification does not use are empty.
"""

from __future__ import annotations

from taskvec.app.library import paper_tasks
from taskvec.app.picks import _abs, _row, label, load_picks
from taskvec.data.resources import flags_dir

FLAGS = flags_dir()
FIELDS = ("kind", "examples", "image_files", "image_answers", "instruction", "query_text", "query_image", "expected")


def flag(country: str) -> str | None:
    p = FLAGS / f"{country}.png"
    return str(p) if p.is_file() else None


def _flagged(pairs, n: int):
    """The first ``n`` pairs whose input has a flag image."""
    return [(x, y) for x, y in pairs if flag(x)][:n]


def playground_examples() -> list[list]:
    """Rows in FIELDS order."""
    return [r for r, _ in _rows()]


def playground_labels() -> list[str]:
    return [lab for _, lab in _rows()]


def measured() -> list[dict]:
    """The measured rows of the picks file (empty when it is missing or stale)."""
    data = load_picks("organism")
    return list(data["examples"]) if data else []


def _fields(row: dict) -> list:
    r = dict(row)
    r["query_image"] = _abs(r["query_image"])
    r["image_files"] = [_abs(p) for p in r["image_files"]] if r["image_files"] else None
    return [r[f] for f in FIELDS]


def _rows():
    picks = measured()
    rows = [(_fields(c["row"]), label(c)) for c in picks]
    tasks = paper_tasks()
    cap = tasks[0]
    spec = "\n".join(f"{x} : {y}" for x, y in cap.pairs("val")[:5])
    q = cap.pairs("test")[-1]
    rows.append((_fields(_row("text examples", spec, query_text=q[0], expected=q[1])),
                 f"{q[0]} (text) → capital"))
    imgs, qi = _flagged(cap.pairs("val"), 5), _flagged(cap.pairs("test"), 1)
    if len(imgs) >= 2 and qi:
        rows.append((_fields(_row("image examples", image_files=[flag(x) for x, _ in imgs],
                                  image_answers="\n".join(y for _, y in imgs), query_image=flag(qi[0][0]),
                                  expected=qi[0][1])), f"flag examples → {qi[0][0]} flag → capital"))
    if not picks:  # no measured file: one instruction row as well
        rows.append((_fields(_row("instruction", instruction=cap.instruction, query_text=q[0], expected=q[1])),
                     f"instruction → {q[0]} (text)"))
    return rows
