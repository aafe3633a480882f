"""The paper's protocol in one place: case rule, metric, splits, demonstrations, scoring a query.

Every number taskvec shows about patch accuracy comes from ``score_split``: the eval's units,
the app's layer sweep and the organism's self-check. The rules:

- **Metric**: greedy first token vs the label; correct if one is a prefix of the other after
  stripping (``core.metrics.first_token_match``).
- **Case rule**: case-insensitive for instruction and ensemble specifications (the paper's
  instruction experiments), case-sensitive for examples. ``correct`` applies it everywhere.
- **Splits**: a task's own val/test split (paper tasks: 30/100; user data without a split
  column: a stable hash split, ``data.tasks.default_split``). Queries of one split get their
  task vector and their Prompt demonstrations from the *other* split, so a query is never
  among its own examples.
- **Demonstrations** for the Prompt baseline: N drawn per query with
  ``random.Random(f"prompt-{seed}-{split}-{index}")`` from the other split.
- **Task vector**: ``core.vectors.extract`` over ``n_sets`` example sets of the other split.

These are the rules of the ``TASKVEC`` preset (the default). ``PAPER`` follows the authors'
code instead (``analysis.paper``: the last demonstration's ':', every validation item as a set,
a validation vector for both splits, Prompt demonstrations from the query's own split, seeds
from 1, fixed per-model layers); ``PAPER_FIG6`` adds Fig. 6's N and its case rule.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, replace
from typing import Sequence

import torch

from taskvec.analysis.compare import spec_with_query
from taskvec.core.activations import residuals
from taskvec.core.metrics import first_token_match
from taskvec.core.patching import first_token_logits
from taskvec.core.prompts import query_prompt
from taskvec.core.specs import Ensemble, ImageExamples, Instruction, TextExamples, majority_answer
from taskvec.core.sweep import layer_sweep
from taskvec.core.vectors import cosine, extract
from taskvec.data.images import DOMAINS
from taskvec.data.tasks import TaskData, TaskItem
from taskvec.errors import SpecError, TaskvecDataError
from taskvec.models.base import Adapter

from taskvec.analysis import paper as _paper
from taskvec.analysis.tables import SPEC_NAMES  # noqa: E402  (plain data; tables imports no torch)
SPECS = tuple(SPEC_NAMES)
QUERIES = ("text", "image")
SPLITS = ("val", "test")


@dataclass(frozen=True)
class Protocol:
    """A preset of the rules around the mechanics (recorded in every unit and result).

    ``read``: where an example set's vector is read -- ``"query"`` (the query's ':' after the
    demonstrations) or ``"last_demo"`` (the ':' of the last demonstration's ``A:``, official).
    ``sets``: ``"sampled"`` (``n_sets`` seeded sets) or ``"all_val"`` (one per validation item).
    ``vector_split``: ``"other"`` (the split the queries are not in) or ``"val"`` (always val).
    ``demos``: Prompt demonstrations from the ``"other"`` split or the query's ``"same"`` split.
    ``layer``: ``"val_per_seed"`` (best mean val accuracy over tasks, per seed) or ``"official"``
    (the model's fixed layer, else best val accuracy over tasks and seeds: one layer).
    ``case_insensitive_specs``: specifications scored case-insensitively. ``n_rule``: N is
    ``"one_prompt"`` (N demonstrations per set) or ``"fig6"`` (mean of N/5 five-shot vectors).
    ``first_seed``: the first seed. ``quantization``: hub models' loading (``"nf4"``: 4-bit NF4,
    double quantisation, fp16 compute); ``pin_revisions``: the official configs' revisions.
    """

    name: str = "taskvec"
    read: str = "query"
    sets: str = "sampled"
    vector_split: str = "other"
    demos: str = "other"
    layer: str = "val_per_seed"
    case_insensitive_specs: tuple = ("instruction", "ensemble")
    n_rule: str = "one_prompt"
    first_seed: int = 0
    quantization: str | None = None
    pin_revisions: bool = False

    def __post_init__(self) -> None:
        official = (self.read, self.sets, self.vector_split, self.demos) == ("last_demo", "all_val", "val", "same")
        if not official and (self.read, self.sets, self.vector_split, self.demos) != ("query", "sampled", "other", "other"):
            raise SpecError(f"Protocol {self.name!r}: read/sets/vector_split/demos must be all taskvec's "
                            "(query, sampled, other, other) or all the official code's (last_demo, all_val, val, same).")
        if self.n_rule == "fig6" and not official:
            raise SpecError(f"Protocol {self.name!r}: Fig. 6's N rule needs the official sets (read='last_demo').")

    @property
    def official(self) -> bool:
        return self.read == "last_demo"

    def as_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}


TASKVEC = Protocol()
PAPER = Protocol("paper", read="last_demo", sets="all_val", vector_split="val", demos="same", layer="official",
                 first_seed=1, quantization="nf4", pin_revisions=True)
PAPER_FIG6 = replace(PAPER, name="paper-fig6", n_rule="fig6", case_insensitive_specs=SPECS)
PROTOCOLS = {p.name: p for p in (TASKVEC, PAPER, PAPER_FIG6)}


def get_protocol(name: str | Protocol) -> Protocol:
    if isinstance(name, Protocol):
        return name
    if name not in PROTOCOLS:
        raise SpecError(f"Unknown protocol {name!r}; use one of {', '.join(PROTOCOLS)}.")
    return PROTOCOLS[name]


def case_insensitive(spec: str, protocol: Protocol = TASKVEC) -> bool:
    """The one case rule: instruction and ensemble specifications are scored case-insensitively
    (``PAPER_FIG6``: every specification, as the official Fig. 6 runs)."""
    return spec in protocol.case_insensitive_specs


def correct(prediction: str, label: str, spec: str, protocol: Protocol = TASKVEC) -> bool:
    """The paper's metric under the case rule of ``spec`` (text, image, instruction, ensemble)."""
    return first_token_match(prediction, label, case_insensitive=case_insensitive(spec, protocol))


def other(split: str) -> str:
    return "test" if split == "val" else "val"


def limited(task: TaskData, limit_val=None, limit_test=None) -> tuple[list, list]:
    """The task's val and test items, each optionally cut to its first N."""
    val, test = task.split("val"), task.split("test")
    return (val[:limit_val] if limit_val else val), (test[:limit_test] if limit_test else test)


def demonstrations(pairs: Sequence, n: int, seed: int, split: str, index: int) -> list:
    """The Prompt baseline's N demonstrations for query ``index`` of ``split`` (seeded per query)."""
    return random.Random(f"prompt-{seed}-{split}-{index}").sample(list(pairs), min(n, len(pairs)))


def can_show_images(task: TaskData) -> bool:
    """Image queries/examples need image files or a domain the project draws (countries, animals, foods)."""
    return task.has_images or task.domain in DOMAINS


class Inputs:
    """Text or image inputs of a task's items (each image drawn once per ``Inputs``)."""

    def __init__(self, task: TaskData):
        self.task, self._images = task, {}

    def __call__(self, item: TaskItem, modality: str):
        if modality == "text":
            return item.input
        if not can_show_images(self.task):
            raise TaskvecDataError(f"Task {self.task.id!r} has no images and domain {self.task.domain!r} has no "
                                   "drawings; use text queries and text examples, or give image files in its data.")
        if item.input not in self._images:
            self._images[item.input] = self.task.image(item)
        return self._images[item.input]


def make_spec(kind: str, pairs, instruction: str = ""):
    """A specification of ``kind`` (text, image, instruction, ensemble = instruction + text examples)."""
    if kind == "text":
        return TextExamples(tuple(pairs))
    if kind == "image":
        return ImageExamples(tuple(pairs))
    if kind == "instruction":
        return Instruction(instruction)
    if kind == "ensemble":
        return Ensemble((TextExamples(tuple(pairs)), Instruction(instruction)), (1.0, 1.0))
    raise SpecError(f"Unknown specification {kind!r}; use one of {', '.join(SPECS)}.")


def pairs_of(inputs: Inputs, items: Sequence[TaskItem], kind: str) -> list:
    """(input, answer) pairs of ``items``, the input as an image for image specifications."""
    return [(inputs(it, "image" if kind == "image" else "text"), it.answer) for it in items]


def spec_for(task: TaskData, kind: str, items: Sequence[TaskItem], inputs: Inputs | None = None,
             instruction: str | None = None):
    """The specification of ``task`` built from ``items`` (an instruction ignores them)."""
    if kind in ("instruction", "ensemble") and not (instruction or task.instruction).strip():
        raise SpecError(f"Task {task.id!r} has no instruction; use text or image examples, or add one to its data.")
    return make_spec(kind, pairs_of(inputs or Inputs(task), items, kind), instruction or task.instruction)


def score_query(adapter: Adapter, query, answer: str, spec: str, demo_spec, vectors: torch.Tensor,
                source_vectors: torch.Tensor | None = None, additive_vectors: torch.Tensor | None = None,
                protocol: Protocol = TASKVEC) -> dict:
    """One query under every method: No Context, Prompt (``demo_spec`` + query), Random, Patch per layer.

    ``vectors``: (L+1, D), patched at each residual layer (one batched sweep). Returns the
    predictions (decoded greedy first tokens) and their correctness under ``spec``'s case rule.
    """
    qp = query_prompt(query)

    def ok(p: str, y: str, s: str) -> bool:
        return correct(p, y, s, protocol)

    def pred(logits: torch.Tensor) -> str:
        return adapter.decode_token(int(logits.argmax()))

    def sweep(vec: torch.Tensor, mode: str = "replace") -> list[str]:
        return [adapter.decode_token(int(t)) for t in layer_sweep(adapter, qp, vec, mode=mode).logits.argmax(-1)]

    no_ctx = pred(first_token_logits(adapter, qp))
    prompt = pred(first_token_logits(adapter, spec_with_query(demo_spec, query)))
    rand = majority_answer(demo_spec) if spec in ("text", "image") else None
    patch = sweep(vectors)  # (L+1,) predictions
    row = {"no_context": no_ctx, "no_context_ok": ok(no_ctx, answer, spec), "prompt": prompt,
           "prompt_ok": ok(prompt, answer, spec), "random": rand,
           "random_ok": bool(rand) and ok(rand, answer, spec),
           "patch": patch, "patch_ok": [ok(p, answer, spec) for p in patch]}
    if source_vectors is not None:
        src = sweep(source_vectors)
        row.update(source_patch=src, source_patch_ok=[ok(p, answer, spec) for p in src])
    if additive_vectors is not None:
        add = sweep(additive_vectors, "add")
        row.update(additive_patch=add, additive_patch_ok=[ok(p, answer, spec) for p in add])
    return row


def score_split(adapter: Adapter, task: TaskData, spec: str, query: str, split: str, *, n_examples: int = 5,
                n_sets: int = 10, seed: int = 0, limit_val: int | None = None, limit_test: int | None = None,
                instruction: str | None = None, inputs: Inputs | None = None, source: Adapter | None = None,
                additive: bool = False, progress=None, protocol: Protocol = TASKVEC) -> dict:
    """Score every query of ``split`` (vectors and demonstrations from the other split; under an
    official ``protocol``, ``analysis.paper``'s rules: validation vectors, own-split demonstrations).

    Returns ``{"items": [row per query], "vector_norm": (L+1,), "cosine"?: (L+1,)}`` with each
    row as ``score_query`` plus ``input`` and ``answer``: the eval's unit format.
    """
    inputs = inputs or Inputs(task)
    if "image" in (spec, query) and not can_show_images(task):
        inputs(task.items[0], "image")  # raises the data error before any model work
    val, test = limited(task, limit_val, limit_test)
    queries, pool = (val, test) if split == "val" else (test, val)
    if protocol.vector_split == "val":
        pool = val
    instruction = task.instruction if instruction is None else instruction
    pairs = pairs_of(inputs, pool, spec)
    if protocol.official:
        tv = _paper.task_vector(adapter, spec, pairs, n_examples, seed, instruction, protocol.n_rule == "fig6")[0]
    else:
        tv = extract(adapter, make_spec(spec, pairs, instruction), n_examples, n_sets, seed).vectors  # (L+1, D)
    out = {"items": [], "vector_norm": tv.norm(dim=-1).tolist()}
    add_vec = None
    if additive:  # task vector minus the mean no-context residual of the *other* split's queries
        base = residuals(adapter, [query_prompt(inputs(it, query)) for it in pool]).at_delimiter.mean(0)
        add_vec = tv - base.to(tv.device, tv.dtype)  # (L+1, D)
    src_tv = None
    if source is not None:
        if protocol.official:
            src_tv = _paper.task_vector(source, spec, pairs, n_examples, seed, instruction, protocol.n_rule == "fig6")[0]
        else:
            src_tv = extract(source, make_spec(spec, pairs, instruction), n_examples, n_sets, seed).vectors  # (L+1, D)
        out["cosine"] = cosine(src_tv, tv).tolist()  # (L+1,)
    if protocol.official:  # the official "regular" run: demonstrations from the query's own split
        own = _paper_demos(inputs, queries, spec, n_examples, seed, protocol)
    for i, item in enumerate(queries):
        if protocol.official:
            demo_spec = make_spec("text" if spec == "ensemble" else spec, own[i], instruction)
        else:
            demo_spec = make_spec(spec, demonstrations(pairs, n_examples, seed, split, i), instruction)
        row = score_query(adapter, inputs(item, query), item.answer, spec, demo_spec, tv, src_tv, add_vec, protocol)
        out["items"].append({"input": item.input, "answer": item.answer, **row})
        if progress is not None:
            progress()
    return out


def _paper_demos(inputs: Inputs, queries: Sequence[TaskItem], spec: str, n_examples: int, seed: int,
                 protocol: Protocol) -> list[list]:
    """Per query, the official Prompt demonstrations: from the query's own split, never itself."""
    kind = "image" if spec == "image" else "text"
    own = pairs_of(inputs, queries, kind)
    n = _paper.FIG6_SET_SIZE if protocol.n_rule == "fig6" else n_examples
    return [[own[j] for j in idx] for idx in _paper.demo_indices(len(queries), n, seed)]


def layer_accuracy(items: Sequence[dict], key: str = "patch_ok") -> list[float]:
    """Per-layer accuracy over scored items (rows of ``score_split``)."""
    n_layers = len(items[0][key])
    return [sum(bool(it[key][l]) for it in items) / len(items) for l in range(n_layers)]


def accuracy(items: Sequence[dict], key: str) -> float:
    return sum(bool(it[key]) for it in items) / len(items) if items else float("nan")
