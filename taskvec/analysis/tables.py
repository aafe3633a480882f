"""Aggregate evaluation units into the paper's tables (no torch; plain dicts in and out).

Per seed, the patch layer is the one with the best validation accuracy averaged over
tasks; test accuracy is read at that layer; tables average over seeds (paper Sec. 4).
Units of the official protocol (``--protocol paper``) use the official layer rule instead:
the model's fixed layer, else one layer for all seeds, the best validation accuracy averaged
over tasks and seeds. Layers are taskvec's residual layers ``l``; the official numbering
(output of decoder layer ``L``, from 0) is ``L = l - 1``, recorded beside them.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from statistics import mean, pstdev

SPEC_NAMES = {"text": "Text Examples", "image": "Image Examples", "instruction": "Instruction", "ensemble": "Ensemble"}


def _acc(flags) -> float:
    flags = list(flags)
    return sum(bool(f) for f in flags) / len(flags) if flags else float("nan")


def _curve(items, key: str) -> list[float]:
    """Per-layer accuracy over items of a per-layer correctness list."""
    n_layers = len(items[0][key])
    return [_acc(it[key][l] for it in items) for l in range(n_layers)]


def _argmax(xs) -> int:
    return max(range(len(xs)), key=lambda i: (xs[i], -i))  # ties -> earliest layer


def _nanmean(xs) -> float:
    xs = [x for x in xs if x is not None and not math.isnan(x)]
    return mean(xs) if xs else float("nan")


def _nanstd(xs) -> float:
    xs = [x for x in xs if x is not None and not math.isnan(x)]
    return pstdev(xs) if len(xs) > 1 else (0.0 if xs else float("nan"))


def _layer_on_val(us: dict, tasks: list[str], key: str, best: int | None = None):
    """The layer with the best validation accuracy averaged over tasks (per-layer flags ``key``;
    ``best`` when the protocol fixes it), the validation curves, and each task's test accuracy there."""
    curves = {t: _curve(us[t]["splits"]["val"]["items"], key) for t in tasks}
    if best is None:
        best = _argmax([mean(c[l] for c in curves.values()) for l in range(len(next(iter(curves.values()))))])
    return best, curves, {t: _acc(it[key][best] for it in us[t]["splits"]["test"]["items"]) for t in tasks}


def _official_layer(units: list[dict], by_seed: dict, tasks: list[str], key: str) -> int:
    """The official layer rule: the config's fixed layer, else the best validation accuracy
    averaged over tasks and seeds (ties -> earliest layer), one layer for every seed."""
    fixed = units[0].get("fixed_layer")
    if fixed is not None:
        return int(fixed["taskvec"])
    curves = [_curve(us[t]["splits"]["val"]["items"], key) for us in by_seed.values() for t in tasks]
    # the official hooks sit on decoder outputs: residual layers 1..L (no patch of the embeddings, l = 0)
    return 1 + _argmax([mean(c[l] for c in curves) for l in range(1, len(curves[0]))])


def layer_rule(units: list[dict]) -> str:
    """How the summary of ``units`` picked its patch layer (in words, both numberings)."""
    if (units[0].get("protocol") or {}).get("layer") != "official":
        return "best mean validation accuracy over tasks, per seed"
    fixed = units[0].get("fixed_layer")
    if fixed is not None:
        return f"fixed by the official config: official L={fixed['official']} = taskvec residual layer {fixed['taskvec']}"
    return "official rule without a fixed layer: best validation accuracy averaged over tasks and seeds (one layer)"


LAYER_CONVENTION = "taskvec residual layer l (0 = embeddings); official L = l - 1 (output of decoder layer L)"


