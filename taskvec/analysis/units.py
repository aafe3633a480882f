"""The model work of ``python -m taskvec eval``: one (task, seed, spec, query) unit at a time.

A unit scores every validation and test query of one task with No Context, Prompt,
Random and Patch-at-every-layer (``taskvec.patching.layer_sweep``, one batched call per
query), and with ``additive`` also the Additive Patch at every layer: the residual at the
query's delimiter *plus* (task vector - the mean no-context residual of the other split's
queries), which keeps the query's own deviation from the mean instead of overwriting it.
Vectors and Prompt demonstrations for queries of one split are drawn from the *other*
split, so a query never appears among its own examples. The result is a plain
dict (JSON-ready) of per-item predictions and correctness; ``taskvec.eval_tables``
aggregates units into tables.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from taskvec.core.activations import residuals
from taskvec.data.tasks import TaskData, load_jsonl, load_task, load_task_folder
from taskvec.errors import SpecError, TaskvecDataError
from taskvec.core.metrics import first_token_match
from taskvec.models.base import Adapter
from taskvec.core.patching import first_token_logits
from taskvec.core.sweep import layer_sweep
from taskvec.core.prompts import query_prompt
from taskvec.core.specs import Ensemble, ImageExamples, Instruction, TextExamples, majority_answer
from taskvec.analysis.compare import spec_with_query
from taskvec.core.vectors import cosine, extract

SPEC_NAMES = {"text": "Text Examples", "image": "Image Examples", "instruction": "Instruction", "ensemble": "Ensemble"}
SPECS = tuple(SPEC_NAMES)
QUERIES = ("text", "image")


@dataclass(frozen=True)
class Unit:
    """One piece of resumable work: its file name encodes every field."""

    task: str
    spec: str
    query: str
    n_examples: int
    typos: int
    seed: int
    additive: bool = False

    @property
    def group(self) -> str:
        """The table this unit belongs to (all tasks and seeds of one setting)."""
        return (f"{self.spec}-to-{self.query}_n{self.n_examples}" + (f"_typos{self.typos}" if self.typos else "")
                + ("_additive" if self.additive else ""))

    @property
    def key(self) -> str:
        return f"{self.group}__{_safe(self.task)}__seed{self.seed}"


def _safe(s: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in s)


def resolve_task(name: str) -> TaskData:
    """A paper task id, a JSONL file (``.jsonl``) or a folder of images + answers."""
    p = Path(name)
    if name.endswith(".jsonl") or p.is_file():
        return load_jsonl(p, domain="custom")
    if p.is_dir():
        return load_task_folder(p, domain="custom")
    if "/" in name:
        raise TaskvecDataError(f"{name} does not exist; give a paper task id, a .jsonl file or a task folder.")
    return load_task(name)


def check_task(task: TaskData, spec: str, query: str, n_examples: int, limit_val, limit_test) -> None:
    """Everything about the data that can fail, checked before any model is loaded."""
    val, test = limited(task, limit_val, limit_test)
    for split, items in (("val", val), ("test", test)):
        if len(items) < 2:
            raise TaskvecDataError(f"Task {task.id!r} has {len(items)} {split} item(s); the evaluation needs at "
                                   "least 2 per split (vectors for one split come from the other).")
    if spec in ("instruction", "ensemble") and not task.instruction.strip():
        raise SpecError(f"Task {task.id!r} has no instruction; use --spec text or image, or add one to its data.")
    needs_images = query == "image" or spec == "image"
    if needs_images and not task.has_images and task.domain not in ("country", "animal", "food"):
        raise TaskvecDataError(f"Task {task.id!r} has no images and domain {task.domain!r} has no drawings; "
                               "use --query text --spec text, or give image files in its data.")
    if needs_images and task.has_images and any(it.image is None for it in task.items):
        missing = next(it.input for it in task.items if it.image is None)
        raise TaskvecDataError(f"Task {task.id!r}: item {missing!r} has no image but others do; give every item "
                               "an image for --query image / --spec image, or use text.")
    if n_examples < 1:
        raise SpecError(f"--n-examples must be >= 1, got {n_examples}.")


def limited(task: TaskData, limit_val, limit_test):
    val, test = task.split("val"), task.split("test")
    return (val[:limit_val] if limit_val else val), (test[:limit_test] if limit_test else test)


def add_typos(text: str, k: int, seed: int) -> str:
    """``k`` seeded character typos (swap, drop, double, substitute) on letters; the final ':' stays."""
    rng = random.Random(f"typos-{seed}-{text}")
    chars = list(text)
    for _ in range(k):
        letters = [i for i, c in enumerate(chars) if c.isalpha()]
        if not letters:
            break
        i = rng.choice(letters)
        op = rng.choice(("swap", "drop", "double", "sub"))
        if op == "swap" and i + 1 < len(chars) and chars[i + 1].isalpha():
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
        elif op == "drop":
            del chars[i]
        elif op == "double":
            chars.insert(i, chars[i])
        else:
            chars[i] = rng.choice([c for c in "abcdefghijklmnopqrstuvwxyz" if c != chars[i].lower()])
    return "".join(chars)


class Inputs:
    """Text or image inputs of a task's items (images drawn once per run)."""

    def __init__(self, task: TaskData):
        self.task, self._images = task, {}

    def __call__(self, item, modality: str):
        if modality == "text":
            return item.input
        if item.input not in self._images:
            self._images[item.input] = self.task.image(item)
        return self._images[item.input]


