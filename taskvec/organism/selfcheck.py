"""Quick self-check of the organism: ``python -m taskvec.organism.selfcheck [DIR] [--n-test N]``.

A small stand-alone version of the paper's protocol, used to steer the training recipe
(the project's own evaluation lives in ``taskvec.evaluation``). Image queries
``Q:<image>\\nA:`` over test entities; text-example task vectors = mean over 10 five-shot
prompts of the residual at the last ':'; replacement patch at each residual layer
(0 = embeddings); best layer chosen on the val entities (mean over the six tasks).
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import dataclass, field

import numpy as np
import torch

from taskvec.organism.modeling import _attention_mask

N_SHOTS, N_PROMPTS = 5, 10


def match(pred: str, label: str) -> bool:
    p, l = pred.strip(), label.strip()
    return bool(p) and (l.startswith(p) or p.startswith(l))


@torch.no_grad()
def run(model, proc, texts, images, patch=None):
    """Forward a batch of prompts (right-padded). Returns (residuals (L+1, B, D) at each row's
    last token, first-token logits (B, V)). patch = (layer, vectors (B, D)) replaces the
    residual at the last token of each row at that residual layer."""
    enc = proc(text=texts, images=images or None, return_tensors="pt", padding=True)
    ids, am = enc["input_ids"], enc["attention_mask"]
    last = am.sum(1) - 1  # (B,)
    rows = torch.arange(ids.shape[0])
    m = model.model
    h = m.embed(ids, enc.get("pixel_values"))  # (B, T, D)
    mask = _attention_mask(am, ids.shape[0], ids.shape[1], 0, h.device)
    res = []
    for lyr in range(len(m.layers) + 1):
        if lyr > 0:
            h = m.layers[lyr - 1](h, mask)
        if patch is not None and patch[0] == lyr:
            h = h.index_put((rows, last), patch[1])
        res.append(h[rows, last])
    logits = model.lm_head(m.norm(h[rows, last]))  # (B, V)
    return torch.stack(res), logits


def accuracy(proc, logits, labels) -> np.ndarray:
    preds = proc.batch_decode(logits.argmax(-1)[:, None].tolist(), skip_special_tokens=True)
    return np.array([match(p, y) for p, y in zip(preds, labels)], dtype=float)


def qa(x, y=None) -> str:
    return f"Q:{x}\nA:" + ("" if y is None else f"{y}\n\n")


@dataclass
class TaskEval:
    task_id: str
    patch_val: list = field(default_factory=list)  # per layer
    patch_test: list = field(default_factory=list)
    instr_val: list = field(default_factory=list)
    instr_test: list = field(default_factory=list)
    no_context: float = 0.0
    prompt: float = 0.0
    image_prompt: float = 0.0
    text_prompt_text: float = 0.0
    text_patch_text: list = field(default_factory=list)
    heldout_mask: list = field(default_factory=list)
    patch_test_rows: list = field(default_factory=list)  # per layer, per entity
    lens_dominant: str = ""  # per residual layer, the role (I input, T task, A answer) that leads


def evaluate(model, proc, world, n_test: int = 100, seed: int = 0, lens: bool = True) -> dict:
    model.eval()
    rng = random.Random(seed)
    img = {(d, e): world.image_fn(d, e, 224) for d in world.domains for e in world.entities[d]}
    results, text_vecs, image_vecs = [], {}, {}
    lens_curves = []
    for task in world.tasks:
        d = task.domain
        val = sorted(e for e, s in task.split.items() if s == "val")
        test = sorted(e for e, s in task.split.items() if s == "test")[:n_test]
        ev = TaskEval(task.task_id)
        # task vectors from 10 five-shot prompts over val entities
        tp, ip, ip_imgs = [], [], []
        for _ in range(N_PROMPTS):
            ents = rng.sample(val, N_SHOTS + 1)
            tp.append("".join(qa(e, task.answers[e]) for e in ents[:-1]) + qa(ents[-1]))
            ip.append("".join(qa("<image>", task.answers[e]) for e in ents[:-1]) + qa("<image>"))
            ip_imgs.append([img[(d, e)] for e in ents])
        rt, _ = run(model, proc, tp, None)  # (L+1, 10, D)
        ri, _ = run(model, proc, ip, ip_imgs)
        text_vecs[task.task_id], image_vecs[task.task_id] = rt, ri
        tv = rt.mean(1)  # (L+1, D)
        ri_ins, _ = run(model, proc, [task.instruction], None)
        iv = ri_ins[:, 0]  # (L+1, D)
        n_layers = tv.shape[0]
        for split, ents in (("val", val), ("test", test)):
            q = [qa("<image>")] * len(ents)
            ims = [[img[(d, e)]] for e in ents]
            labels = [task.answers[e] for e in ents]
            for lyr in range(n_layers):
                _, z = run(model, proc, q, ims, patch=(lyr, tv[lyr].expand(len(ents), -1)))
                a = accuracy(proc, z, labels)
                getattr(ev, f"patch_{split}").append(float(a.mean()))
                if split == "test":
                    ev.patch_test_rows.append(a.tolist())
                _, z = run(model, proc, q, ims, patch=(lyr, iv[lyr].expand(len(ents), -1)))
                getattr(ev, f"instr_{split}").append(float(accuracy(proc, z, labels).mean()))
        labels = [task.answers[e] for e in test]
        held = set(world.heldout[d])
        ev.heldout_mask = [e in held for e in test]
        _, z = run(model, proc, [qa("<image>")] * len(test), [[img[(d, e)]] for e in test])
        ev.no_context = float(accuracy(proc, z, labels).mean())
        pt, pi, pi_imgs = [], [], []
        for e in test:
            ex = rng.sample(val, N_SHOTS)
            pt.append("".join(qa(x, task.answers[x]) for x in ex) + qa("<image>"))
            pi.append("".join(qa("<image>", task.answers[x]) for x in ex) + qa("<image>"))
            pi_imgs.append([img[(d, x)] for x in ex] + [img[(d, e)]])
        _, z = run(model, proc, pt, [[img[(d, e)]] for e in test])
        ev.prompt = float(accuracy(proc, z, labels).mean())
        _, z = run(model, proc, pi, pi_imgs)
        ev.image_prompt = float(accuracy(proc, z, labels).mean())
        tt = ["".join(qa(x, task.answers[x]) for x in rng.sample(val, N_SHOTS)) + qa(e) for e in test]
        rtt, z = run(model, proc, tt, None)
        ev.text_prompt_text = float(accuracy(proc, z, labels).mean())
        for lyr in range(n_layers):
            _, z = run(model, proc, [qa(e) for e in test], None, patch=(lyr, tv[lyr].expand(len(test), -1)))
            ev.text_patch_text.append(float(accuracy(proc, z, labels).mean()))
        if lens:
            lens_curves.append(lens_phases(model, proc, rtt, labels, task))
            ev.lens_dominant = leading_roles(lens_curves[-1])
        results.append(ev)
    return summarize(results, text_vecs, image_vecs, lens_curves, model)


def first_id(proc, text: str) -> int:
    return proc.tokenizer(text, add_special_tokens=False)["input_ids"][0]


@torch.no_grad()
def lens_phases(model, proc, resid, labels, task) -> np.ndarray:
    """(L+1, 3) mean softmax over the logits of (input, task word, answer) at the ':'. The input
    token is the delimiter ':' itself, one fixed token as the paper's ``auf`` (Fig. 12)."""
    z = model.lm_head(model.model.norm(resid))  # (L+1, B, V)
    tid, delim = first_id(proc, task.task_token), first_id(proc, ":")
    out = []
    for b, y in enumerate(labels):
        idx = torch.tensor([delim, tid, first_id(proc, y)])
        out.append(torch.softmax(z[:, b, idx], -1).numpy())  # (L+1, 3)
    return np.mean(out, 0)


