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

from taskvec.cli.dispatch import add_dispatch_args, dispatch_kwargs

import json
import os
from pathlib import Path

from taskvec.errors import TaskvecError

KINDS = ("phases", "summaries", "clusters", "similarity")


def add_parser(sub) -> None:
    p = sub.add_parser("figures", help="Phase curves, task summaries and clusters of task vectors (HTML + PNG)")
    p.add_argument("--model", default="organism")
    p.add_argument("--revision", default=None)
    p.add_argument("--dtype", default="auto")
    p.add_argument("--device", default="auto")
    add_dispatch_args(p)
    p.add_argument("--tasks", default=None, help="comma-separated task ids / .jsonl / folders (default: paper tasks)")
    p.add_argument("--kind", default=",".join(KINDS), help=f"comma-separated subset of {','.join(KINDS)}")
    p.add_argument("--layer", type=int, default=None,
                   help="layer for summaries and clusters, in --layer-convention's numbering (default: suggested; "
                        "under --protocol paper the official fixed layer of Idefics2 / LLaVA-1.5)")
    p.add_argument("--layer-convention", choices=("taskvec", "official"), default="taskvec",
                   help="taskvec: residual layer l (0 = embeddings); official: output of decoder layer L (l = L + 1)")
    p.add_argument("--protocol", choices=("taskvec", "paper"), default="taskvec",
                   help="paper: the official fixed layer by default, its pinned revision and NF4 4-bit for hub models "
                        "(the figures' example sets are taskvec's under both)")
    p.add_argument("--quantization", choices=("auto", "nf4", "4bit", "8bit", "none"), default="auto",
                   help="hub models only; auto = nf4 under --protocol paper, else none")
    p.add_argument("--n-examples", type=int, default=5)
    p.add_argument("--n-sets", type=int, default=30, help="example sets per task (phase runs; points per cluster)")
    p.add_argument("--k", type=int, default=5, help="top-k tokens in summaries")
    p.add_argument("--projection", default="tsne", help="tsne, umap, pca or a comma list")
    p.add_argument("--spec", choices=("text", "image"), default="text", help="example modality for phase curves")
    p.add_argument("--modalities", default="text,image",
                   help="ways of giving the task for clusters and similarity: text, image, instruction (comma list; "
                        "the ones a model or task cannot take are skipped)")
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

    from taskvec.analysis import paper
    from taskvec.analysis.compare import suggested_layer
    from taskvec.cli.eval import actual_loading, load_tasks, loading_plan
    from taskvec.cli.run import resolve_layer
    from taskvec.core.hooks import check_layer
    from taskvec.models import load_model

    tasks = load_tasks(args.tasks)
    kinds = _check(args, tasks)
    if args.spec == "image":
        from taskvec.analysis.protocol import can_show_images

        for t in tasks.values():
            if not can_show_images(t):
                raise TaskvecError(f"Task {t.id!r} has no images; use --spec text.")
    torch.set_num_threads(int(os.environ.get("TASKVEC_THREADS", "1")))
    plan = loading_plan(args, args.model)
    adapter = load_model(args.model, plan["revision"], plan["dtype"], args.device, plan["quantization"], **dispatch_kwargs(args))
    if args.spec == "image" and not adapter.supports_images:
        raise TaskvecError(f"{args.model} is text-only; use --spec text.")
    layer = resolve_layer(adapter, args.layer, args.layer_convention, args.protocol)
    layer = check_layer(suggested_layer(adapter) if layer is None else layer, adapter.n_layers)
    print(f"figures: {paper.layer_label(layer)} (protocol {args.protocol})")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    note = args.model + (" (tiny random weights: meaningless)" if adapter.meaningless_weights else "")
    record: dict = {"model": adapter.describe(), "layer": layer, "layer_official": paper.to_official(layer),
                    "layer_convention": "layer: taskvec residual l; layer_official: L = l - 1", "protocol": args.protocol,
                    "loading": actual_loading(adapter, plan)}
    cache: dict = {}  # task vectors shared by summaries and clusters
    if args.protocol != "taskvec":
        print("figures under --protocol paper: summaries and clusters read the official sets (one per validation "
              "item, at the last demonstration's ':'); phases read the last token of each ICL prompt (the query's "
              "':'), as the paper's Fig. 3 describes, under both protocols")
    record["readings"] = {"phases": "last token of each ICL prompt (the query's ':')",
                          "summaries_clusters": ("official sets: one per validation item, at the last demonstration's ':'"
                                                 if args.protocol != "taskvec" else
                                                 f"{args.n_sets} seeded sets of all items, at the query's ':'")}
    if "phases" in kinds:
        record["phases"] = _phases(adapter, tasks, args, out, note)
    if "summaries" in kinds:
        record["summaries"] = _summaries(adapter, tasks, args, layer, out, note, cache)
    if "clusters" in kinds:
        record["clusters"] = _clusters(adapter, tasks, args, layer, out, note, cache)
    if "similarity" in kinds:
        record["similarity"] = _similarity(adapter, tasks, args, layer, out, note, cache)
    (out / "figures.json").write_text(json.dumps(record, indent=1))
    print(f"wrote figures and {out / 'figures.json'}")
    return 0


