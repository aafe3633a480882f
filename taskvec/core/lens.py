"""Logit lens: final norm + unembedding applied to cached residuals.

``top_k`` decodes each layer; ``phase_curve`` is the paper's continuous visualization
(Fig. 12): per layer, the softmax over the logits of three tokens (input, task, answer),
mean and spread over runs; ``top1_distribution`` is its discrete one (Fig. 13).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:  # the adapter interface lives in taskvec.models (which builds on core)
    from taskvec.models.base import Adapter


@dataclass
class LayerTopK:
    """Top-k lens decodings per layer: ``tokens[l][i]``, ``probs[l][i]`` for layers 0..L."""

    tokens: list[list[str]]
    probs: list[list[float]]
    ids: list[list[int]]


def top_k(adapter: Adapter, residual: torch.Tensor, k: int = 5) -> LayerTopK:
    """Decode a (L+1, D) residual stack (one position) at every layer."""
    p = torch.softmax(adapter.lens(residual), -1)  # (L+1, V)
    vals, idx = p.topk(min(k, p.shape[-1]), dim=-1)
    tokens = [[adapter.decode_token(int(i)) for i in row] for row in idx]
    return LayerTopK(tokens, vals.tolist(), idx.tolist())


@dataclass
class PhaseCurve:
    """Relative probability of (input, task, answer) tokens per layer.

    ``per_run``: (R, L+1, 3); ``mean`` and ``std``: (L+1, 3); ``labels``: the 3 roles;
    ``tokens``: the decoded token of each role (first run, for display).
    """

    per_run: torch.Tensor
    labels: tuple[str, str, str] = ("input", "task", "answer")
    tokens: tuple[str, ...] = ()

    @property
    def mean(self) -> torch.Tensor:
        return self.per_run.mean(0)

    @property
    def std(self) -> torch.Tensor:
        return self.per_run.std(0, unbiased=False)

    def peak_layers(self) -> dict[str, int]:
        """The layer where each role's mean relative probability peaks."""
        return {lab: int(self.mean[:, i].argmax()) for i, lab in enumerate(self.labels)}

    def dominant(self) -> list[str]:
        """The role with the highest mean relative probability at each layer."""
        return [self.labels[int(i)] for i in self.mean.argmax(-1)]


DELIMITER_INPUT = ":"  # the default input token: the delimiter itself
QUERY_INPUT = "{query}"  # each run's own query word instead of one fixed token


def role_token_ids(adapter: Adapter, queries, task_word: str, answers, input_token: str = DELIMITER_INPUT) -> torch.Tensor:
    """(R, 3) ids of (input, task, answer) per run. As in the paper (``auf`` for Idefics2) the input is
    one fixed token for every run, the delimiter by default; ``QUERY_INPUT`` uses each run's query word."""
    inp = (input_token or "").strip() or DELIMITER_INPUT

    def input_id(q) -> int:
        if inp == DELIMITER_INPUT:  # the delimiter as it stands in the prompt, ending "\nA:"
            return adapter.delimiter_token_id()
        return adapter.token_id(q if inp == QUERY_INPUT else inp)

    return torch.tensor([[input_id(q), adapter.token_id(task_word), adapter.token_id(a)]
                         for q, a in zip(queries, answers)])


def phase_curve(adapter: Adapter, residuals: torch.Tensor, token_ids: torch.Tensor) -> PhaseCurve:
    """``residuals`` (R, L+1, D) at the delimiter of R runs; ``token_ids`` (R, 3) or (3,)."""
    R = residuals.shape[0]
    ids = torch.as_tensor(token_ids, dtype=torch.long)
    ids = ids.expand(R, 3) if ids.dim() == 1 else ids
    logits = adapter.lens(residuals)  # (R, L+1, V)
    chosen = logits.gather(-1, ids[:, None, :].expand(R, logits.shape[1], 3).to(logits.device))  # (R, L+1, 3)
    rel = torch.softmax(chosen, -1).cpu()
    return PhaseCurve(rel, tokens=tuple(adapter.decode_token(int(i)) for i in ids[0]))


def top1_distribution(adapter: Adapter, residuals: torch.Tensor, top: int = 5) -> list[list[tuple[str, float]]]:
    """Per layer, the most frequent top-1 lens tokens over runs and their shares (Fig. 13)."""
    top1 = adapter.lens(residuals).argmax(-1)  # (R, L+1)
    out = []
    for layer in range(top1.shape[1]):
        counts = Counter(adapter.decode_token(int(i)) for i in top1[:, layer])
        out.append([(t, c / top1.shape[0]) for t, c in counts.most_common(top)])
    return out
