"""Ready-made inputs for the playground: the six paper tasks, with flag images from examples/flags."""

from __future__ import annotations

from pathlib import Path

from taskvec.app.library import paper_tasks
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
    """Rows in FIELDS order: text examples for each paper task, then image queries and image examples."""
    return [r for r, _ in _rows()]


def playground_labels() -> list[str]:
    return [lab for _, lab in _rows()]


def _rows():
    rows = []
    tasks = paper_tasks()
    for t in tasks:
        spec, query = t.pairs("val")[:5], t.pairs("test")[-1]
        rows.append((["text examples", "\n".join(f"{x} : {y}" for x, y in spec), None, "", t.instruction, query[0],
                      None, query[1]], f"{t.id}: text → text ({query[0]})"))
    for t in tasks:
        if t.domain != "country":
            continue
        spec = "\n".join(f"{x} : {y}" for x, y in t.pairs("val")[:5])
        q = _flagged(t.pairs("test"), 1)
        if q:
            rows.append((["text examples", spec, None, "", t.instruction, "", flag(q[0][0]), q[0][1]],
                         f"{t.id}: text examples → flag of {q[0][0]}"))
        imgs = _flagged(t.pairs("val"), 5)
        if len(imgs) >= 2 and q:
            rows.append((["image examples", spec, [flag(x) for x, _ in imgs], "\n".join(y for _, y in imgs),
                          t.instruction, "", flag(q[0][0]), q[0][1]], f"{t.id}: flag examples → flag of {q[0][0]}"))
    return rows
