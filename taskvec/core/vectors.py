"""Task vectors: extraction from any specification, ensembles, save and load.

The task vector of a specification at layer l is the residual stream at the delimiter
``:`` of the last ``A:`` (the answer the model must give next), averaged over K example
sets that never contain their own query (paper Sec. 3.2; Hendel et al. 2023).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

if TYPE_CHECKING:  # the adapter interface lives in taskvec.models (which builds on core)
    from taskvec.models.base import Adapter

from taskvec.core.activations import residuals
from taskvec.errors import VectorShapeError
from taskvec.core.prompts import PAPER_TEMPLATE, Template, text_of
from taskvec.core.specs import Ensemble, Spec, describe, spec_prompts


@dataclass
class TaskVector:
    """Per-layer task vectors of one specification.

    ``vectors``: (L+1, D) the mean over example sets; ``per_set``: (K, L+1, D), one row
    per extraction prompt; ``meta``: model, spec description, modality, sampling.
    """

    vectors: torch.Tensor
    per_set: torch.Tensor
    meta: dict = field(default_factory=dict)
    prompts: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.vectors.dim() != 2:
            raise VectorShapeError(f"Task vectors are (L+1, D); got {tuple(self.vectors.shape)}.")
        if self.per_set.dim() != 3 or self.per_set.shape[1:] != self.vectors.shape:
            raise VectorShapeError(f"per_set must be (K, L+1, D) matching {tuple(self.vectors.shape)}; "
                                   f"got {tuple(self.per_set.shape)}.")

    @property
    def n_layers(self) -> int:
        return self.vectors.shape[0] - 1

    @property
    def hidden_size(self) -> int:
        return self.vectors.shape[1]

    def at(self, layer: int) -> torch.Tensor:
        return self.vectors[layer]  # (D,)

    def save(self, path: str | Path, layer: int | None = None) -> Path:
        """Write safetensors with the metadata; ``layer`` records the suggested patch layer."""
        meta = {k: json.dumps(v) for k, v in {**self.meta, "layer": layer, "prompts": self.prompts[:50]}.items()}
        path = Path(path)
        save_file({"vectors": self.vectors.contiguous(), "per_set": self.per_set.contiguous()}, str(path), metadata=meta)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "TaskVector":
        """A task vector from a .safetensors file: one written by ``save``, or any file holding a
        ``vectors`` tensor (L+1, D) (``per_set`` optional; metadata optional, plain strings such as
        the standard ``{"format": "pt"}`` kept as they are). Non-finite values are refused."""
        from safetensors import safe_open

        name = Path(path).name
        try:
            tensors = load_file(str(path))
            with safe_open(str(path), "pt") as f:
                raw = f.metadata() or {}
        except Exception as e:  # safetensors raises several types on a bad file
            raise VectorShapeError(f"{name}: not a taskvec .safetensors file (unreadable: {type(e).__name__}). "
                                   "Upload a task vector exported by taskvec.") from None
        if "vectors" not in tensors:
            keys = ", ".join(sorted(tensors)[:5]) or "none"
            raise VectorShapeError(f"{name}: no 'vectors' tensor (found: {keys}); expected a file written by "
                                   "TaskVector.save, with 'vectors' of shape (layers + 1, hidden size).")
        meta = {}
        for k, v in raw.items():
            try:
                meta[k] = json.loads(v)
            except ValueError:
                meta[k] = v  # e.g. the standard {"format": "pt"}: a plain string, not JSON
        prompts = meta.pop("prompts", [])
        prompts = [str(p) for p in prompts] if isinstance(prompts, list) else []
        vectors = tensors["vectors"]
        if not vectors.is_floating_point():
            raise VectorShapeError(f"{name}: 'vectors' holds {vectors.dtype} values; a task vector is floating point.")
        vectors = vectors.float()
        # a file without per_set: one "set", a copy (save refuses tensors that share memory)
        per_set = tensors["per_set"].float() if "per_set" in tensors else vectors[None].clone()
        for key, t in (("vectors", vectors), ("per_set", per_set)):
            if not bool(torch.isfinite(t).all()):
                bad = int((~torch.isfinite(t)).sum())
                raise VectorShapeError(f"{name}: '{key}' holds {bad} non-finite value(s) (NaN or infinity); a task "
                                       "vector must be finite. Export it again from taskvec.")
        return cls(vectors, per_set, meta, prompts)

def extract(adapter: Adapter, spec: Spec, n_examples: int = 5, n_sets: int = 10, seed: int = 0,
            queries=None, template: Template = PAPER_TEMPLATE, batch_size: int = 8, progress=None) -> TaskVector:
    """The task vector of ``spec`` at every layer (an ensemble: weighted mean of its parts)."""
    if isinstance(spec, Ensemble):
        parts = [extract(adapter, p, n_examples, n_sets, seed, queries, template, batch_size) for p in spec.parts]
        w = torch.tensor(spec.weights, dtype=torch.float32)
        w = w / w.sum()
        vec = sum(wi * p.vectors for wi, p in zip(w, parts))
        per_set = torch.cat([p.per_set for p in parts])
        prompts = [s for p in parts for s in p.prompts]
    else:
        prompts_ = spec_prompts(spec, n_examples, n_sets, seed, template, queries)
        res = residuals(adapter, prompts_, batch_size=batch_size, progress=progress)
        per_set = res.at_delimiter  # (K, L+1, D)
        vec = per_set.mean(0)
        prompts = [text_of(p) for p in prompts_]
    meta = {"model": adapter.model_id, "revision": adapter.revision, "family": adapter.family,
            "spec": describe(spec), "modality": spec.modality, "n_examples": n_examples,
            "n_sets": n_sets, "seed": seed}
    prov = adapter.provenance() if hasattr(adapter, "provenance") else {}
    if prov:  # real weights from a GGUF: package, file, sha256, quantization
        meta["provenance"] = {k: prov[k] for k in ("source", "package", "version", "file", "sha256", "quantization",
                                                   "architecture", "label") if k in prov}
    return TaskVector(vec, per_set, meta, prompts)


def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosine similarity along the last dim: (..., D) x (..., D) -> (...)."""
    return torch.nn.functional.cosine_similarity(a.float(), b.float(), dim=-1)
