"""Clusters of task vectors (paper Fig. 4): by task or by modality? Projections and silhouettes.

Per-set task vectors (one point per example set) at one layer, normalized by the model's final
norm (paper), projected to 2-D with PCA / t-SNE / UMAP (seeded). The silhouettes are computed
in the normalized D-dimensional space, not on the projection (t-SNE/UMAP distances are not
faithful).
"""

from __future__ import annotations

import math

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from taskvec.analysis.protocol import Inputs
from taskvec.analysis.vectors import task_vectors
from taskvec.core.activations import context_embeddings
from taskvec.core.geometry import normalize, project, silhouette
from taskvec.core.prompts import icl_prompt
from taskvec.core.specs import example_sets
from taskvec.data.tasks import TaskData
from taskvec.errors import SpecError
from taskvec.models.base import Adapter

WHAT = ("task vectors", "context embeddings")


@dataclass
class ClusterResult:
    """``xy`` (N, 2) projected points; ``tasks``/``modalities``/``hover`` per point; silhouettes
    (cosine) in the normalized space; ``explained`` the PCA explained-variance ratios (PCA only)."""

    xy: np.ndarray
    tasks: list[str]
    modalities: list[str]
    hover: list[str]
    silhouette_task: float
    silhouette_modality: float
    method: str
    layer: int
    what: str = "task vectors"
    explained: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        assert self.xy.shape == (len(self.tasks), 2), "xy is (N, 2), one row per point"

    def summary(self) -> str:
        if math.isnan(self.silhouette_modality):
            why = ("by modality n/a (every point from one modality: " + ", ".join(sorted(set(self.modalities)))
                   + "; a text-only model or one way of giving the task)")
        else:
            why = f"by modality {self.silhouette_modality:.3f}"
        task = "n/a (one task)" if math.isnan(self.silhouette_task) else f"{self.silhouette_task:.3f}"
        return (f"Silhouette in the original space (cosine, final-norm-normalized) by task {task}, {why}; "
                f"{len(self.tasks)} points. High by task and near 0 by modality means the vectors encode the task, "
                "not how it was given.")

    def short(self) -> str:
        """'task 0.96, modality -0.01' (n/a where a grouping has one group)."""
        f = lambda x: "n/a" if math.isnan(x) else f"{x:.2f}"  # noqa: E731
        return f"task {f(self.silhouette_task)}, modality {f(self.silhouette_modality)}"

    def rows(self) -> list[dict]:
        return [{"x": float(a), "y": float(b), "task": t, "modality": m, "layer": self.layer, "method": self.method}
                for (a, b), t, m in zip(self.xy, self.tasks, self.modalities)]


def points(adapter: Adapter, tasks: Sequence[TaskData], layer: int, modalities: Sequence[str] = ("text", "image"),
           what: str = "task vectors", n_examples: int = 5, n_sets: int = 30, seed: int = 0,
           cache: dict | None = None, progress=None, protocol="taskvec"):
    """Normalized points (N, D) and their task / modality / hover labels (task vectors read as
    ``analysis.vectors`` reads them under ``protocol``: one point per example set)."""
    _check(tasks, modalities, what)
    X, task_lab, mod_lab, hover = [], [], [], []
    for i, task in enumerate(tasks):
        if progress is not None:
            progress(i, len(tasks))
        _task_points(adapter, task, layer, modalities, what, n_examples, n_sets, seed, cache, X, task_lab, mod_lab, hover,
                     protocol)
    if not X:
        raise SpecError("No points: pick text or image examples (an instruction has no example inputs).")
    Xn = normalize(adapter, torch.cat(X))  # (N, D)
    return Xn, task_lab, mod_lab, hover


def _check(tasks, modalities, what) -> None:
    if not tasks or not modalities:
        raise SpecError("Pick at least one task and one way of specifying it.")
    if what not in WHAT:
        raise SpecError(f"Unknown points {what!r}; use one of {', '.join(WHAT)}.")


def _task_points(adapter, task, layer, modalities, what, n_examples, n_sets, seed, cache, X, task_lab, mod_lab,
                 hover, protocol="taskvec") -> None:
    """Append one task's points (K, D) per modality to ``X`` and its labels to the label lists."""
    if what == "task vectors":
        for m, tv in task_vectors(adapter, task, modalities, n_examples, n_sets, seed, cache, protocol).items():
            X.append(tv.per_set[:, layer])  # (K, D)
            task_lab += [task.id] * tv.per_set.shape[0]
            mod_lab += [m] * tv.per_set.shape[0]
            hover += [p.replace("\n", "<br>")[-400:] for p in tv.prompts] or [tv.meta["spec"]] * tv.per_set.shape[0]
    else:
        for m, embs, names in _contexts(adapter, task, modalities, layer, seed):
            X.append(torch.stack(embs))  # (K, D)
            task_lab += [task.id] * len(embs)
            mod_lab += [m] * len(embs)
            hover += names


