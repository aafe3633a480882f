"""Logit-lens phases at the delimiter (paper Fig. 12, 13): input -> task -> answer across layers.

Per task, ``n_sets`` example sets drawn from all its items (a query is never among its own
demonstrations); at each set's delimiter the lens's relative probability of three tokens:
the input token (one fixed token for every set, as the paper's ``auf``: the delimiter ':' by
default; ``{query}`` = each set's own query word), the task word and the set's answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from taskvec.analysis.protocol import Inputs
from taskvec.core.activations import residuals
from taskvec.core.lens import (DELIMITER_INPUT, LayerTopK, PhaseCurve, phase_curve, role_token_ids,
                               top1_distribution, top_k)
from taskvec.core.prompts import icl_prompt, text_of
from taskvec.core.specs import example_sets
from taskvec.data.tasks import TaskData
from taskvec.errors import SpecError, UnsupportedInputError
from taskvec.models.base import Adapter

ROLE_LETTERS = {"input": "I", "task": "T", "answer": "A"}
BATCH = 8  # prompts per forward pass (``residuals``' batch size; image batches may be smaller)


@dataclass
class PhaseResult:
    """Phase curve (``curve.mean``/``curve.std`` (L+1, 3)), the first set's top-k lens tokens per layer,
    the top-1 token shares over sets per layer, the first set's prompt, and the role words used."""

    task: str
    modality: str
    curve: PhaseCurve
    topk: LayerTopK
    top1: list
    prompt: str
    input_token: str
    task_word: str
    answers: list[str] = field(default_factory=list)

    def leading(self) -> list[str]:
        """The role with the highest mean relative probability at each layer."""
        return self.curve.dominant()

    def leading_letters(self) -> str:
        return " ".join(ROLE_LETTERS[r] for r in self.leading())

    def rows(self) -> list[dict]:
        m, s = self.curve.mean.numpy(), self.curve.std.numpy()
        return [{"task": self.task, "modality": self.modality, "layer": l,
                 **{f"{lab}_mean": float(m[l, i]) for i, lab in enumerate(self.curve.labels)},
                 **{f"{lab}_std": float(s[l, i]) for i, lab in enumerate(self.curve.labels)},
                 "leading": self.leading()[l], "top_tokens_first_set": "|".join(self.topk.tokens[l]),
                 "top1_shares": "|".join(f"{t}:{p:.2f}" for t, p in self.top1[l])} for l in range(m.shape[0])]


def phases(adapter: Adapter, task: TaskData, modality: str = "text", n_sets: int = 30, n_examples: int = 5,
           seed: int = 0, input_token: str = DELIMITER_INPUT, task_word: str | None = None, k: int = 5,
           inputs: Inputs | None = None, progress=None) -> PhaseResult:
    """The phase curve of ``task`` with ``modality`` ("text" or "image") examples."""
    *_, (_, _, res) = phase_steps(adapter, task, modality, n_sets, n_examples, seed, input_token, task_word, k,
                                  inputs, progress, every=None)
    return res


def phase_steps(adapter: Adapter, task: TaskData, modality: str = "text", n_sets: int = 30, n_examples: int = 5,
                seed: int = 0, input_token: str = DELIMITER_INPUT, task_word: str | None = None, k: int = 5,
                inputs: Inputs | None = None, progress=None, every: int | None = 8):
    """``phases`` computed in steps: yields ``(done, K, PhaseResult over the first done sets)`` after about every
    ``every`` example sets (rounded up to whole forward batches), the last one over all K sets and equal to
    ``phases(...)`` (same batches, same numbers). ``every=None``: one step, all sets in one pass (``phases``)."""
    if modality not in ("text", "image"):
        raise SpecError("Phase curves read example prompts: choose text or image examples.")
    if modality == "image" and not adapter.supports_images:
        raise UnsupportedInputError(f"{adapter.model_id or adapter.family} is text-only; use text examples.")
    if len(task.items) < 3:
        raise SpecError(f"Task {task.id!r} has {len(task.items)} items; phase curves need at least 3.")
    inputs = inputs or Inputs(task)
    items = list(task.items)
    # sample by item index, then lay out text or images; the query is never among its demos
    sets = example_sets([(i, it.answer) for i, it in enumerate(items)], n_examples, n_sets, seed)
    prompts = [icl_prompt([(inputs(items[i], modality), y) for i, y in s.demos], inputs(items[s.query], modality))
               for s in sets]
    word = (task_word or task.task_token or "task").strip()
    answers = [s.answer for s in sets]
    ids = role_token_ids(adapter, [items[s.query].input for s in sets], word, answers, input_token)  # (K, 3)
    K, step = len(prompts), _step(adapter, len(prompts), every)
    parts = []
    for start in range(0, K, step):
        done = min(start + step, K)
        shift = None if progress is None else (lambda i, n, s=start: progress(s + i, K))
        parts.append(residuals(adapter, prompts[start:done], batch_size=BATCH, progress=shift).at_delimiter)  # (k, L+1, D)
        R = parts[0] if len(parts) == 1 else torch.cat(parts)  # (done, L+1, D)
        yield done, K, PhaseResult(task.id, modality, phase_curve(adapter, R, ids[:done]), top_k(adapter, R[0], k),
                                   top1_distribution(adapter, R, top=R.shape[0]), text_of(prompts[0]),
                                   input_token or DELIMITER_INPUT, word, answers[:done])


def _step(adapter: Adapter, K: int, every: int | None) -> int:
    """Sets per step: ``every`` rounded up to a multiple of every batch size ``residuals`` may use (8, or the
    adapter's image batch size), so the steps' batches are the one-pass batches and the numbers are identical."""
    if every is None or every >= K:
        return max(K, 1)
    unit = math.lcm(BATCH, adapter.image_batch_size or BATCH)
    return max(unit, -(-int(every) // unit) * unit)