def summarize(units: list[dict], tasks: list[str], source: str | None = None) -> dict:
    """Summarize all units of one group (one spec/query/N/typos setting, all tasks and seeds)."""
    by_seed: dict[int, dict[str, dict]] = {}
    for u in units:
        by_seed.setdefault(u["unit"]["seed"], {})[u["unit"]["task"]] = u
    spec = units[0]["unit"]["spec"]
    name = SPEC_NAMES[spec]
    has_source = "source_patch_ok" in units[0]["splits"]["val"]["items"][0]
    has_add = all("additive_patch_ok" in u["splits"]["val"]["items"][0] for u in units)
    best_layers, best_src_layers, best_add_layers = [], [], []
    patched = [(f"{name} Patch", "patch_ok", best_layers)]  # (row, per-layer flags, layer chosen per seed)
    if has_source:
        patched.append((f"{name} Patch (from {source or 'source'})", "source_patch_ok", best_src_layers))
    if has_add:  # its own layer, chosen on validation like the replacement patch's
        patched.append((f"{name} Additive Patch", "additive_patch_ok", best_add_layers))
    rows = ["No Context", f"{name} Prompt", "Random"] + [row for row, _, _ in patched]
    per_seed = []
    val_curves: dict[str, list[list[float]]] = {t: [] for t in tasks}
    val_prompt: dict[str, list[float]] = {t: [] for t in tasks}
    val_noctx: dict[str, list[float]] = {t: [] for t in tasks}
    cos: dict[str, list[list[float]]] = {t: [] for t in tasks}
    official = (units[0].get("protocol") or {}).get("layer") == "official"
    pinned = {key: _official_layer(units, by_seed, tasks, key) for _, key, _ in patched} if official else {}
    for seed in sorted(by_seed):
        us = by_seed[seed]
        table = {r: {} for r in rows}
        val_of = {}  # flags key -> validation curves per task
        for row, key, chosen in patched:
            best, val_of[key], table[row] = _layer_on_val(us, tasks, key, pinned.get(key))
            chosen.append(best)
        curves = val_of["patch_ok"]
        for t in tasks:
            test = us[t]["splits"]["test"]["items"]
            val = us[t]["splits"]["val"]["items"]
            table["No Context"][t] = _acc(it["no_context_ok"] for it in test)
            table[f"{name} Prompt"][t] = _acc(it["prompt_ok"] for it in test)
            table["Random"][t] = _acc(it["random_ok"] for it in test) if test[0]["random"] is not None else float("nan")
            val_curves[t].append(curves[t])
            val_prompt[t].append(_acc(it["prompt_ok"] for it in val))
            val_noctx[t].append(_acc(it["no_context_ok"] for it in val))
            if "cosine" in us[t]["splits"]["val"]:
                cos[t].append([(a + b) / 2 for a, b in zip(us[t]["splits"]["val"]["cosine"], us[t]["splits"]["test"]["cosine"])])
        for r in rows:
            table[r]["Avg"] = _nanmean(table[r][t] for t in tasks)
        per_seed.append(table)
    final = {r: {c: _nanmean(s[r][c] for s in per_seed) for c in tasks + ["Avg"]} for r in rows}
    std = {r: _nanstd(s[r]["Avg"] for s in per_seed) for r in rows}
    mean_curves = {t: [mean(c[l] for c in val_curves[t]) for l in range(len(val_curves[t][0]))] for t in tasks}
    avg_curve = [mean(mean_curves[t][l] for t in tasks) for l in range(len(mean_curves[tasks[0]]))]
    out = {
        "spec": spec, "query": units[0]["unit"]["query"], "n_examples": units[0]["unit"]["n_examples"],
        "typos": units[0]["unit"]["typos"], "seeds": sorted(by_seed), "rows": rows, "table": final,
        "avg_std_over_seeds": std, "best_layer_per_seed": best_layers, "val_curves": mean_curves,
        "val_curve_avg": avg_curve, "chosen_layer": pinned["patch_ok"] if official else _argmax(avg_curve),
        "val_prompt": {t: mean(v) for t, v in val_prompt.items()},
        "val_no_context": {t: mean(v) for t, v in val_noctx.items()},
        "case_insensitive": units[0]["case_insensitive"], "instructions": {u["unit"]["task"]: u["instruction"] for u in units},
        "n_val": len(units[0]["splits"]["val"]["items"]), "n_test": len(units[0]["splits"]["test"]["items"]),
        "protocol": (units[0].get("protocol") or {}).get("name", "taskvec"), "layer_rule": layer_rule(units),
        "layer_convention": LAYER_CONVENTION, "best_layer_per_seed_official": [_official(l) for l in best_layers],
    }
    if has_source:
        out["best_source_layer_per_seed"] = best_src_layers
    if has_add:
        out["best_additive_layer_per_seed"] = best_add_layers
    if any(cos[t] for t in tasks):
        out["cosine"] = {t: [mean(c[l] for c in cos[t]) for l in range(len(cos[t][0]))] for t in tasks if cos[t]}
        out["cosine"]["Avg"] = [mean(out["cosine"][t][l] for t in tasks) for l in range(len(cos[tasks[0]][0]))]
    return out