def _phases(adapter, tasks, args, out: Path, note: str) -> dict:
    from taskvec import plot as P
    from taskvec.analysis.phases import phases

    curves, rec = {}, {}
    for t in tasks.values():
        r = phases(adapter, t, args.spec, args.n_sets, args.n_examples, args.seed, args.input_token)
        pc = r.curve  # mean/std (L+1, 3)
        curves[t.id] = (pc.mean.tolist(), pc.std.tolist(), pc.tokens)
        rec[t.id] = {"mean": pc.mean.tolist(), "std": pc.std.tolist(), "tokens_first_run": list(pc.tokens),
                     "peak_layers": pc.peak_layers(), "leading_role_per_layer": r.leading()}
        print(f"phases {t.id}: leading role per layer {r.leading_letters()} (I input, T task, A answer); "
              f"peaks {pc.peak_layers()} (tokens of run 0: {pc.tokens})")
    fig = P.phase_grid(curves, title=f"Logit-lens phases at the delimiter ({args.spec} examples, "
                                     f"{args.n_sets} sets)", note=note, n_runs=args.n_sets)
    P.save_figure(fig, out / "phases", png=not args.no_png)
    return rec


def _summaries(adapter, tasks, args, layer: int, out: Path, note: str, cache: dict) -> dict:
    from taskvec import plot as P
    from taskvec.analysis.summaries import summaries

    res = summaries(adapter, list(tasks.values()), layer, k=args.k, n_examples=args.n_examples, n_sets=args.n_sets,
                    seed=args.seed, cache=cache, protocol=args.protocol)
    table = res.table()
    for tid, row in table.items():
        print(f"summary {tid} @ layer {layer} (official L={layer - 1}): " + " | ".join(
            f"{m}: " + " ".join(repr(tok) for tok, _ in toks) for m, toks in row.items()))
    P.save_figure(P.summary_table(table, layer, note=note), out / "summaries", png=not args.no_png)
    tid = next(iter(res.topk))
    m, tk = next(iter(res.topk[tid].items()))
    P.save_figure(P.lens_heatmap(tk.tokens, tk.probs, title=f"Top-{args.k} lens tokens per layer: {tid}, {m} task vector",
                                 note=note), out / "summary_layers", png=not args.no_png)
    return {t: {m: [[tok, float(p)] for tok, p in v] for m, v in r.items()} for t, r in table.items()}


def _clusters(adapter, tasks, args, layer: int, out: Path, note: str, cache: dict) -> dict:
    from taskvec import plot as P
    from taskvec.analysis.clusters import clusters

    rec: dict = {"layer": layer}
    for method in [m.strip() for m in args.projection.split(",")]:
        # the paper clusters example-based vectors (an instruction is one prompt: one point per task)
        r = clusters(adapter, list(tasks.values()), layer, _modalities(args), method, n_examples=args.n_examples,
                     n_sets=args.n_sets, seed=args.seed, cache=cache, protocol=args.protocol)
        if "n" not in rec:
            print(f"clusters @ layer {layer} (official L={layer - 1}): {len(r.tasks)} vectors; " + r.summary())
            finite = lambda x: None if x != x else x  # noqa: E731  (NaN -> null: one group, no silhouette)
            rec.update(n=len(r.tasks), silhouette_task=finite(r.silhouette_task),
                       silhouette_modality=finite(r.silhouette_modality))
        axes = tuple(f"PC {i + 1} ({v:.0%} of variance)" for i, v in enumerate(r.explained)) if r.explained else None
        fig = P.cluster_figure(r.xy, r.tasks, r.modalities,
                               title=f"Task vectors at taskvec layer {layer} = official L={layer - 1} ({method}); silhouette "
                                     f"{r.short()}", note=note, axis_titles=axes)
        P.save_figure(fig, out / f"clusters_{method}", png=not args.no_png)
    return rec


def _modalities(args) -> tuple[str, ...]:
    mods = tuple(m.strip() for m in args.modalities.split(",") if m.strip())
    bad = [m for m in mods if m not in ("text", "image", "instruction")]
    if bad or not mods:
        raise TaskvecError(f"Unknown --modalities {','.join(bad) or args.modalities!r}; use text, image, instruction.")
    return mods


def _similarity(adapter, tasks, args, layer: int, out: Path, note: str, cache: dict) -> dict:
    """Cosine between the mean task vectors, raw and centered; for each pair of ways of giving a task,
    the same-task cosine against the mean over other tasks (``SimilarityResult.cross``)."""
    from taskvec import plot as P
    from taskvec.analysis.similarity import similarity

    mods = _modalities(args)
    rec: dict = {"layer": layer}
    for center in (False, True):
        r = similarity(adapter, list(tasks.values()), layer, mods, center=center, n_examples=args.n_examples,
                       n_sets=args.n_sets, seed=args.seed, cache=cache)
        key = "centered" if center else "raw"
        rec[key] = {"labels": r.labels, "matrix": r.matrix.tolist(), "cross": {}}
        present = [m for m in mods if any(lab.endswith(f" · {m}") for lab in r.labels)]
        for i, a in enumerate(present):
            for b in present[i + 1:]:
                c = r.cross(a, b)
                rec[key]["cross"][f"{a} vs {b}"] = c
                print(f"cosine {a} vs {b} @ layer {layer} ({key}): same task " + " ".join(f"{v:.3f}" for v in c["same"].values())
                      + f" (mean {c['same_mean']:.3f}); other tasks mean {c['other_mean']:.3f}")
        P.save_figure(P.cosine_heatmap(r.matrix, r.labels, title=f"Cosine of mean task vectors at layer {layer} ({key})",
                                       note=note), out / f"similarity_{key}", png=not args.no_png)
    return rec