def leading_roles(curve: np.ndarray) -> str:
    """Per layer of an (L+1, 3) phase curve, the leading role: I input, T task, A answer."""
    return "".join("ITA"[int(i)] for i in curve.argmax(-1))


def silhouettes(model, text_vecs, image_vecs, layer: int) -> dict:
    from sklearn.metrics import silhouette_score

    X, task_lab, mod_lab = [], [], []
    for i, t in enumerate(text_vecs):
        for mod, vecs in ((0, text_vecs[t]), (1, image_vecs[t])):
            v = model.model.norm(vecs[layer]).detach().numpy()  # (n, D)
            X.append(v)
            task_lab += [i] * len(v)
            mod_lab += [mod] * len(v)
    X = np.concatenate(X)
    return {
        "by_task": float(silhouette_score(X, task_lab, metric="cosine")),
        "by_modality": float(silhouette_score(X, mod_lab, metric="cosine")),
    }


def summarize(results, text_vecs, image_vecs, lens_curves, model) -> dict:
    pv = np.array([r.patch_val for r in results])  # (6, L+1)
    pt = np.array([r.patch_test for r in results])
    best = int(pv.mean(0).argmax())
    iv = np.array([r.instr_val for r in results])
    best_i = int(iv.mean(0).argmax())
    held = np.concatenate([np.array(r.patch_test_rows[best])[np.array(r.heldout_mask, bool)] for r in results])
    seen = np.concatenate([np.array(r.patch_test_rows[best])[~np.array(r.heldout_mask, bool)] for r in results])
    out = {
        "best_layer": best,
        "patch_by_layer_test": pt.mean(0).round(3).tolist(),
        "per_task": {
            r.task_id: {
                "no_context": r.no_context,
                "prompt": r.prompt,
                "patch": r.patch_test[best],
                "image_prompt": r.image_prompt,
                "instr_patch": r.instr_test[best_i],
                "text_prompt_text": r.text_prompt_text,
                "text_patch_text": r.text_patch_text[best],
                "lens_dominant": r.lens_dominant,
            }
            for r in results
        },
        "instr_best_layer": best_i,
        "patch_heldout": float(held.mean()) if len(held) else None,
        "patch_seen": float(seen.mean()) if len(seen) else None,
        "silhouette": silhouettes(model, text_vecs, image_vecs, best),
    }
    keys = ["no_context", "prompt", "patch", "image_prompt", "instr_patch", "text_prompt_text", "text_patch_text"]
    out["mean"] = {k: float(np.mean([v[k] for v in out["per_task"].values()])) for k in keys}
    if lens_curves:
        out["lens_input_task_answer"] = np.mean(lens_curves, 0).round(3).tolist()  # (L+1, 3)
        out["lens_dominant_mean"] = leading_roles(np.mean(lens_curves, 0))
    return out