def format_table(summary: dict, tasks: list[str], title: str = "") -> str:
    """Paper Table 2 layout: methods as rows, tasks + Avg as columns."""
    cols = tasks + ["Avg"]
    rows = summary["rows"]
    w0 = max(len(r) for r in rows) + 2
    widths = [max(len(c), 6) + 2 for c in cols]
    lines = [title] if title else []
    lines.append("".ljust(w0) + "".join(c.rjust(w) for c, w in zip(cols, widths)))
    for r in rows:
        vals = summary["table"][r]
        cells = ["-" if math.isnan(vals[c]) else f"{vals[c]:.2f}" for c in cols]
        lines.append(r.ljust(w0) + "".join(x.rjust(w) for x, w in zip(cells, widths)))
    return "\n".join(lines)


def modality_table(summaries: dict[str, dict]) -> dict[str, dict[str, float]]:
    """Paper Table 12: Avg patch and prompt accuracy per (spec -> query) combination."""
    out = {}
    for s in summaries.values():
        name = SPEC_NAMES[s["spec"]]
        out[f"{name} -> {s['query']} query"] = {"Prompt": s["table"][f"{name} Prompt"]["Avg"],
                                                "Patch": s["table"][f"{name} Patch"]["Avg"],
                                                "layer": s["chosen_layer"]}
    return out


def _official(layer: int) -> int | None:
    """taskvec's residual layer l -> the official L = l - 1 (None for l = 0, the embeddings; as
    ``analysis.paper.to_official``, which this torch-free module cannot import)."""
    return layer - 1 if layer >= 1 else None


CSV_LAYER_COLUMNS = ["best_layer_per_seed (taskvec l)", "best_layer_per_seed (official L = l - 1; emb = embeddings)", "protocol"]


def write_csv(path: Path, summaries: dict[str, dict], tasks: list[str]) -> Path:
    """One row per (group, method). Layer columns name their convention in the header: taskvec's l
    (the residual after l decoder layers, 0 = embeddings) and the official L = l - 1; ``protocol``
    says which rules produced the row."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["group", "method"] + tasks + ["Avg", "Avg_std_over_seeds"] + CSV_LAYER_COLUMNS)
        for g, s in summaries.items():
            for r in s["rows"]:
                vals = [s["table"][r][c] for c in tasks + ["Avg"]]
                key = ("best_source_layer_per_seed" if "(from " in r else
                       "best_additive_layer_per_seed" if "Additive" in r else "best_layer_per_seed")
                layers = s[key] if "Patch" in r else []
                w.writerow([g, r] + [f"{v:.4f}" for v in vals] + [f"{s['avg_std_over_seeds'][r]:.4f}",
                           " ".join(map(str, layers)), " ".join("emb" if _official(l) is None else str(_official(l)) for l in layers),
                           s.get("protocol", "taskvec")])
    return path