def build_spec(kind: str, pairs, instruction: str):
    if kind == "text":
        return TextExamples(tuple(pairs))
    if kind == "image":
        return ImageExamples(tuple(pairs))
    if kind == "instruction":
        return Instruction(instruction)
    return Ensemble((TextExamples(tuple(pairs)), Instruction(instruction)), (1.0, 1.0))


def _pairs(inputs: Inputs, items, kind: str):
    return [(inputs(it, "image" if kind == "image" else "text"), it.answer) for it in items]


def run_unit(adapter: Adapter, task: TaskData, unit: Unit, n_sets: int, limit_val, limit_test,
             source: Adapter | None = None, inputs: Inputs | None = None, progress=None) -> dict:
    """Score every val and test query of ``task`` for ``unit``: a JSON-ready dict."""
    torch.manual_seed(unit.seed)
    inputs = inputs or Inputs(task)
    val, test = limited(task, limit_val, limit_test)
    instruction = add_typos(task.instruction, unit.typos, unit.seed) if unit.typos else task.instruction
    ci = unit.spec in ("instruction", "ensemble")
    out = {"unit": asdict(unit), "instruction": instruction, "case_insensitive": ci, "splits": {}}
    for split, queries, pool in (("val", val, test), ("test", test, val)):
        pairs = _pairs(inputs, pool, unit.spec)
        spec = build_spec(unit.spec, pairs, instruction)
        tv = extract(adapter, spec, unit.n_examples, n_sets, unit.seed).vectors  # (L+1, D)
        res = {"items": [], "vector_norm": tv.norm(dim=-1).tolist()}
        add_vec = None
        if unit.additive:  # task vector minus the mean no-context residual of the *other* split's queries
            base = residuals(adapter, [query_prompt(inputs(it, unit.query)) for it in pool]).at_delimiter.mean(0)
            add_vec = tv - base.to(tv.device, tv.dtype)  # (L+1, D)
        src_tv = None
        if source is not None:
            src_tv = extract(source, spec, unit.n_examples, n_sets, unit.seed).vectors  # (L+1, D)
            res["cosine"] = cosine(src_tv, tv).tolist()  # (L+1,)
        for i, item in enumerate(queries):
            res["items"].append(_score_query(adapter, item, i, split, unit, pairs, instruction, inputs, tv, src_tv, ci,
                                             add_vec))
            if progress is not None:
                progress()
        out["splits"][split] = res
    return out


def _score_query(adapter, item, i, split, unit, pairs, instruction, inputs, tv, src_tv, ci, add_vec=None) -> dict:
    q = inputs(item, unit.query)
    qp = query_prompt(q)
    rng = random.Random(f"prompt-{unit.seed}-{split}-{i}")
    demos = rng.sample(pairs, min(unit.n_examples, len(pairs)))
    demo_spec = build_spec(unit.spec, demos, instruction)

    def pred(logits: torch.Tensor) -> str:
        return adapter.decode_token(int(logits.argmax()))

    def ok(p: str) -> bool:
        return first_token_match(p, item.answer, case_insensitive=ci)

    no_ctx = pred(first_token_logits(adapter, qp))
    prompt = pred(first_token_logits(adapter, spec_with_query(demo_spec, q)))
    rand = majority_answer(demo_spec) if unit.spec in ("text", "image") else None
    patch = [adapter.decode_token(int(t)) for t in layer_sweep(adapter, qp, tv).logits.argmax(-1)]  # (L+1,)
    row = {"input": item.input, "answer": item.answer,
           "no_context": no_ctx, "no_context_ok": ok(no_ctx), "prompt": prompt, "prompt_ok": ok(prompt),
           "random": rand, "random_ok": bool(rand) and first_token_match(rand, item.answer, ci),
           "patch": patch, "patch_ok": [ok(p) for p in patch]}
    if src_tv is not None:
        src = [adapter.decode_token(int(t)) for t in layer_sweep(adapter, qp, src_tv).logits.argmax(-1)]
        row.update(source_patch=src, source_patch_ok=[ok(p) for p in src])
    if add_vec is not None:
        add = [adapter.decode_token(int(t)) for t in layer_sweep(adapter, qp, add_vec, mode="add").logits.argmax(-1)]
        row.update(additive_patch=add, additive_patch_ok=[ok(p) for p in add])
    return row
