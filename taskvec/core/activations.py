"""One forward pass -> the residual stream at every layer for chosen positions.

``residuals`` batches prompts (right-padded, so every real token sees exactly what it
would see alone) and records layers 0..L at each row's delimiter (or given positions)
in one pass per batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

import torch

if TYPE_CHECKING:  # the adapter interface lives in taskvec.models (which builds on core)
    from taskvec.models.base import Adapter, Encoded

from taskvec.core.hooks import Capture, intervene
from taskvec.core.prompts import Prompt, has_image


@dataclass
class Residuals:
    """Residual stream at every layer for a batch of prompts.

    ``values``: (B, L+1, P, D) float32 on the CPU; ``positions``: (B, P) token indices;
    ``texts``: the rendered prompts. The lens of the last layer at a position equals the
    model's logits there (``adapter.lens``).
    """

    values: torch.Tensor
    positions: torch.Tensor
    texts: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        assert self.values.dim() == 4, f"values must be (B, L+1, P, D), got {tuple(self.values.shape)}"
        assert self.positions.shape == self.values.shape[:1] + self.values.shape[2:3], "positions (B, P)"

    @property
    def at_delimiter(self) -> torch.Tensor:
        """(B, L+1, D): the last captured position of each row."""
        return self.values[:, :, -1]


def run_captured(adapter: Adapter, enc: Encoded, positions: torch.Tensor, layers: Sequence[int] | None = None):
    """Forward ``enc`` once, capturing ``layers`` (default all) at ``positions`` (B, P)."""
    layers = list(range(adapter.n_layers + 1)) if layers is None else list(layers)
    cap = Capture(layers, positions)
    with torch.no_grad(), intervene(adapter.residual_sites, captures=[cap]):
        adapter.logits_at(adapter.full_inputs(enc), 1, use_cache=False)  # only the residuals are read
    return torch.stack([cap.store[l] for l in layers], dim=1).float().cpu()  # (B, L+1, P, D)


def residuals(adapter: Adapter, prompts: Sequence[Prompt], positions: Sequence[Sequence[int]] | None = None,
              batch_size: int = 8, progress=None) -> Residuals:
    """Residuals at every layer for ``prompts``: at each delimiter, or at ``positions`` (per prompt)."""
    chunks, pos_all, texts = [], [], []
    if adapter.image_batch_size and any(has_image(p) for p in prompts):
        batch_size = min(batch_size, adapter.image_batch_size)
    for start in range(0, len(prompts), batch_size):
        batch = prompts[start:start + batch_size]
        enc = adapter.encode(batch)
        if positions is None:
            pos = enc.delimiters[:, None]  # (B, 1)
        else:
            pos = torch.tensor([list(p) for p in positions[start:start + batch_size]], device=enc.input_ids.device)
        chunks.append(run_captured(adapter, enc, pos))
        pos_all.append(pos.cpu())
        texts += enc.texts
        if progress is not None:
            progress(min(start + batch_size, len(prompts)), len(prompts))
    return Residuals(torch.cat(chunks), torch.cat(pos_all), texts)


def context_embeddings(adapter: Adapter, prompt: Prompt, layer: int) -> list[torch.Tensor]:
    """Mean residual at ``layer`` over each example input's tokens (text or image), in order.

    The query at the end of the prompt is not an example and is left out.

    Image inputs: each run of image feature tokens. Text inputs: the tokens of the text
    segment that follows a ``Q:`` prefix, found through the tokenizer's offsets.
    """
    enc = adapter.encode([prompt])
    ids = enc.input_ids[0, : int(enc.lengths[0])].tolist()
    spans = adapter.image_runs(ids) if any(not isinstance(s, str) for s in prompt) else _text_input_spans(adapter, prompt)
    if spans and isinstance(prompt[-1], str) and prompt[-1].rstrip().endswith(":"):
        spans = spans[:-1]  # the last input is the query, not an example
    if not spans:
        return []
    flat = sorted({p for span in spans for p in span})
    vals = run_captured(adapter, enc, torch.tensor([flat], device=enc.input_ids.device), [layer])[0, 0]  # (P, D)
    index = {p: i for i, p in enumerate(flat)}
    return [vals[[index[p] for p in span]].mean(0) for span in spans]


def _text_input_spans(adapter: Adapter, prompt: Prompt) -> list[list[int]]:
    """Token positions of each example's input text (segments after 'Q:' up to '\\nA:')."""
    text = "".join(prompt)
    enc = adapter.tokenizer(text, return_offsets_mapping=True)
    offsets = enc["offset_mapping"]
    spans, i = [], 0
    while True:
        q = text.find("Q:", i)
        if q < 0:
            break
        a = text.find("\nA:", q)
        if a < 0:
            break
        lo, hi = q + 2, a
        spans.append([t for t, (s, e) in enumerate(offsets) if e > lo and s < hi and e > s])
        i = a
    return [s for s in spans if s]
