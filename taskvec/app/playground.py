"""The patch playground: one query answered with No Context, Prompt, Patch (and Ensemble patch).

``run_playground`` is what the app's Run button calls; it uses only the core API
(``compare``, ``extract``, ``generate``) and returns a ``PlayResult`` with plain data,
figures and export rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from taskvec.analysis.compare import compare, spec_with_query, suggested_layer
from taskvec.analysis.protocol import correct as protocol_correct
from taskvec.errors import LayerError, SpecError, VectorShapeError
from taskvec.core.patching import Generation, generate
from taskvec.core.prompts import instruction_prompt, query_prompt
from taskvec.core.specs import Instruction, describe, majority_answer
from taskvec.core.vectors import TaskVector, extract
from taskvec.app import inputs


@dataclass
class PlayRequest:
    """The playground's fields, as the UI holds them."""

    kind: str = "text examples"
    examples: str = ""
    image_files: list = field(default_factory=list)
    image_answers: str = ""
    instruction: str = ""
    query_text: str = ""
    query_image: object = None
    layer: int | None = None
    override: bool = False
    ensemble: bool = False
    weights: tuple = (1.0, 1.0, 1.0)
    n_sets: int = 10
    seed: int = 0
    max_new_tokens: int = 8
    expected: str = ""

    def vector_key(self, *models: str) -> tuple:
        """What the extracted vector depends on (not the query, layer or ensemble weights)."""
        files = tuple(str(inputs._path(f)) for f in self.image_files or [])
        return (models, self.kind, self.examples, files, self.image_answers, self.instruction, self.n_sets, self.seed)


SPEC_OF_KIND = {"text examples": "text", "image examples": "image", "instruction": "instruction"}


@dataclass
class Column:
    """One method's answer; ``spec``: the specification kind whose case rule scores it."""

    title: str
    note: str
    gen: Generation | None
    text: str = ""
    spec: str = ""

    @property
    def answer(self) -> str:
        return self.gen.text if self.gen is not None else self.text


@dataclass
class PlayResult:
    columns: list[Column]
    layer: int
    model: str
    query: str
    spec: str
    vector: TaskVector | None
    random: str | None = None
    notes: list[str] = field(default_factory=list)
    expected: str = ""
    spec_kind: str = "text"  # text, image, instruction (task overriding), ensemble: the case rule

    def correct(self, col: Column) -> bool | None:
        """The paper's metric: greedy first token vs the expected answer (None if no answer given)."""
        if not self.expected.strip() or col.gen is None:
            return None
        return protocol_correct(col.gen.top.tokens[0], self.expected, col.spec or self.spec_kind)

    def bar_correct(self, col: Column) -> list[bool] | None:
        """Which of a column's top-k first tokens would be correct (the same rule as the verdict)."""
        if not self.expected.strip() or col.gen is None:
            return None
        return [protocol_correct(t, self.expected, col.spec or self.spec_kind) for t in col.gen.top.tokens]

    def as_dict(self) -> dict:
        return {"model": self.model, "layer": self.layer, "query": self.query, "spec": self.spec,
                "random_baseline": self.random, "notes": self.notes,
                "expected": self.expected or None,
                "methods": {c.title: {"note": c.note, "answer": c.answer, "correct": self.correct(c),
                                      **({"first_token_top": c.gen.top.as_dict()} if c.gen else {})}
                            for c in self.columns}}

    def rows(self) -> list[dict]:
        out = []
        for c in self.columns:
            top = c.gen.top if c.gen else None
            out.append({"method": c.title, "answer": c.answer, "correct": self.correct(c), "layer": self.layer,
                        "query": self.query, "expected": self.expected,
                        "model": self.model, "top_tokens": "|".join(top.tokens) if top else "",
                        "top_probs": "|".join(f"{p:.5f}" for p in top.probs) if top else ""})
        return out


def check_layer(layer, n_layers: int) -> int:
    """A residual layer index 0..L chosen in the UI."""
    layer = int(layer)
    if not 0 <= layer <= n_layers:
        raise LayerError(f"Layer {layer} is out of range: this model has residual layers 0..{n_layers}.")
    return layer


