"""Self-check of the organism: ``python -m taskvec.organism.selfcheck [DIR] [--n-test N] [--json FILE]``.

A thin wrapper over the project's protocol (``taskvec.analysis``): the same ``score_split``
the eval and the app use, one seed, on the six paper tasks with image queries:
No Context, Prompt (5 text examples + image query), text-example vectors patched at every
layer (layer chosen on validation, mean over tasks), instruction vectors, the image-examples
prompt, text -> text, held-out-image entities vs seen ones, silhouettes of per-set vectors by
task and by modality, and the logit-lens leading role per layer. ``train`` writes the result
as ``selfcheck.json`` beside the weights; its ``best_layer`` is the app's suggested layer.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

KEYS = ["no_context", "prompt", "patch", "image_prompt", "instr_patch", "text_prompt_text", "text_patch_text"]


def adapter_of(model, processor):
    """The organism wrapped in its adapter, as ``load_model("organism")`` would."""
    from taskvec.organism.plugin import OrganismAdapter

    return OrganismAdapter(model, processor, "organism")


def _split(adapter, task, spec, query, split, n_test, seed=0):
    from taskvec.analysis.protocol import score_split

    return score_split(adapter, task, spec, query, split, seed=seed, limit_test=n_test)["items"]


def evaluate(model, proc, world=None, n_test: int = 100, seed: int = 0, lens: bool = True) -> dict:
    """The self-check on ``n_test`` test queries per task (``world``: for the held-out-image entities)."""
    from taskvec.analysis.protocol import accuracy, layer_accuracy
    from taskvec.data.tasks import paper_tasks
    from taskvec.organism.world import load_world

    world = world or load_world()
    adapter = adapter_of(model.eval(), proc)
    torch.manual_seed(seed)
    tasks = paper_tasks()
    scored = {t.id: {name: _split(adapter, t, spec, query, split, n_test, seed)
                     for name, (spec, query, split) in {
                         "val": ("text", "image", "val"), "test": ("text", "image", "test"),
                         "instr_val": ("instruction", "image", "val"), "instr_test": ("instruction", "image", "test"),
                         "image_test": ("image", "image", "test"), "text_text": ("text", "text", "test")}.items()}
              for t in tasks}
    pv = np.array([layer_accuracy(s["val"]) for s in scored.values()])  # (6, L+1)
    best = int(np.argmax(pv.mean(0)))  # ties: the earliest layer
    iv = np.array([layer_accuracy(s["instr_val"]) for s in scored.values()])
    best_i = int(np.argmax(iv.mean(0)))
    per_task, held, seen = {}, [], []
    for t in tasks:
        s = scored[t.id]
        per_task[t.id] = {"no_context": accuracy(s["test"], "no_context_ok"), "prompt": accuracy(s["test"], "prompt_ok"),
                          "patch": layer_accuracy(s["test"])[best], "image_prompt": accuracy(s["image_test"], "prompt_ok"),
                          "instr_patch": layer_accuracy(s["instr_test"])[best_i],
                          "text_prompt_text": accuracy(s["text_text"], "prompt_ok"),
                          "text_patch_text": layer_accuracy(s["text_text"])[best], "lens_dominant": ""}
        hold = set(world.heldout[t.domain])
        for it in s["test"]:
            (held if it["input"] in hold else seen).append(bool(it["patch_ok"][best]))
    out = {"best_layer": best,
           "patch_by_layer_test": np.mean([layer_accuracy(s["test"]) for s in scored.values()], 0).round(3).tolist(),
           "per_task": per_task, "instr_best_layer": best_i,
           "patch_heldout": float(np.mean(held)) if held else None, "patch_seen": float(np.mean(seen)) if seen else None,
           "silhouette": _silhouettes(adapter, tasks, best, seed)}
    out["mean"] = {k: float(np.mean([v[k] for v in per_task.values()])) for k in KEYS}
    if lens:
        _lens(adapter, tasks, out, seed)
    return out


def _silhouettes(adapter, tasks, layer: int, seed: int) -> dict:
    from taskvec.analysis.clusters import points
    from taskvec.core.geometry import silhouette

    X, task_lab, mod_lab, _ = points(adapter, tasks, layer, ("text", "image"), n_sets=10, seed=seed)
    return {"by_task": silhouette(X, task_lab), "by_modality": silhouette(X, mod_lab)}


def _lens(adapter, tasks, out: dict, seed: int) -> None:
    from taskvec.analysis.phases import phases

    curves = []
    for t in tasks:
        r = phases(adapter, t, "text", n_sets=10, seed=seed)
        out["per_task"][t.id]["lens_dominant"] = "".join(x[0].upper() for x in r.leading())
        curves.append(r.curve.mean.numpy())
    mean = np.mean(curves, 0)  # (L+1, 3)
    out["lens_input_task_answer"] = mean.round(3).tolist()
    out["lens_dominant_mean"] = "".join("ITA"[int(i)] for i in mean.argmax(-1))


def quick_check(model, proc, layer: int, n_test: int = 20, seed: int = 0) -> dict:
    """Mean over the six tasks of No Context, Prompt and the text vector patched at ``layer``,
    on the first ``n_test`` test image queries of each task (the protocol's ``score_split``)."""
    from taskvec.analysis.protocol import accuracy
    from taskvec.data.tasks import paper_tasks

    adapter = adapter_of(model.eval(), proc)
    acc = {"no_context": [], "prompt": [], "patch": []}
    for t in paper_tasks():
        items = _split(adapter, t, "text", "image", "test", n_test, seed)
        acc["no_context"].append(accuracy(items, "no_context_ok"))
        acc["prompt"].append(accuracy(items, "prompt_ok"))
        acc["patch"].append(float(np.mean([it["patch_ok"][layer] for it in items])))
    return {k: float(np.mean(v)) for k, v in acc.items()}


def format_table(r: dict) -> str:
    lines = ["| task | " + " | ".join(KEYS) + " |", "|---" * (len(KEYS) + 1) + "|"]
    for t, v in list(r["per_task"].items()) + [("**mean**", r["mean"])]:
        lines.append(f"| {t} | " + " | ".join(f"{v[k]:.2f}" for k in KEYS) + " |")
    lines.append("")
    lines.append(f"best layer {r['best_layer']} (instr {r['instr_best_layer']}); patch by layer (test) "
                 f"{r['patch_by_layer_test']}")
    if r["patch_heldout"] is not None and r["patch_seen"] is not None:
        lines.append(f"patch at best layer: held-out-image entities {r['patch_heldout']:.2f}, seen {r['patch_seen']:.2f}")
    lines.append(f"silhouette at best layer: by task {r['silhouette']['by_task']:.2f}, "
                 f"by modality {r['silhouette']['by_modality']:.2f}")
    if "lens_input_task_answer" in r:
        lines.append("lens: leading role per layer (I input ':', T task word, A answer): "
                     + ", ".join(f"{t} {v['lens_dominant']}" for t, v in r["per_task"].items()))
    m = r["mean"]
    lines.append(f"patch - prompt = {m['patch'] - m['prompt']:+.2f}; patch - no context = "
                 f"{m['patch'] - m['no_context']:+.2f}")
    return "\n".join(lines)


def main(argv=None):
    from taskvec.organism import load_organism

    p = argparse.ArgumentParser(description="Self-check of the organism (the project's protocol, one seed).")
    p.add_argument("path", nargs="?", default=None)
    p.add_argument("--n-test", type=int, default=100)
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    model, proc = load_organism(a.path)
    r = evaluate(model, proc, n_test=a.n_test)
    print(format_table(r))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(r, f, indent=1)


if __name__ == "__main__":
    main()
