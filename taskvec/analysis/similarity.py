"""Cosine similarity between task vectors: text vs image vs instruction, and a base LLM vs its VLM."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from taskvec.analysis.vectors import task_vectors
from taskvec.core.geometry import cosine_matrix
from taskvec.data.tasks import TaskData
from taskvec.errors import SpecError
from taskvec.models.base import Adapter


@dataclass
class SimilarityResult:
    """``matrix`` (N, N) cosines between the mean task vectors named by ``labels`` at ``layer``."""

    matrix: np.ndarray
    labels: list[str]
    layer: int
    centered: bool = False

    def __post_init__(self) -> None:
        assert self.matrix.shape == (len(self.labels), len(self.labels)), "one row and column per label"

    def rows(self) -> list[dict]:
        return [{"vector": a, **{b: float(self.matrix[i, j]) for j, b in enumerate(self.labels)}}
                for i, a in enumerate(self.labels)]

    def cross(self, a: str, b: str) -> dict:
        """How ``a`` vectors (e.g. "instruction") relate to ``b`` vectors ("text") across tasks:
        ``same[task]`` = cos(task·a, task·b); ``other[task]`` = mean cos(task·a, other·b) over the other
        tasks; ``same_mean``/``other_mean`` their means. A task missing either vector is left out."""
        where = {lab: i for i, lab in enumerate(self.labels)}
        tasks = [lab.split(" · ")[0] for lab in self.labels if lab.endswith(f" · {a}")]
        tasks = [t for t in tasks if f"{t} · {b}" in where]
        if not tasks:
            raise SpecError(f"No task has both {a!r} and {b!r} vectors in this matrix.")
        same = {t: float(self.matrix[where[f"{t} · {a}"], where[f"{t} · {b}"]]) for t in tasks}
        other = {t: float(np.mean([self.matrix[where[f"{t} · {a}"], where[f"{u} · {b}"]] for u in tasks if u != t]))
                 for t in tasks} if len(tasks) > 1 else {}
        return {"same": same, "other": other, "same_mean": float(np.mean(list(same.values()))),
                "other_mean": float(np.mean(list(other.values()))) if other else float("nan")}


def similarity(adapter: Adapter, tasks: Sequence[TaskData], layer: int,
               modalities: Sequence[str] = ("text", "image", "instruction"), base: Adapter | None = None,
               center: bool = False, n_examples: int = 5, n_sets: int = 10, seed: int = 0, cache: dict | None = None,
               progress=None) -> SimilarityResult:
    """Cosine between mean task vectors (per task and modality), plus ``base``'s text vectors.

    ``center``: subtract the mean of the shown vectors first (raw residuals share a large common
    direction, so raw cosines are all close to 1 on many models).
    """
    if not tasks or not modalities:
        raise SpecError("Pick at least one task and one way of specifying it.")
    if base is not None and base is not adapter and layer > base.n_layers:
        raise SpecError(f"Layer {layer} is beyond the base model's {base.n_layers} layers.")
    vecs, labels = [], []
    for i, task in enumerate(tasks):
        if progress is not None:
            progress(i, len(tasks))
        for m, tv in task_vectors(adapter, task, modalities, n_examples, n_sets, seed, cache).items():
            vecs.append(tv.at(layer))
            labels.append(f"{task.id} · {m}")
        if base is not None and base is not adapter:
            tv = task_vectors(base, task, ("text",), n_examples, n_sets, seed, cache)["text"]
            vecs.append(tv.at(layer))
            labels.append(f"{task.id} · text (base LLM)")
    if len(vecs) < 2:
        raise SpecError("A similarity matrix needs at least two vectors; pick more tasks or modalities.")
    X = torch.stack(vecs).float().numpy()  # (N, D)
    return SimilarityResult(cosine_matrix(X - X.mean(0, keepdims=True) if center else X), labels, layer, center)
