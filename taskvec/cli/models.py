"""``python -m taskvec models``: every image-text-to-text model type of the installed transformers
and its status in taskvec (``taskvec.models.catalog``): supported (a family file; ``--verify``
runs the invariants on its tiny random build), refused (and why) or generic (no family file:
loads with the unverified generic adapter). ``--markdown`` prints the README's model table.
"""

from __future__ import annotations

import json
from collections import Counter


def add_parser(sub) -> None:
    p = sub.add_parser("models", help="List every image-text-to-text architecture of the installed transformers "
                                      "and whether taskvec supports, refuses or generically loads it")
    p.add_argument("--verify", action="store_true",
                   help="build each supported type's tiny random model and run the invariants on it (seconds each)")
    p.add_argument("--status", choices=("supported", "refused", "generic"), default=None, help="only this status")
    p.add_argument("--markdown", action="store_true", help="the README's table of supported families")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_models)


def markdown_table() -> str:
    """The README's model table: supported types, their family file and the first checkpoint to try."""
    from taskvec.models.catalog import catalog

    rows = ["| model type | family file | first checkpoint to try | tiny model |", "|---|---|---|---|"]
    for e in catalog():
        if e.status == "supported":
            file = e.detail.split("(", 1)[1].rstrip(")")
            rows.append(f"| `{e.model_type}` | `{file}` | `{e.checkpoint}` | `tiny-random/{e.model_type}` |")
    return "\n".join(rows)


def verify(model_type: str) -> tuple[bool, str]:
    """The invariants (quick) on the tiny random build of ``model_type``."""
    from taskvec.analysis.invariants import run_checks
    from taskvec.models import load_model

    try:
        report = run_checks(load_model(f"tiny-random/{model_type}"), quick=True)
    except Exception as e:  # a build that cannot load is a failing type, reported with its error
        return False, f"tiny build failed: {type(e).__name__}: {e}"
    return report.passed, report.verdict()


def cmd_models(args) -> int:
    from taskvec.models.catalog import catalog

    if args.markdown:
        print(markdown_table())
        return 0
    entries = [e for e in catalog() if args.status in (None, e.status)]
    verified: dict[str, tuple[bool, str]] = {}
    if args.verify:
        from tqdm import tqdm

        for e in tqdm([e for e in entries if e.status == "supported"], desc="tiny builds", unit="type"):
            verified[e.model_type] = verify(e.model_type)
    if args.json:
        print(json.dumps([{**e.__dict__, **({"invariants_pass": verified[e.model_type][0],
                                             "invariants": verified[e.model_type][1]} if e.model_type in verified else {})}
                          for e in entries], indent=1))
        return 0 if all(ok for ok, _ in verified.values()) else 1
    width = max(len(e.model_type) for e in entries) + 2
    for e in entries:
        status = e.status
        if e.model_type in verified:
            status += " (invariants pass)" if verified[e.model_type][0] else " (INVARIANTS FAIL)"
        extra = f"; try {e.checkpoint}" if e.checkpoint else ""
        print(f"{e.model_type:<{width}}{status:<28}{e.detail}{extra}")
        if e.model_type in verified and not verified[e.model_type][0]:
            print(" " * width + verified[e.model_type][1])
    counts = Counter(e.status for e in entries)
    print(f"\n{len(entries)} model types: " + ", ".join(f"{counts[s]} {s}" for s in ("supported", "refused", "generic")
                                                        if counts[s])
          + (f"; invariants pass on {sum(ok for ok, _ in verified.values())}/{len(verified)} tiny builds"
             if verified else ""))
    return 0 if all(ok for ok, _ in verified.values()) else 1
