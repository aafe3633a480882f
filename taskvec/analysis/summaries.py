"""Task summaries (paper Tables 6/13): the top-k logit-lens tokens of each task vector at a layer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from taskvec.analysis.vectors import MODALITIES, task_vectors
from taskvec.core.lens import LayerTopK, top_k
from taskvec.data.tasks import TaskData
from taskvec.errors import SpecError
from taskvec.models.base import Adapter


@dataclass
class SummaryResult:
    """``topk[task][modality]``: lens decodings of that task vector at every layer (``LayerTopK``);
    ``layer``: the layer the table shows."""

    layer: int
    k: int
    topk: dict[str, dict[str, LayerTopK]]

    def table(self, layer: int | None = None) -> dict[str, dict[str, list[tuple[str, float]]]]:
        """{task: {modality: [(token, probability), ...]}} at ``layer`` (default: the result's)."""
        l = self.layer if layer is None else layer
        return {t: {m: list(zip(tk.tokens[l], tk.probs[l])) for m, tk in row.items()} for t, row in self.topk.items()}

    def rows(self) -> list[dict]:
        return [{"task": t, "modality": m, "layer": self.layer, "rank": r + 1, "token": tok, "probability": p}
                for t, row in self.table().items() for m, toks in row.items() for r, (tok, p) in enumerate(toks)]


def summaries(adapter: Adapter, tasks: Sequence[TaskData], layer: int, modalities: Sequence[str] = MODALITIES,
              k: int = 5, n_examples: int = 5, n_sets: int = 10, seed: int = 0, cache: dict | None = None,
              progress=None, protocol="taskvec") -> SummaryResult:
    """Decode each task's vector (every available modality) through the lens at every layer
    (vectors as ``analysis.vectors.task_vectors`` reads them under ``protocol``)."""
    if not tasks:
        raise SpecError("Pick at least one task.")
    if not 0 <= layer <= adapter.n_layers:
        raise SpecError(f"Layer {layer} is out of range: this model has residual layers 0..{adapter.n_layers}.")
    out = {}
    for i, task in enumerate(tasks):
        if progress is not None:
            progress(i, len(tasks))
        vecs = task_vectors(adapter, task, modalities, n_examples, n_sets, seed, cache, protocol)
        out[task.id] = {m: top_k(adapter, v.vectors, k) for m, v in vecs.items()}  # per layer (L+1, k)
    return SummaryResult(layer, k, out)