def _contexts(adapter, task: TaskData, modalities, layer: int, seed: int, n_prompts: int = 3):
    """Context embeddings: the mean residual over each example input's tokens, 3 five-shot prompts."""
    inputs, items = Inputs(task), list(task.items)
    for m in [m for m in modalities if m in ("text", "image")]:
        if m == "image" and not adapter.supports_images:
            continue
        embs, names = [], []
        for s in example_sets([(i, it.answer) for i, it in enumerate(items)], 5, n_prompts, seed):
            prompt = icl_prompt([(inputs(items[i], m), y) for i, y in s.demos], inputs(items[s.query], m))
            for (i, _), e in zip(s.demos, context_embeddings(adapter, prompt, layer)):
                embs.append(e)
                names.append(items[i].input)
        if embs:
            yield m, embs, names


def clusters(adapter: Adapter, tasks: Sequence[TaskData], layer: int, modalities: Sequence[str] = ("text", "image"),
             method: str = "tsne", what: str = "task vectors", n_examples: int = 5, n_sets: int = 30, seed: int = 0,
             cache: dict | None = None, progress=None, protocol="taskvec") -> ClusterResult:
    """Project the points of ``points`` with ``method`` and score the grouping by task and by modality."""
    Xn, task_lab, mod_lab, hover = points(adapter, tasks, layer, modalities, what, n_examples, n_sets, seed, cache,
                                          progress, protocol)
    return _project(Xn, task_lab, mod_lab, hover, method, layer, what, seed)


def cluster_steps(adapter: Adapter, tasks: Sequence[TaskData], layer: int, modalities: Sequence[str] = ("text", "image"),
                  method: str = "tsne", what: str = "task vectors", n_examples: int = 5, n_sets: int = 30,
                  seed: int = 0, cache: dict | None = None, progress=None, every: int = 1, before=None,
                  protocol="taskvec"):
    """``clusters`` computed task by task: after every ``every`` tasks (and after the last) yields ``(done, total,
    ClusterResult of the first done tasks' points)``; the last one equals ``clusters(...)`` (same points, same
    projection). A partial step with fewer than 3 points so far is skipped. ``before(chunk)``, if given, is called
    with each chunk's tasks before their points are read (e.g. to extract their vectors into ``cache``); when it
    returns False (nothing new was computed) that chunk's partial projection is skipped too."""
    _check(tasks, modalities, what)
    X, task_lab, mod_lab, hover = [], [], [], []
    every, total = max(1, int(every)), len(tasks)
    for start in range(0, total, every):
        chunk = list(tasks[start:start + every])
        fresh = before(chunk) if before is not None else True
        for j, task in enumerate(chunk):
            if progress is not None:
                progress(start + j, total)
            _task_points(adapter, task, layer, modalities, what, n_examples, n_sets, seed, cache, X, task_lab, mod_lab,
                         hover, protocol)
        done = start + len(chunk)
        if done < total and (fresh is False or len(task_lab) < 3):
            continue
        if not X:
            raise SpecError("No points: pick text or image examples (an instruction has no example inputs).")
        Xn = normalize(adapter, torch.cat(X))  # (N, D)
        yield done, total, _project(Xn, list(task_lab), list(mod_lab), list(hover), method, layer, what, seed)


def _project(Xn, task_lab, mod_lab, hover, method, layer, what, seed) -> ClusterResult:
    if Xn.shape[0] < 3:
        raise SpecError(f"A projection needs at least 3 points; these settings give {Xn.shape[0]}. "
                        "Pick more tasks or more example sets.")
    threads = torch.get_num_threads()
    try:  # UMAP (numba) changes torch's thread count as a side effect: restored afterwards
        xy = project(Xn, method, seed)
    finally:
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
    explained = []
    if method == "pca":
        from sklearn.decomposition import PCA

        explained = PCA(n_components=2, random_state=seed).fit(np.asarray(Xn, dtype=np.float64)).explained_variance_ratio_.tolist()
    return ClusterResult(np.asarray(xy), task_lab, mod_lab, hover, silhouette(Xn, task_lab), silhouette(Xn, mod_lab),
                         method, layer, what, explained)
