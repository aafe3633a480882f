"""A measured suggested patch layer instead of the middle-layer guess (L/2).

``measure_layer`` runs the protocol's layer sweep (``analysis.sweep.task_sweep`` ->
``protocol.score_split``: the same numbers as the eval and the app's Layer sweep tab) on the
first validation queries of a few built-in tasks and picks the layer with the best mean
first-token patch accuracy (ties: the earliest). ``measure_and_cache`` stores the result
beside the model (a converted GGUF's cache folder, else ``root/layers/``) and sets
``model.config.taskvec_best_layer``, which ``analysis.compare.suggested_layer`` reads: the CLI's
default ``--layer`` and the app's slider default. Seconds on a GPU; about a minute on 2 CPU cores
for SmolLM2-135M.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from taskvec.analysis.sweep import task_sweep
from taskvec.data.tasks import load_task
from taskvec.models.base import Adapter

LAYER_FILE = "taskvec_layer.json"
DEFAULT_TASKS = ("country-capital", "animal-young", "food-color")


@dataclass
class LayerChoice:
    """The measured layer; ``curve``: mean accuracy per residual layer (0..L) over ``n`` queries of ``tasks``."""

    layer: int
    curve: list[float]
    tasks: list[str]
    n: int
    per_task: dict[str, list[float]] = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    seconds: float = 0.0
    path: str | None = None

    def __post_init__(self) -> None:
        assert 0 <= self.layer < len(self.curve), "the layer is one of the curve's residual layers"

    def as_dict(self) -> dict:
        return asdict(self)

    def rows(self) -> list[dict]:
        return [{"layer": l, "mean_accuracy": v, **{t: c[l] for t, c in self.per_task.items()}}
                for l, v in enumerate(self.curve)]


def measure_layer(adapter: Adapter, tasks=DEFAULT_TASKS, n_queries: int = 8, n_sets: int = 5, n_examples: int = 5,
                  seed: int = 0, spec: str = "text", query: str | None = None, progress=None) -> LayerChoice:
    """Best mean validation patch accuracy over the first ``n_queries`` val queries of each task."""
    query = query or ("image" if adapter.supports_images else "text")
    t0 = time.time()
    per_task, weights = {}, {}
    for i, tid in enumerate(tasks):
        res = task_sweep(adapter, load_task(tid), spec, query, n_queries, "val", n_examples, n_sets, seed)
        per_task[tid], weights[tid] = res.values, res.n
        if progress is not None:
            progress(i + 1, len(tasks))
    n = sum(weights.values())
    curve = [sum(per_task[t][l] * weights[t] for t in tasks) / n for l in range(adapter.n_layers + 1)]
    best = max(range(len(curve)), key=lambda l: (curve[l], -l))
    settings = {"spec": spec, "query": query, "split": "val", "n_queries": n_queries, "n_sets": n_sets,
                "n_examples": n_examples, "seed": seed}
    return LayerChoice(best, curve, list(tasks), n, per_task, settings, time.time() - t0)


def cache_file(adapter: Adapter, root: str | Path | None = None) -> Path | None:
    """Where the measured layer of ``adapter`` is kept: beside converted weights, else under ``root``."""
    cached = adapter.provenance().get("cache")
    if cached:
        return Path(cached) / LAYER_FILE
    if root is None:
        return None
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{adapter.model_id}@{adapter.revision or 'main'}")
    return Path(root) / "layers" / f"{slug}.json"


def load_cached(adapter: Adapter, root: str | Path | None = None) -> LayerChoice | None:
    path = cache_file(adapter, root)
    if path is None or not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        choice = LayerChoice(**{k: v for k, v in data.items() if k != "path"}, path=str(path))
    except (ValueError, TypeError, AssertionError):
        return None  # a damaged or older file: measure again
    return choice if len(choice.curve) == adapter.n_layers + 1 else None


def apply(adapter: Adapter, choice: LayerChoice) -> None:
    """Make ``choice`` the model's suggested layer (read by ``analysis.compare.suggested_layer``)."""
    adapter.model.config.taskvec_best_layer = int(choice.layer)


def measure_and_cache(adapter: Adapter, root: str | Path | None = None, progress=None, **kwargs) -> LayerChoice:
    """The cached measurement if there is one, else measure and cache it; either way applied to the model."""
    choice = load_cached(adapter, root)
    if choice is None:
        choice = measure_layer(adapter, progress=progress, **kwargs)
        path = cache_file(adapter, root)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            choice.path = str(path)
            path.write_text(json.dumps(choice.as_dict(), indent=1))
    apply(adapter, choice)
    return choice
