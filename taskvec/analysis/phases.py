"""Logit-lens phases at the delimiter (paper Fig. 12, 13): input -> task -> answer across layers.

Per task, ``n_sets`` example sets drawn from all its items (a query is never among its own
demonstrations); at each set's delimiter the lens's relative probability of three tokens:
the input token (one fixed token for every set, as the paper's ``auf``: the delimiter ':' by
default; ``{query}`` = each set's own query word), the task word and the set's answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
    R = residuals(adapter, prompts, progress=progress).at_delimiter  # (K, L+1, D)
    word = (task_word or task.task_token or "task").strip()
    answers = [s.answer for s in sets]
    ids = role_token_ids(adapter, [items[s.query].input for s in sets], word, answers, input_token)  # (K, 3)
    return PhaseResult(task.id, modality, phase_curve(adapter, R, ids), top_k(adapter, R[0], k),
                       top1_distribution(adapter, R, top=R.shape[0]), text_of(prompts[0]), input_token or DELIMITER_INPUT, word,
                       answers)
