"""Side by side: No Context | Prompt | Patch (| Random) for one specification and query.

The same function serves the CLI's ``run`` and the app's patch playground.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from taskvec.errors import SpecError
from taskvec.models.base import Adapter
from taskvec.core.patching import Generation, generate
from taskvec.core.prompts import PAPER_TEMPLATE, Input, Prompt, Template, icl_prompt, instruction_prompt, merge, query_prompt
from taskvec.core.specs import Ensemble, ImageExamples, Instruction, Spec, TextExamples, majority_answer
from taskvec.core.vectors import TaskVector, extract


def spec_with_query(spec: Spec, query: Input, template: Template = PAPER_TEMPLATE) -> Prompt:
    """The Prompt baseline: the whole specification and the query in one context."""
    if isinstance(spec, Instruction):
        return instruction_prompt(spec.text, query, template)
    if isinstance(spec, (TextExamples, ImageExamples)):
        return icl_prompt(spec.pairs, query, template)
    if isinstance(spec, Ensemble):
        instr = [p.text + "\n" for p in spec.parts if isinstance(p, Instruction)]
        pairs = [pair for p in spec.parts if isinstance(p, (TextExamples, ImageExamples)) for pair in p.pairs]
        return merge(instr + icl_prompt(pairs, query, template)) if pairs else instruction_prompt(instr[0].rstrip("\n"), query, template)
    raise SpecError(f"Unknown specification type {type(spec).__name__}.")


def suggested_layer(adapter: Adapter) -> int:
    """The model's validated best layer if it records one (the organism does), else the middle."""
    best = getattr(adapter.model.config, "taskvec_best_layer", None)
    return int(best) if best is not None else adapter.n_layers // 2


@dataclass
class Comparison:
    """Answers of one query under each method, with the task vector used."""

    no_context: Generation
    prompt: Generation
    patch: Generation
    random: str | None
    layer: int
    vector: TaskVector = field(repr=False)
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        d = {"layer": self.layer, "no_context": self.no_context.as_dict(), "prompt": self.prompt.as_dict(),
             "patch": self.patch.as_dict(), "random": self.random}
        d.update({k: v.as_dict() for k, v in self.extra.items()})
        return d


def compare(adapter: Adapter, spec: Spec, query: Input, layer: int | None = None, n_examples: int = 5,
            n_sets: int = 10, seed: int = 0, mode: str = "replace", scale: float = 1.0, max_new_tokens: int = 8,
            vector: TaskVector | None = None, template: Template = PAPER_TEMPLATE, progress=None) -> Comparison:
    """Run No Context, Prompt and Patch (and report Random) for ``query``.

    ``vector``: a ready task vector (e.g. from a base LLM or a saved file) instead of
    extracting one from ``spec`` on this model.
    """
    if isinstance(query, str) and not query.strip():
        raise SpecError("The query is empty: type a query such as 'Germany' or upload an image.")
    layer = suggested_layer(adapter) if layer is None else layer
    qp = query_prompt(query, template)
    adapter.check_prompt_images(qp)
    if vector is None:
        vector = extract(adapter, spec, n_examples, n_sets, seed, template=template, progress=progress)
    no_ctx = generate(adapter, qp, max_new_tokens=max_new_tokens)
    prm = generate(adapter, spec_with_query(spec, query, template), max_new_tokens=max_new_tokens)
    pat = generate(adapter, qp, vector.vectors.to(torch.float32), layer, mode, scale, max_new_tokens)
    return Comparison(no_ctx, prm, pat, majority_answer(spec), layer, vector)