def format_table(r: dict) -> str:
    keys = ["no_context", "prompt", "patch", "image_prompt", "instr_patch", "text_prompt_text", "text_patch_text"]
    lines = ["| task | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for t, v in list(r["per_task"].items()) + [("**mean**", r["mean"])]:
        lines.append(f"| {t} | " + " | ".join(f"{v[k]:.2f}" for k in keys) + " |")
    lines.append("")
    lines.append(f"best layer {r['best_layer']} (instr {r['instr_best_layer']}); patch by layer (test) "
                 f"{r['patch_by_layer_test']}")
    lines.append(f"patch at best layer: held-out-image entities {r['patch_heldout']:.2f}, seen {r['patch_seen']:.2f}")
    lines.append(f"silhouette at best layer: by task {r['silhouette']['by_task']:.2f}, "
                 f"by modality {r['silhouette']['by_modality']:.2f}")
    if "lens_input_task_answer" in r:
        lines.append("lens: leading role per layer (I input ':', T task word, A answer): "
                     + ", ".join(f"{t} {v['lens_dominant']}" for t, v in r["per_task"].items()))
        lines.append("logit lens at ':' (input ':', task, answer) per layer: "
                     + " ".join("(" + ",".join(f"{x:.2f}" for x in row) + ")" for row in r["lens_input_task_answer"]))
    m = r["mean"]
    lines.append(f"patch - prompt = {m['patch'] - m['prompt']:+.2f}; patch - no context = "
                 f"{m['patch'] - m['no_context']:+.2f}")
    return "\n".join(lines)


def main(argv=None):
    from taskvec.organism import load_organism
    from taskvec.organism.world import load_world

    p = argparse.ArgumentParser(description="Quick self-check of the organism.")
    p.add_argument("path", nargs="?", default=None)
    p.add_argument("--n-test", type=int, default=100)
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    model, proc = load_organism(a.path)
    r = evaluate(model, proc, load_world(), n_test=a.n_test)
    print(format_table(r))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(r, f, indent=1)


if __name__ == "__main__":
    main()


@torch.no_grad()
def quick_check(model, proc, world, layer: int, n_test: int = 20, seed: int = 0) -> dict:
    """Fast subset check at one layer: mean over the six tasks of no context, prompt
    (5 text examples + image query) and replacement patch of the text task vector."""
    model.eval()
    rng = random.Random(seed)
    acc = {"no_context": [], "prompt": [], "patch": []}
    for task in world.tasks:
        d = task.domain
        val = sorted(e for e, s in task.split.items() if s == "val")
        test = sorted(e for e, s in task.split.items() if s == "test")
        test = rng.sample(test, min(n_test, len(test)))
        img = {e: world.image_fn(d, e, 224) for e in set(val) | set(test)}
        tp = []
        for _ in range(N_PROMPTS):
            ents = rng.sample(val, N_SHOTS + 1)
            tp.append("".join(qa(e, task.answers[e]) for e in ents[:-1]) + qa(ents[-1]))
        tv = run(model, proc, tp, None)[0][layer].mean(0)  # (D,)
        labels = [task.answers[e] for e in test]
        q, ims = [qa("<image>")] * len(test), [[img[e]] for e in test]
        acc["no_context"].append(accuracy(proc, run(model, proc, q, ims)[1], labels).mean())
        acc["patch"].append(accuracy(proc, run(model, proc, q, ims, patch=(layer, tv.expand(len(test), -1)))[1], labels).mean())
        pt = ["".join(qa(x, task.answers[x]) for x in rng.sample(val, N_SHOTS)) + qa("<image>") for _ in test]
        acc["prompt"].append(accuracy(proc, run(model, proc, pt, ims)[1], labels).mean())
    return {k: float(np.mean(v)) for k, v in acc.items()}
