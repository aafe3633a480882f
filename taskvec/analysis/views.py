"""The analysis views: layer sweep, logit lens and phases, task summaries, clusters, similarity.

Each ``run_*`` takes an adapter and plain choices, calls the core API, and returns a
small result with ``.figure()`` (plotly) and ``.rows()`` (for CSV/JSON export).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from taskvec.plot import app_figures as F
from taskvec.core.activations import context_embeddings, residuals
from taskvec.analysis.compare import spec_with_query
from taskvec.errors import SpecError
from taskvec.core.lens import phase_curve, role_token_ids, top1_distribution, top_k
from taskvec.core.metrics import first_token_match
from taskvec.core.patching import first_token_logits
from taskvec.core.sweep import layer_sweep
from taskvec.core.geometry import cosine_matrix, normalize, project, silhouette
from taskvec.core.prompts import icl_prompt, query_prompt, text_of
from taskvec.core.specs import ImageExamples, TextExamples, example_sets
from taskvec.core.vectors import extract
from taskvec.app.library import LibraryTask, entity_image

VECTOR_KINDS = ("text examples", "image examples", "instruction")
SHORT = {"text examples": "text", "image examples": "image", "instruction": "instruction"}


def _step(progress, frac: float, desc: str) -> None:
    if progress is not None:
        progress(frac, desc=desc)


def split_pairs(task: LibraryTask, n_spec: int = 20) -> tuple[tuple, tuple]:
    """Examples for the specification and held-out pairs for queries (the dataset's val first)."""
    n = min(n_spec, max(2, len(task.pairs) // 2))
    return task.pairs[:n], task.pairs[n:]


def task_spec(task: LibraryTask, kind: str, pairs=None):
    pairs = tuple(task.pairs if pairs is None else pairs)
    if kind == "text examples":
        return TextExamples(pairs)
    if kind == "image examples":
        if task.user:
            raise SpecError(f"Task {task.id!r} was typed as text and has no images; use text examples.")
        return ImageExamples(tuple((entity_image(task.domain, x), y) for x, y in pairs))
    if kind == "instruction":
        if not task.instruction:
            raise SpecError(f"Task {task.id!r} has no instruction; add one or pick examples.")
        return task.instruction_spec()
    raise SpecError(f"Unknown specification kind {kind!r}; use one of {', '.join(VECTOR_KINDS)}.")


def as_query(task: LibraryTask, x: str, query_kind: str):
    return entity_image(task.domain, x) if query_kind == "image" else x


# ---- layer sweep -------------------------------------------------------------------------
@dataclass
class SweepResult:
    layers: list[int]
    values: list[float]
    baseline: float | None
    ylabel: str
    title: str
    suggested: int | None = None
    per_query: list[dict] = field(default_factory=list)

    def figure(self):
        return F.sweep_figure(self.layers, self.values, self.baseline, self.ylabel, self.title, suggested=self.suggested)

    def rows(self) -> list[dict]:
        base = [{"layer": l, self.ylabel: v, "prompt_baseline": self.baseline} for l, v in zip(self.layers, self.values)]
        return base + self.per_query


def run_sweep(adapter, task: LibraryTask, vector_kind: str, query_kind: str = "text", n_queries: int = 20,
              query=None, expected: str = "", source=None, n_sets: int = 10, seed: int = 0,
              suggested: int | None = None, progress=None) -> SweepResult:
    """Patch at every layer: first-token accuracy over held-out queries, or P(expected) for one query."""
    if task.user and query_kind == "image" and query is None:
        raise SpecError(f"Task {task.id!r} was typed as text and has no images; use text queries.")
    spec_pairs, held = split_pairs(task)
    spec = task_spec(task, vector_kind, spec_pairs)
    _step(progress, 0.05, "Extracting the task vector")
    vec = extract(source or adapter, spec, n_sets=n_sets, seed=seed).vectors
    demos = task_spec(task, vector_kind, spec_pairs[:5]) if vector_kind != "instruction" else spec
    if query is not None:
        if not expected.strip():
            raise SpecError("Type the expected answer of your query (e.g. 'Berlin') to plot its probability.")
        tid = adapter.token_id(expected.strip())
        sw = layer_sweep(adapter, query_prompt(query), vec)
        base = torch.softmax(first_token_logits(adapter, spec_with_query(demos, query)), -1)[tid].item()
        return SweepResult(sw.layers, sw.prob_of(tid), base, f"P({expected.strip()!r})",
                           f"Probability of {expected.strip()!r} when patching {SHORT[vector_kind]} vector", suggested)
    if not held:
        raise SpecError(f"Task {task.id!r} has no held-out pairs for queries; add more examples.")
    held = held[:max(1, int(n_queries))]
    hits = np.zeros(adapter.n_layers + 1)
    base_hits, per_query = 0, []
    for i, (x, y) in enumerate(held):
        _step(progress, 0.1 + 0.9 * i / len(held), f"Query {i + 1}/{len(held)}")
        q = as_query(task, x, query_kind)
        sw = layer_sweep(adapter, query_prompt(q), vec)
        preds = [adapter.decode_token(int(t)) for t in sw.logits.argmax(-1)]
        ok = [first_token_match(p, y) for p in preds]
        hits += ok
        pred_b = adapter.decode_token(int(first_token_logits(adapter, spec_with_query(demos, q)).argmax()))
        base_hits += first_token_match(pred_b, y)
        per_query.append({"query": x, "label": y, "prompt_pred": pred_b, **{f"L{l}": p for l, p in zip(sw.layers, preds)}})
    n = len(held)
    return SweepResult(list(range(adapter.n_layers + 1)), (hits / n).tolist(), base_hits / n, "first-token accuracy",
                       f"{task.id}: {SHORT[vector_kind]} vector patched into {n} {query_kind} queries",
                       suggested, per_query)


# ---- logit lens and phases ---------------------------------------------------------------
@dataclass
class LensResult:
    phase: object
    topk: object
    top1: list
    prompt: str
    title: str

    def figures(self):
        return (F.phase_figure(self.phase.mean.numpy(), self.phase.std.numpy(), self.phase.labels, self.phase.tokens,
                               f"{self.title}: relative probability of input / task / answer "
                               f"(mean ± std over {self.phase.per_run.shape[0]} example sets)"),
                F.lens_heatmap(self.topk.tokens, self.topk.probs, "Logit lens at the delimiter ':' (first example set)"),
                F.top1_figure(self.top1, "Top-1 lens token per layer (share of example sets)"))

    def rows(self) -> list[dict]:
        m, s = self.phase.mean.numpy(), self.phase.std.numpy()
        return [{"layer": l, **{f"{lab}_mean": float(m[l, i]) for i, lab in enumerate(self.phase.labels)},
                 **{f"{lab}_std": float(s[l, i]) for i, lab in enumerate(self.phase.labels)},
                 "top_tokens": "|".join(self.topk.tokens[l]), "top1": "|".join(f"{t}:{p:.2f}" for t, p in self.top1[l])}
                for l in range(m.shape[0])]


def run_lens(adapter, task: LibraryTask, kind: str = "text examples", n_sets: int = 20, n_examples: int = 5,
             seed: int = 0, task_word: str = "", k: int = 5, progress=None, input_word: str = "") -> LensResult:
    """Phase curves at the delimiter. The input token is, as in the paper (a fixed token, ``auf`` for
    Idefics2), one token for every set: by default the delimiter itself; ``{query}`` uses each set's query
    word (for image examples, the name of the pictured entity)."""
    if kind not in ("text examples", "image examples"):
        raise SpecError("Phase curves read example prompts: choose text examples or image examples.")
    sets = example_sets(task.pairs, int(n_examples), int(n_sets), int(seed))
    img = kind == "image examples"
    conv = (lambda x: entity_image(task.domain, x)) if img else (lambda x: x)
    prompts = [icl_prompt([(conv(x), y) for x, y in s.demos], conv(s.query)) for s in sets]
    _step(progress, 0.1, f"Reading {len(prompts)} example sets")
    res = residuals(adapter, prompts, progress=(lambda i, n: progress((i, n), desc="Forward passes")) if progress else None)
    word = (task_word or task.task_token).strip()
    ids = role_token_ids(adapter, [s.query for s in sets], word, [s.answer for s in sets], input_word)
    R = res.at_delimiter  # (K, L+1, D)
    return LensResult(phase_curve(adapter, R, ids), top_k(adapter, R[0], int(k)), top1_distribution(adapter, R),
                      text_of(prompts[0]), f"{task.id} ({SHORT[kind]})")


# ---- task summaries ----------------------------------------------------------------------
def run_summaries(adapter, tasks: list[LibraryTask], layer: int, kinds=VECTOR_KINDS, k: int = 5, n_sets: int = 10,
                  seed: int = 0, progress=None) -> list[dict]:
    """Top-k lens decodings of each task's vector at ``layer``, one row per task, one column per kind."""
    rows = []
    for i, task in enumerate(tasks):
        _step(progress, i / max(1, len(tasks)), f"Task {task.id}")
        row = {"task": task.id}
        for kind in kinds:
            try:
                vec = extract(adapter, task_spec(task, kind, split_pairs(task)[0]), n_sets=n_sets, seed=seed)
                tk = top_k(adapter, vec.at(layer)[None], k)
                row[SHORT[kind]] = ", ".join(f"{F.show_token(t)} ({p:.3g})" for t, p in zip(tk.tokens[0], tk.probs[0]))
            except SpecError as e:
                row[SHORT[kind]] = f"n/a: {e}"
        rows.append(row)
    return rows


# ---- clusters and similarity -------------------------------------------------------------
def _vectors(adapter, tasks, kinds, layer, n_sets, seed, progress, label_suffix=""):
    """Per-set task vectors at ``layer``: X (N, D), task labels, kind labels, hover texts."""
    X, groups, kinds_, hover = [], [], [], []
    jobs = [(t, k) for t in tasks for k in kinds if not (t.user and k == "image examples")]
    for j, (task, kind) in enumerate(jobs):
        _step(progress, j / max(1, len(jobs)), f"{task.id} · {SHORT[kind]}{label_suffix}")
        tv = extract(adapter, task_spec(task, kind, split_pairs(task)[0]), n_sets=n_sets, seed=seed)
        X.append(tv.per_set[:, layer])  # (K, D)
        groups += [task.id] * tv.per_set.shape[0]
        kinds_ += [SHORT[kind] + label_suffix] * tv.per_set.shape[0]
        hover += [p.replace("\n", "<br>")[-400:] for p in tv.prompts] or [tv.meta["spec"]] * tv.per_set.shape[0]
    return torch.cat(X), groups, kinds_, hover


@dataclass
class ClusterResult:
    xy: np.ndarray
    groups: list
    kinds: list
    hover: list
    sil_task: float
    sil_kind: float
    title: str

    def figure(self):
        return F.scatter_figure(self.xy, self.groups, self.kinds, self.hover, self.title)

    def summary(self) -> str:
        return (f"Silhouette (cosine, normalized vectors) by **task**: {self.sil_task:.3f} · by **modality**: "
                f"{self.sil_kind:.3f} — {len(self.groups)} points. High by task and near 0 by modality means the "
                "vectors encode the task, not how it was given.")

    def rows(self) -> list[dict]:
        return [{"x": float(a), "y": float(b), "task": g, "kind": k} for (a, b), g, k in zip(self.xy, self.groups, self.kinds)]


def run_clusters(adapter, tasks, kinds, layer: int, method: str = "tsne", what: str = "task vectors",
                 n_sets: int = 10, seed: int = 0, progress=None) -> ClusterResult:
    if not tasks or not kinds:
        raise SpecError("Pick at least one task and one way of specifying it.")
    if what == "context embeddings":
        X, groups, kinds_, hover = _contexts(adapter, tasks, kinds, layer, seed, progress)
    else:
        X, groups, kinds_, hover = _vectors(adapter, tasks, kinds, layer, n_sets, seed, progress)
    Xn = normalize(adapter, X)
    _step(progress, 0.95, f"Projecting {len(groups)} points ({method}"
          + ("; UMAP compiles on first use, about 30 s)" if method == "umap" else ")"))
    xy = project(Xn, method, seed)
    return ClusterResult(xy, groups, kinds_, hover, silhouette(Xn, groups), silhouette(Xn, kinds_),
                         f"{method.upper()} of {what} at layer {layer}")


def _contexts(adapter, tasks, kinds, layer, seed, progress, n_prompts: int = 3):
    X, groups, kinds_, hover = [], [], [], []
    kinds = [k for k in kinds if k != "instruction"]
    for j, task in enumerate(tasks):
        for kind in kinds:
            if task.user and kind == "image examples":
                continue
            _step(progress, j / len(tasks), f"context embeddings of {task.id}")
            for s in example_sets(task.pairs, 5, n_prompts, seed):
                demos = [(entity_image(task.domain, x) if kind == "image examples" else x, y) for x, y in s.demos]
                embs = context_embeddings(adapter, icl_prompt(demos, s.query), layer)
                for (x, _), e in zip(s.demos, embs):
                    X.append(e); groups.append(task.id); kinds_.append(SHORT[kind]); hover.append(x)
    if not X:
        raise SpecError("No context embeddings: pick text or image examples.")
    return torch.stack(X), groups, kinds_, hover


@dataclass
class SimilarityResult:
    matrix: np.ndarray
    labels: list
    title: str

    def figure(self):
        return F.cosine_heatmap(self.matrix, self.labels, self.title)

    def rows(self) -> list[dict]:
        return [{"vector": a, **{b: float(self.matrix[i, j]) for j, b in enumerate(self.labels)}}
                for i, a in enumerate(self.labels)]


def run_similarity(adapter, tasks, kinds, layer: int, base=None, n_sets: int = 10, seed: int = 0,
                   center: bool = False, progress=None) -> SimilarityResult:
    """Cosine between mean task vectors (per task and kind), plus a base LLM's text vectors.

    ``center``: subtract the mean of the shown vectors first (raw residuals share a large
    common direction, so raw cosines are all close to 1 on many models).
    """
    if not tasks or not kinds:
        raise SpecError("Pick at least one task and one way of specifying it.")
    vecs, labels = [], []
    for task in tasks:
        for kind in kinds:
            if task.user and kind == "image examples":
                continue
            _step(progress, len(vecs) / (len(tasks) * len(kinds) * (2 if base else 1)), f"{task.id} · {SHORT[kind]}")
            vecs.append(extract(adapter, task_spec(task, kind, split_pairs(task)[0]), n_sets=n_sets, seed=seed).at(layer))
            labels.append(f"{task.id} · {SHORT[kind]}")
    if base is not None and base is not adapter:
        if layer > base.n_layers:
            raise SpecError(f"Layer {layer} is beyond the base model's {base.n_layers} layers.")
        for task in tasks:
            _step(progress, 0.5, f"{task.id} on the base LLM")
            vecs.append(extract(base, task_spec(task, "text examples", split_pairs(task)[0]), n_sets=n_sets, seed=seed).at(layer))
            labels.append(f"{task.id} · text (base LLM)")
    X = torch.stack(vecs).numpy()  # (N, D)
    M = cosine_matrix(X - X.mean(0, keepdims=True) if center else X)
    return SimilarityResult(M, labels, f"Cosine similarity of task vectors at layer {layer}"
                            + (" (mean of the shown vectors subtracted)" if center else ""))