def _progress(progress, desc: str):
    if progress is None:
        return None
    return lambda i, n: progress((i, n), desc=desc)


def check_transfer(adapter, vector: TaskVector, what: str) -> TaskVector:
    """A vector from a file or another model must match this model's width and depth."""
    if vector.hidden_size != adapter.hidden_size:
        raise VectorShapeError(f"The {what} has hidden size {vector.hidden_size} but {adapter.model_id} has "
                               f"{adapter.hidden_size}; vectors transfer only between models of the same width "
                               "(a base LLM and the VLM built on it).")
    if vector.n_layers != adapter.n_layers:
        raise VectorShapeError(f"The {what} has {vector.n_layers} layers but {adapter.model_id} has "
                               f"{adapter.n_layers}; patch it into a model of the same depth.")
    return vector


def _spec_or_none(req: PlayRequest, required: bool):
    try:
        return inputs.build_spec(req.kind, req.examples, req.image_files, req.image_answers, req.instruction)
    except SpecError:
        if required:
            raise
        return None


def run_playground(adapter, req: PlayRequest, source=None, uploaded: TaskVector | None = None,
                   progress=None, cache: dict | None = None) -> PlayResult:
    """Answer the query every way; ``source``: the model the vectors are extracted from.

    ``cache``: a session's dict; the last extracted vector is kept there, so moving the
    layer slider or changing the query does not extract again.
    """
    source = source or adapter
    query = inputs.query(req.query_text, req.query_image)
    layer = suggested_layer(adapter) if req.layer is None else check_layer(int(req.layer), adapter.n_layers)
    qdesc = query if isinstance(query, str) else f"<image {query.width}x{query.height}>"
    if req.override:
        return _run_override(adapter, req, source, uploaded, query, qdesc, layer, progress)
    spec = _spec_or_none(req, required=uploaded is None)
    vector = check_transfer(adapter, uploaded, "uploaded vector") if uploaded is not None else None
    notes = inputs.image_notes(query, spec)  # what was converted: 16-bit, transparency, animation
    if not isinstance(query, str) and (req.query_text or "").strip():
        notes.append(f"An image query was uploaded, so the text query {req.query_text.strip()!r} was not used.")
    key = req.vector_key(adapter.model_id, source.model_id)
    if vector is None and cache is not None and cache.get("key") == key:
        vector = cache["vector"]
        notes.append("Reused this session's task vector (same task, model and sampling).")
    elif vector is None and source is not adapter:
        vector = check_transfer(adapter, extract(source, spec, n_sets=req.n_sets, seed=req.seed,
                                                 progress=_progress(progress, "Extracting on the source model")),
                                f"vector from {source.model_id}")
        notes.append(f"Task vector extracted on {source.model_id}, patched into {adapter.model_id}.")
    if uploaded is not None:
        notes.append(f"Patched the uploaded vector ({uploaded.meta.get('spec', 'no description')}).")
    if spec is not None:
        cmp = compare(adapter, spec, query, layer, n_sets=req.n_sets, seed=req.seed, vector=vector,
                      max_new_tokens=req.max_new_tokens, progress=_progress(progress, "Extracting the task vector"))
        cols = [Column("No Context", "the query alone", cmp.no_context),
                Column("Prompt", f"{spec.modality} + query in one context", cmp.prompt),
                Column("Patch", f"query alone, vector patched at layer {layer}", cmp.patch)]
        vector, rnd = cmp.vector, cmp.random
        if cache is not None and uploaded is None:
            cache.clear()
            cache.update(key=key, vector=vector)
    else:
        qp = query_prompt(query)
        cols = [Column("No Context", "the query alone", generate(adapter, qp, max_new_tokens=req.max_new_tokens)),
                Column("Prompt", "no specification given", None, "—"),
                Column("Patch", f"query alone, uploaded vector at layer {layer}",
                       generate(adapter, qp, vector.vectors, layer, max_new_tokens=req.max_new_tokens))]
        rnd = None
    if req.ensemble:
        cols.append(_ensemble_column(adapter, req, source, query, layer, progress))
    return PlayResult(cols, layer, adapter.model_id, qdesc, describe(spec) if spec else vector.meta.get("spec", ""),
                      vector, rnd, notes, req.expected or "", SPEC_OF_KIND.get(req.kind, "text"))


