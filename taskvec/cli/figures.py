"""``python -m taskvec figures``: phase curves, task summaries and task-vector clusters.

- phases (Fig. 12): per task, K example sets; at each set's delimiter, the logit lens's
  relative probability of (the input token, the task token, the answer's first token) per
  layer; mean and a +-1 std band. The input token is one fixed token, as the paper's
  ``auf``: by default the delimiter ':' itself; ``--input-token {query}`` uses each set's
  query word instead.
- summaries (Tables 6/13): top-k lens tokens of each task vector at ``--layer``; text
  examples, image examples and instruction side by side.
- clusters (Fig. 4): per-set task vectors at ``--layer``, normalized by the final norm,
  projected (t-SNE / UMAP / PCA); color = task, symbol = spec modality; silhouette by
  task and by modality (cosine, on the normalized vectors) printed.
Each figure is written as HTML and PNG (PNG needs kaleido + Chromium; skipped with a note).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from taskvec.errors import TaskvecError

KINDS = ("phases", "summaries", "clusters")


def add_parser(sub) -> None:
    p = sub.add_parser("figures", help="Phase curves, task summaries and clusters of task vectors (HTML + PNG)")
    p.add_argument("--model", default="organism")
    p.add_argument("--revision", default=None)
    p.add_argument("--dtype", default="auto")
    p.add_argument("--device", default="auto")
    p.add_argument("--tasks", default=None, help="comma-separated task ids / .jsonl / folders (default: paper tasks)")
    p.add_argument("--kind", default=",".join(KINDS), help=f"comma-separated subset of {','.join(KINDS)}")
    p.add_argument("--layer", type=int, default=None, help="residual layer for summaries and clusters (default: suggested)")
    p.add_argument("--n-examples", type=int, default=5)
    p.add_argument("--n-sets", type=int, default=30, help="example sets per task (phase runs; points per cluster)")
    p.add_argument("--k", type=int, default=5, help="top-k tokens in summaries")
    p.add_argument("--projection", default="tsne", help="tsne, umap, pca or a comma list")
    p.add_argument("--spec", choices=("text", "image"), default="text", help="example modality for phase curves")
    p.add_argument("--input-token", default=":", help="phase curves' input token (default the delimiter ':'; "
                   "'{query}' = each set's query word; the paper used 'auf' for Idefics2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="figures_out")
    p.add_argument("--no-png", action="store_true")
    p.set_defaults(func=cmd_figures)


def _check(args, tasks) -> list[str]:
    kinds = [k.strip() for k in args.kind.split(",") if k.strip()]
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise TaskvecError(f"Unknown --kind {','.join(bad) or args.kind!r}; choose from {', '.join(KINDS)}.")
    for m in args.projection.split(","):
        if m.strip() not in ("tsne", "umap", "pca"):
            raise TaskvecError(f"Unknown --projection {m!r}; use tsne, umap or pca.")
    if args.n_sets < 2:
        raise TaskvecError(f"--n-sets must be >= 2; got {args.n_sets}.")
    if "clusters" in kinds and len(tasks) < 2:
        raise TaskvecError("Clusters need at least 2 tasks; pass --tasks with two or more.")
    for t in tasks.values():
        if len(t.items) < 3:
            raise TaskvecError(f"Task {t.id!r} has {len(t.items)} items; figures need at least 3.")
    return kinds


def cmd_figures(args) -> int:
    import torch

    from taskvec.analysis.compare import suggested_layer
    from taskvec.cli.eval import load_tasks
    from taskvec.core.hooks import check_layer
    from taskvec.models import load_model

    tasks = load_tasks(args.tasks)
    kinds = _check(args, tasks)
    if args.spec == "image":
        for t in tasks.values():
            if not t.has_images and t.domain not in ("country", "animal", "food"):
                raise TaskvecError(f"Task {t.id!r} has no images; use --spec text.")
    torch.set_num_threads(int(os.environ.get("TASKVEC_THREADS", "1")))
    adapter = load_model(args.model, args.revision, args.dtype, args.device)
    if args.spec == "image" and not adapter.supports_images:
        raise TaskvecError(f"{args.model} is text-only; use --spec text.")
    layer = check_layer(suggested_layer(adapter) if args.layer is None else args.layer, adapter.n_layers)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    note = args.model + (" (tiny random weights: meaningless)" if adapter.meaningless_weights else "")
    record: dict = {"model": adapter.describe(), "layer": layer}
    if "phases" in kinds:
        record["phases"] = _phases(adapter, tasks, args, out, note)
    if "summaries" in kinds:
        record["summaries"] = _summaries(adapter, tasks, args, layer, out, note)
    if "clusters" in kinds:
        record["clusters"] = _clusters(adapter, tasks, args, layer, out, note)
    (out / "figures.json").write_text(json.dumps(record, indent=1))
    print(f"wrote figures and {out / 'figures.json'}")
    return 0


def _pairs(task, modality: str):
    if modality == "image":
        return [(task.image(it), it.answer) for it in task.items]
    return [(it.input, it.answer) for it in task.items]


def _phases(adapter, tasks, args, out: Path, note: str) -> dict:
    from taskvec.plot import figures as F
    from taskvec.core.activations import residuals
    from taskvec.core.lens import phase_curve, role_token_ids
    from taskvec.core.prompts import icl_prompt
    from taskvec.core.specs import example_sets

    curves, rec = {}, {}
    for t in tasks.values():
        items = list(t.items)
        images: dict = {}

        def inp(i: int):
            if args.spec == "text":
                return items[i].input
            return images.setdefault(i, t.image(items[i]))

        # sample by item index, then lay out text or images; the query is never among its demos
        sets = example_sets([(i, it.answer) for i, it in enumerate(items)], args.n_examples, args.n_sets, args.seed)
        prompts = [icl_prompt([(inp(i), y) for i, y in s.demos], inp(s.query)) for s in sets]
        res = residuals(adapter, prompts).at_delimiter  # (R, L+1, D)
        ids = role_token_ids(adapter, [items[s.query].input for s in sets], t.task_token or "task",
                             [s.answer for s in sets], args.input_token)
        pc = phase_curve(adapter, res, ids)  # mean/std (L+1, 3)
        curves[t.id] = (pc.mean.tolist(), pc.std.tolist(), pc.tokens)
        rec[t.id] = {"mean": pc.mean.tolist(), "std": pc.std.tolist(), "tokens_first_run": list(pc.tokens),
                     "peak_layers": pc.peak_layers(), "leading_role_per_layer": pc.dominant()}
        lead = " ".join(r[0].upper() for r in pc.dominant())
        print(f"phases {t.id}: leading role per layer {lead} (I input, T task, A answer); peaks {pc.peak_layers()} "
              f"(tokens of run 0: {pc.tokens})")
    fig = F.phase_grid(curves, title=f"Logit-lens phases at the delimiter ({args.spec} examples, "
                                     f"{args.n_sets} sets, mean ± 1 std)", note=note)
    F.save_figure(fig, out / "phases", png=not args.no_png)
    return rec


def _spec_vectors(adapter, task, args):
    """Task vectors of each available spec modality: {modality: TaskVector}."""
    from taskvec.core.specs import ImageExamples, Instruction, TextExamples
    from taskvec.core.vectors import extract

    specs = {"text": TextExamples(tuple(_pairs(task, "text")))}
    if adapter.supports_images and (task.has_images or task.domain in ("country", "animal", "food")):
        specs["image"] = ImageExamples(tuple(_pairs(task, "image")))
    if task.instruction.strip():
        specs["instruction"] = Instruction(task.instruction)
    return {m: extract(adapter, s, args.n_examples, args.n_sets, args.seed) for m, s in specs.items()}


def _summaries(adapter, tasks, args, layer: int, out: Path, note: str) -> dict:
    from taskvec.plot import figures as F
    from taskvec.core.lens import top_k

    rows: dict = {}
    first_vec = None
    for t in tasks.values():
        vecs = _spec_vectors(adapter, t, args)
        rows[t.id] = {}
        for m, tv in vecs.items():
            tk = top_k(adapter, tv.vectors, args.k)
            rows[t.id][m] = list(zip(tk.tokens[layer], tk.probs[layer]))
            first_vec = first_vec or (t.id, m, tk)
        print(f"summary {t.id} @ layer {layer}: " + " | ".join(
            f"{m}: " + " ".join(repr(tok) for tok, _ in rows[t.id][m]) for m in rows[t.id]))
    F.save_figure(F.topk_table(rows, layer, note=note), out / "summaries", png=not args.no_png)
    tid, m, tk = first_vec
    F.save_figure(F.topk_heatmap(tk.tokens, tk.probs, title=f"Top-{args.k} lens tokens per layer: {tid}, {m} task vector",
                                 note=note), out / "summary_layers", png=not args.no_png)
    return {t: {m: [[tok, float(p)] for tok, p in v] for m, v in r.items()} for t, r in rows.items()}


def _clusters(adapter, tasks, args, layer: int, out: Path, note: str) -> dict:
    import torch

    from taskvec.plot import figures as F
    from taskvec.core.geometry import normalize, project, silhouette

    X, task_lab, mod_lab = [], [], []
    for t in tasks.values():
        for m, tv in _spec_vectors(adapter, t, args).items():
            if m == "instruction":
                continue  # one prompt -> one point; the paper clusters example-based vectors
            X.append(tv.per_set[:, layer])  # (K, D)
            task_lab += [t.id] * tv.per_set.shape[0]
            mod_lab += [m] * tv.per_set.shape[0]
    Xn = normalize(adapter, torch.cat(X))  # (N, D)
    sil_task, sil_mod = silhouette(Xn, task_lab), silhouette(Xn, mod_lab)
    print(f"clusters @ layer {layer}: {len(task_lab)} vectors; silhouette by task {sil_task:.3f}, "
          f"by modality {sil_mod:.3f} (cosine, final-norm-normalized)")
    rec = {"layer": layer, "n": len(task_lab), "silhouette_task": sil_task, "silhouette_modality": sil_mod}
    for method in [m.strip() for m in args.projection.split(",")]:
        xy = project(Xn, method, args.seed)
        fig = F.cluster_figure(xy.tolist(), task_lab, mod_lab,
                               title=f"Task vectors at layer {layer} ({method}); silhouette task {sil_task:.2f}, "
                                     f"modality {sil_mod:.2f}", note=note)
        F.save_figure(fig, out / f"clusters_{method}", png=not args.no_png)
    return rec
