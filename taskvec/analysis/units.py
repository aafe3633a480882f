"""The model work of ``python -m taskvec eval``: one (task, seed, spec, query) unit at a time.

A unit scores every validation and test query of one task with the protocol's
``score_split`` (No Context, Prompt, Random, Patch at every layer; with ``additive`` also
the Additive Patch: the residual at the query's delimiter *plus* (task vector - the mean
no-context residual of the other split's queries), which keeps the query's own deviation
from the mean instead of overwriting it). The result is a plain dict (JSON-ready) of
per-item predictions and correctness; ``taskvec.analysis.tables`` aggregates units.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from taskvec.analysis import paper
from taskvec.analysis.protocol import (QUERIES, SPEC_NAMES, SPECS, SPLITS, Inputs, can_show_images, case_insensitive,
                                       get_protocol, limited, score_split)
from taskvec.data.tasks import TaskData, load_jsonl, load_task, load_task_folder
from taskvec.errors import LayerError, SpecError, TaskvecDataError
from taskvec.models.base import Adapter

__all__ = ["QUERIES", "SPEC_NAMES", "SPECS", "Inputs", "Unit", "add_typos", "check_task", "limited", "resolve_task",
           "run_unit"]


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
    protocol: str = "taskvec"  # a name of ``protocol.PROTOCOLS``

    @property
    def group(self) -> str:
        """The table this unit belongs to (all tasks and seeds of one setting)."""
        return (f"{self.spec}-to-{self.query}_n{self.n_examples}" + (f"_typos{self.typos}" if self.typos else "")
                + ("_additive" if self.additive else "") + ("" if self.protocol == "taskvec" else f"_{self.protocol}"))

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
    if needs_images and not can_show_images(task):
        raise TaskvecDataError(f"Task {task.id!r} has no images and domain {task.domain!r} has no drawings; "
                               "use --query text --spec text, or give image files in its data.")
    if needs_images and task.has_images and any(it.image is None for it in task.items):
        missing = next(it.input for it in task.items if it.image is None)
        raise TaskvecDataError(f"Task {task.id!r}: item {missing!r} has no image but others do; give every item "
                               "an image for --query image / --spec image, or use text.")
    if n_examples < 1:
        raise SpecError(f"--n-examples must be >= 1, got {n_examples}.")


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


def run_unit(adapter: Adapter, task: TaskData, unit: Unit, n_sets: int, limit_val, limit_test,
             source: Adapter | None = None, inputs: Inputs | None = None, progress=None) -> dict:
    """Score every val and test query of ``task`` for ``unit`` (``protocol.score_split``): a JSON-ready dict."""
    torch.manual_seed(unit.seed)
    inputs = inputs or Inputs(task)
    instruction = add_typos(task.instruction, unit.typos, unit.seed) if unit.typos else task.instruction
    protocol = get_protocol(unit.protocol)
    out = {"unit": asdict(unit), "instruction": instruction, "case_insensitive": case_insensitive(unit.spec, protocol),
           "protocol": protocol.as_dict(), "splits": {}}
    if protocol.layer == "official":  # the fixed layer of the official config, in both numberings
        fixed = paper.fixed_layer(adapter.model_id)
        if fixed is not None and fixed > adapter.n_layers:
            raise LayerError(f"{adapter.model_id}: the official layer L={paper.to_official(fixed)} (taskvec {fixed}) "
                             f"needs {fixed} decoder layers but this model has {adapter.n_layers}; load the "
                             "checkpoint the official configs name, or use --protocol taskvec.")
        out["fixed_layer"] = None if fixed is None else {"taskvec": fixed, "official": paper.to_official(fixed)}
    for split in SPLITS:
        out["splits"][split] = score_split(adapter, task, unit.spec, unit.query, split, n_examples=unit.n_examples,
                                           n_sets=n_sets, seed=unit.seed, limit_val=limit_val, limit_test=limit_test,
                                           instruction=instruction, inputs=inputs, source=source,
                                           additive=unit.additive, progress=progress, protocol=protocol)
    return out