def _ensemble_column(adapter, req: PlayRequest, source, query, layer: int, progress) -> Column:
    ens = inputs.build_ensemble(req.weights, req.examples, req.image_files, req.image_answers, req.instruction)
    vec = check_transfer(adapter, extract(source, ens, n_sets=req.n_sets, seed=req.seed), "ensemble vector")
    gen = generate(adapter, query_prompt(query), vec.vectors, layer, max_new_tokens=req.max_new_tokens)
    parts = " + ".join(f"{w:g}×{p.modality}" for p, w in zip(ens.parts, ens.weights))
    return Column("Ensemble patch", f"weighted mean of {parts}, layer {layer}", gen, spec="ensemble")


def _run_override(adapter, req, source, uploaded, query, qdesc, layer, progress) -> PlayResult:
    """Task overriding: the instruction says one task, the patched vector another (paper Sec. 5)."""
    instr = Instruction(req.instruction or "")
    if uploaded is not None:
        vector, conflict = check_transfer(adapter, uploaded, "uploaded vector"), uploaded.meta.get("spec", "uploaded")
    else:
        if req.kind == "instruction":
            raise SpecError("Task overriding patches the examples' task over the instruction's: choose text "
                            "or image examples for the conflicting task, and type the instruction.")
        spec = inputs.build_spec(req.kind, req.examples, req.image_files, req.image_answers)
        vector = check_transfer(adapter, extract(source, spec, n_sets=req.n_sets, seed=req.seed,
                                                 progress=_progress(progress, "Extracting the conflicting vector")),
                                "conflicting vector")
        conflict = describe(spec)
    prompt = instruction_prompt(instr.text, query)
    n = req.max_new_tokens
    cols = [Column("No Context", "the query alone", generate(adapter, query_prompt(query), max_new_tokens=n)),
            Column("Prompt", "instruction + query", generate(adapter, prompt, max_new_tokens=n)),
            Column("Patch", f"instruction + query, conflicting vector at layer {layer}",
                   generate(adapter, prompt, vector.vectors, layer, max_new_tokens=n))]
    return PlayResult(cols, layer, adapter.model_id, qdesc, f"override: {describe(instr)} vs {conflict}", vector,
                      notes=["Task overriding: does the patched task win over the instruction in the prompt?"],
                      expected=req.expected or "", spec_kind="instruction")


def column_markdown(col: Column | None, res: PlayResult | None = None) -> str:
    if col is None:
        return ""
    ans = col.answer.replace("`", "'") if col.answer else "∅ (empty)"
    ok = res.correct(col) if res is not None else None
    verdict = "" if ok is None else (" ✓ correct" if ok else f" ✗ wrong (expected `{res.expected.strip()}`)")
    return f"### {col.title}\n<small>{col.note}</small>\n\n**Answer:** `{ans}`{verdict}"


def column_figure(col: Column | None, res: PlayResult | None = None):
    """Top-k first-token bars of one column; with ``res``, on the probability scale shared by all its columns
    and with the tokens that match the expected answer highlighted."""
    from taskvec.plot import topk_bar

    if col is None or col.gen is None:
        return None
    top, correct, x_max = col.gen.top, None, None
    if res is not None:
        correct = res.bar_correct(col)
        x_max = 1.15 * max((float(p) for c in res.columns if c.gen is not None for p in c.gen.top.probs), default=0.0)
    return topk_bar(top.tokens, top.probs, f"{col.title}: top-{len(top.tokens)}", correct=correct,
                    x_max=x_max)


def summary_markdown(res: PlayResult) -> str:
    spec = res.spec[:300].replace("<", "&lt;").replace("\n", " ")
    lines = [f"Model `{res.model}` · patch layer **{res.layer}** · query: `{res.query}` · task: {spec}"]
    if res.random is not None:
        lines.append(f"Random baseline (majority answer among the examples): `{res.random}`")
    return "\n\n".join(lines + res.notes)
