"""Patch accuracy per layer (paper Fig. 10): the protocol's ``score_split`` over a task's queries.

``task_sweep`` is the app's layer-sweep view and the same numbers as the eval's per-layer
curves (same task, split, seed and settings); ``query_sweep`` follows one query of the
user's own through the layers (probability of its expected answer's first token).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from taskvec.analysis.compare import spec_with_query
from taskvec.analysis.protocol import (Inputs, accuracy, demonstrations, layer_accuracy, limited, other, score_split,
                                       spec_for)
from taskvec.core.patching import first_token_logits
from taskvec.core.prompts import query_prompt
from taskvec.core.sweep import layer_sweep
from taskvec.core.vectors import extract
from taskvec.data.tasks import TaskData
from taskvec.errors import SpecError
from taskvec.models.base import Adapter


@dataclass
class SweepResult:
    """One value per residual layer (0 = embeddings .. L).

    ``values``: patch accuracy over ``n`` queries (or P(expected) for one query); ``prompt`` and
    ``no_context``: the baselines on the same queries; ``items``: the scored queries.
    """

    task: str
    spec: str
    query: str
    layers: list[int]
    values: list[float]
    n: int
    ylabel: str
    prompt: float | None = None
    no_context: float | None = None
    split: str = "test"
    items: list[dict] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        assert len(self.layers) == len(self.values), "one value per layer"

    @property
    def best_layer(self) -> int:
        return max(range(len(self.values)), key=lambda i: (self.values[i], -i))  # ties: earliest

    def stderr(self) -> list[float]:
        """Binomial standard error of each accuracy (0 for a single-query probability)."""
        if self.n <= 1:
            return [0.0] * len(self.values)
        return [math.sqrt(max(v * (1 - v), 0.0) / self.n) for v in self.values]

    def rows(self) -> list[dict]:
        base = [{"layer": l, self.ylabel: v, "stderr": s, "prompt_baseline": self.prompt,
                 "no_context_baseline": self.no_context} for l, v, s in zip(self.layers, self.values, self.stderr())]
        per_query = [{"query": it["input"], "label": it["answer"], "prompt_pred": it["prompt"],
                      "no_context_pred": it["no_context"], **{f"L{l}": p for l, p in enumerate(it["patch"])}}
                     for it in self.items]
        return base + per_query


def task_sweep(adapter: Adapter, task: TaskData, spec: str = "text", query: str = "image", n_queries: int | None = None,
               split: str = "test", n_examples: int = 5, n_sets: int = 10, seed: int = 0,
               progress=None) -> SweepResult:
    """Patch accuracy per layer on the first ``n_queries`` queries of ``split`` (vectors from the other split)."""
    lim = {"limit_test": n_queries} if split == "test" else {"limit_val": n_queries}
    queries = limited(task, **lim)[0 if split == "val" else 1]
    if not queries or not limited(task)[0 if other(split) == "val" else 1]:
        raise SpecError(f"Task {task.id!r} needs items in both splits (val and test); it has "
                        f"{len(task.split('val'))} val and {len(task.split('test'))} test items.")
    done = [0]

    def tick():
        done[0] += 1
        if progress is not None:
            progress(done[0], len(queries))

    res = score_split(adapter, task, spec, query, split, n_examples=n_examples, n_sets=n_sets, seed=seed,
                      progress=tick, **lim)
    items = res["items"]
    return SweepResult(task.id, spec, query, list(range(adapter.n_layers + 1)), layer_accuracy(items), len(items),
                       "first-token accuracy", accuracy(items, "prompt_ok"), accuracy(items, "no_context_ok"),
                       split, items)


def query_sweep(adapter: Adapter, task: TaskData, spec: str, query, expected: str, n_examples: int = 5,
                n_sets: int = 10, seed: int = 0) -> SweepResult:
    """P(first token of ``expected``) for one query of the user's, patched at every layer; the task
    vector and the Prompt's demonstrations come from the task's validation split (as for test queries)."""
    if not (expected or "").strip():
        raise SpecError("Type the expected answer of your query (e.g. 'Berlin') to plot its probability.")
    inputs = Inputs(task)
    pool = task.split("val")
    spec_obj = spec_for(task, spec, pool, inputs)
    vec = extract(adapter, spec_obj, n_examples, n_sets, seed).vectors  # (L+1, D)
    demos = spec_for(task, spec, demonstrations(pool, n_examples, seed, "test", 0), inputs)  # as test query 0
    tid = adapter.token_id(expected.strip())
    probs = layer_sweep(adapter, query_prompt(query), vec).probs()[:, tid].tolist()  # (L+1,)
    prompt = torch.softmax(first_token_logits(adapter, spec_with_query(demos, query)), -1)[tid].item()
    no_ctx = torch.softmax(first_token_logits(adapter, query_prompt(query)), -1)[tid].item()
    return SweepResult(task.id, spec, "your query", list(range(adapter.n_layers + 1)), probs, 1,
                       f"P({expected.strip()!r})", prompt, no_ctx)
