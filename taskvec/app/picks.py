"""Built-in examples, defaults and the tour's numbers, chosen by measurement on the default model.

``python -m taskvec.app.picks`` measures the default model (the organism) with the project's own
functions and writes ``assets/app_picks.json``:

- ``aggregates``: per paper task, No Context / Prompt / Patch accuracy over ``n_queries`` image
  queries, text examples (``analysis.sweep.task_sweep``: the eval's protocol), every layer's patch
  accuracy; ``average`` over the six tasks; ``sweep_default``: the task with the largest Patch - Prompt.
- ``examples``: playground rows, each run exactly as a click + Run does (``app.playground.run_playground``
  on the saved image file), labelled by what they show: Patch right where No Context and Prompt are
  wrong (first), all three right, the patch wrong.
- ``tour``: the phase curve (``analysis.phases``) and the PCA of task vectors (``analysis.clusters``).

Re-run it whenever the default model's weights change (the file records their fingerprint; the app
ignores a file whose fingerprint does not match). No gradio here.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import tempfile
from pathlib import Path

from taskvec.data.resources import assets_dir, examples_dir, organism_dir

PICKS_FILE = assets_dir() / "app_picks.json"
PICKS_IMAGES = "picks"  # under examples/
PAPER_IDEFICS2 = {"No Context": 0.01, "Prompt": 0.18, "Patch": 0.51}  # image queries, text examples, avg of 6 tasks
METHODS = ("No Context", "Prompt", "Patch")
FIELDS = ("kind", "examples", "image_files", "image_answers", "instruction", "query_text", "query_image", "expected")


def fingerprint(model: str = "organism") -> str:
    """sha256 over the organism's shipped files (weights, config, best layer); '' for other models."""
    if model != "organism":
        return ""
    h = hashlib.sha256()
    for p in sorted(organism_dir().glob("*")):
        if p.is_file():
            h.update(p.name.encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


def load_picks(model: str | None = "organism") -> dict | None:
    """The picks file if it exists and matches ``model``'s current weights (None otherwise)."""
    try:
        data = json.loads(PICKS_FILE.read_text())
    except (OSError, ValueError):
        return None
    if model is not None and (data.get("model") != model or data.get("fingerprint") != fingerprint(model)):
        return None
    return data


def _float(x) -> float:
    return round(float(x), 4)


# --- measurement -------------------------------------------------------------------------------

def aggregates(adapter, tasks, n_queries: int = 100, progress=None) -> dict:
    """Per task: No Context / Prompt / Patch (suggested layer) accuracy over image queries, text examples."""
    from taskvec.analysis.compare import suggested_layer
    from taskvec.analysis.sweep import task_sweep

    layer, out = suggested_layer(adapter), {}
    for i, t in enumerate(tasks):
        r = task_sweep(adapter, t, "text", "image", n_queries)
        out[t.id] = {"No Context": _float(r.no_context), "Prompt": _float(r.prompt), "Patch": _float(r.values[layer]),
                     "n": r.n, "layer": layer, "values": [_float(v) for v in r.values]}
        if progress:
            progress(i + 1, len(tasks))
    return out


def average(aggs: dict) -> dict:
    return {m: _float(sum(a[m] for a in aggs.values()) / len(aggs)) for m in METHODS}


def _row(kind, examples="", image_files=None, image_answers="", instruction="", query_text="", query_image=None,
         expected="") -> dict:
    """A playground row: every field set, the ones the specification does not use empty."""
    return dict(kind=kind, examples=examples if kind == "text examples" else "",
                image_files=list(image_files or []) if kind == "image examples" else None,
                image_answers=image_answers if kind == "image examples" else "",
                instruction=instruction if kind == "instruction" else "", query_text=query_text,
                query_image=query_image, expected=expected)


def _abs(path: str | None) -> str | None:
    return None if path is None else str(examples_dir() / path)


def run_row(adapter, row: dict, cache: dict | None = None) -> dict:
    """The row run exactly as the playground's Run button runs it: answers and ✓/✗ per column
    (``cache``: the session's vector cache, as in the app)."""
    from taskvec.app.playground import PlayRequest, run_playground

    req = PlayRequest(row["kind"], row["examples"], [_abs(p) for p in row["image_files"] or []], row["image_answers"],
                      row["instruction"], row["query_text"], _abs(row["query_image"]), None, expected=row["expected"])
    res = run_playground(adapter, req, cache=cache)
    return {c.title: {"answer": c.answer, "correct": res.correct(c),
                      "p": _float(c.gen.top.probs[0]) if c.gen else 0.0} for c in res.columns}


def _outcome(ans: dict) -> str:
    ok = tuple(bool(ans[m]["correct"]) for m in METHODS)
    return {(False, False, True): "patch-wins", (True, True, True): "all-correct"}.get(
        ok, "patch-fails" if not ok[2] else "other")


def _image_file(task, item, folder: Path) -> str:
    """Path (relative to examples/) of the item's query image: the shipped flag, else a drawing saved in folder."""
    flag = examples_dir() / "flags" / f"{item.input}.png"
    if task.domain == "country" and flag.is_file():
        return f"flags/{item.input}.png"
    p = folder / task.id / f"{item.input.replace('/', '-')}.png"
    if not p.is_file():
        p.parent.mkdir(parents=True, exist_ok=True)
        task.image(item).save(p)
    return str(p.relative_to(examples_dir())) if p.is_relative_to(examples_dir()) else str(p)


def candidates(adapter, task, folder: Path, n_queries: int = 100) -> list[dict]:
    """Each of the first ``n_queries`` test items as an image query under five text examples, measured."""
    spec = "\n".join(f"{x} : {y}" for x, y in task.pairs("val")[:5])
    out, cache = [], {}
    for item in task.split("test")[:n_queries]:
        row = _row("text examples", spec, query_image=_image_file(task, item, folder), expected=item.answer)
        ans = run_row(adapter, row, cache)
        out.append({"task": task.id, "input": item.input, "row": row, "answers": ans, "outcome": _outcome(ans)})
    return out


SHORT = {"country-capital": "capital", "country-currency": "currency", "animal-latin": "Latin name",
         "animal-young": "young", "food-color": "color", "food-flavor": "flavor"}


def label(c: dict) -> str:
    """A short example label saying what the row shows (the gallery cuts long ones)."""
    img = f"{c['input']} flag" if c["row"]["query_image"].startswith("flags/") else f"picture of {c['input']}"
    what = f"{img} → {SHORT.get(c['task'], c['task'])}"
    return {"patch-wins": f"★ {what}: Patch ✓ Prompt ✗", "all-correct": f"{what}: all three ✓",
            "patch-fails": f"{what}: Patch ✗ (a failure)"}.get(c["outcome"], what)


def choose(cands: list[dict], aggs: dict, n_wins: int = 4) -> list[dict]:
    """Patch-wins rows (one per task, tasks by Patch - Prompt gap, flags first), then one all-correct and one
    patch-fails row (a fair picture)."""
    gap = {t: a["Patch"] - a["Prompt"] for t, a in aggs.items()}

    def strength(c):  # a confident, non-empty patch answer and a non-empty no-context answer read best
        a = c["answers"]
        return (c["row"]["query_image"].startswith("flags/"), bool(a["No Context"]["answer"].strip()),
                a["Patch"]["p"])

    wins = sorted((c for c in cands if c["outcome"] == "patch-wins"), key=strength, reverse=True)
    chosen, used = [], set()
    for t in sorted(gap, key=lambda t: -gap[t]):
        best = next((c for c in wins if c["task"] == t), None)
        if best and t not in used:
            chosen.append(best)
            used.add(t)
    chosen.sort(key=strength, reverse=True)
    chosen = chosen[:n_wins]
    for kind in ("all-correct", "patch-fails"):
        pool = sorted((c for c in cands if c["outcome"] == kind), key=strength, reverse=True)
        if kind == "patch-fails":  # the fairest failure: the prompt gets it right
            pool.sort(key=lambda c: not c["answers"]["Prompt"]["correct"])
        if pool:
            chosen.append(pool[0])
    return [{"label": label(c), **c} for c in chosen]


def tour_extras(adapter, tasks, task_id: str, n_sets: int = 20) -> dict:
    """Step 3 (phase curve of the sweep task, text examples) and step 4 (PCA of text and image task vectors)."""
    from taskvec.analysis.clusters import clusters
    from taskvec.analysis.compare import suggested_layer
    from taskvec.analysis.phases import phases

    task = next(t for t in tasks if t.id == task_id)
    ph = phases(adapter, task, "text", n_sets=n_sets)
    c = clusters(adapter, tasks, suggested_layer(adapter), ("text", "image"), "pca", n_sets=6)
    return {"phases": {"task": ph.task, "mean": ph.curve.mean.tolist(), "std": ph.curve.std.tolist(),
                       "tokens": list(ph.curve.tokens), "labels": list(ph.curve.labels),
                       "n_runs": int(ph.curve.per_run.shape[0]), "peaks": dict(ph.curve.peak_layers())},
            "clusters": {"xy": c.xy.tolist(), "tasks": c.tasks, "modalities": c.modalities, "hover": c.hover,
                         "explained": list(c.explained), "summary": c.summary(), "layer": c.layer,
                         "silhouette_task": _float(c.silhouette_task), "silhouette_modality": _float(c.silhouette_modality)}}


def build(model: str = "organism", n_queries: int = 100, out: Path = PICKS_FILE, log=print) -> dict:
    import torch

    from taskvec.app.library import paper_tasks
    from taskvec.models import load_model

    torch.set_num_threads(1)
    adapter, tasks = load_model(model), paper_tasks()
    aggs = aggregates(adapter, tasks, n_queries)
    log("aggregates: " + ", ".join(f"{t} {a['No Context']:.2f}/{a['Prompt']:.2f}/{a['Patch']:.2f}" for t, a in aggs.items()))
    with tempfile.TemporaryDirectory() as tmp:
        cands = [c for t in tasks for c in candidates(adapter, t, Path(tmp), n_queries)]
        picked = choose(cands, aggs)
        folder = examples_dir() / PICKS_IMAGES
        for c in picked:  # keep the chosen drawings beside the flags, paths relative to examples/
            img = c["row"]["query_image"]
            if Path(img).is_absolute():
                dst = folder / c["task"] / Path(img).name
                dst.parent.mkdir(parents=True, exist_ok=True)
                dst.write_bytes(Path(img).read_bytes())
                c["row"]["query_image"] = str(dst.relative_to(examples_dir()))
    counts = {k: sum(c["outcome"] == k for c in cands) for k in ("patch-wins", "all-correct", "patch-fails", "other")}
    log(f"{len(cands)} candidate rows: {counts}")
    sweep_task = max(aggs, key=lambda t: (aggs[t]["Patch"] - aggs[t]["Prompt"], t))
    data = {"model": model, "fingerprint": fingerprint(model), "created": _dt.date.today().isoformat(),
            "command": f"python -m taskvec.app.picks --model {model} --queries {n_queries}",
            "n_queries": n_queries, "layer": next(iter(aggs.values()))["layer"], "aggregates": aggs,
            "average": average(aggs), "paper_idefics2": PAPER_IDEFICS2, "counts": counts,
            "sweep_default": {"task": sweep_task, "n_queries": n_queries},
            "examples": picked, "tour": tour_extras(adapter, tasks, sweep_task)}
    out.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    log(f"wrote {out}: {len(picked)} examples, sweep default {sweep_task}")
    return data


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description="Re-pick the app's built-in examples, defaults and tour numbers by "
                                            "measurement on the default model (writes assets/app_picks.json).")
    p.add_argument("--model", default="organism")
    p.add_argument("--queries", type=int, default=100, help="test image queries per task (default 100)")
    p.add_argument("--out", type=Path, default=PICKS_FILE)
    a = p.parse_args(argv)
    build(a.model, a.queries, a.out)


if __name__ == "__main__":
    main()
