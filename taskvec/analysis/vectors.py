"""Task vectors of a task in each way of giving it: the one extraction every descriptive view uses.

Summaries, clusters and similarity read vectors from ``task_vectors``: example sets drawn
from all of the task's items (text or image inputs), the instruction as its raw string.
Under an official ``protocol`` (``--protocol paper``) they follow the official code instead:
one set per validation item, read at the last demonstration's ':' (``analysis.paper``).
A ``cache`` dict (per session or per command) keeps vectors across views and projections.
"""

from __future__ import annotations

from typing import Sequence

from taskvec.analysis import paper
from taskvec.analysis.protocol import TASKVEC, Inputs, Protocol, can_show_images, get_protocol, limited, pairs_of, spec_for
from taskvec.core.vectors import TaskVector, extract
from taskvec.data.tasks import TaskData
from taskvec.errors import SpecError
from taskvec.models.base import Adapter

MODALITIES = ("text", "image", "instruction")


def available(adapter: Adapter, task: TaskData, modality: str) -> bool:
    """Whether ``task`` can be given as ``modality`` on this model."""
    if modality == "image":
        return adapter.supports_images and can_show_images(task)
    if modality == "instruction":
        return bool(task.instruction.strip())
    return modality == "text"


def task_vector(adapter: Adapter, task: TaskData, modality: str, n_examples: int = 5, n_sets: int = 10,
                seed: int = 0, cache: dict | None = None, inputs: Inputs | None = None,
                protocol: str | Protocol = TASKVEC) -> TaskVector:
    """The task vector of ``task`` given as ``modality`` (cached under every setting it depends on).

    taskvec's protocol: ``n_sets`` seeded sets of ``n_examples`` drawn from all items, read at the
    query's ':'. An official protocol: one set per validation item (``n_sets`` unused), read at the
    last demonstration's ':'; an instruction read at its last token.
    """
    protocol = get_protocol(protocol)
    if modality not in MODALITIES:
        raise SpecError(f"Unknown modality {modality!r}; use one of {', '.join(MODALITIES)}.")
    key = (adapter.model_id, adapter.family, task.id, task.items, task.instruction, modality, n_examples, n_sets, seed,
           protocol.name)
    if cache is not None and key in cache:
        return cache[key]
    if not available(adapter, task, modality):
        raise SpecError(f"Task {task.id!r} cannot be given as {modality} on {adapter.model_id or adapter.family}"
                        + (" (no images for it, or a text-only model)." if modality == "image" else " (no instruction)."))
    if protocol.official:
        vec = _official(adapter, task, modality, n_examples, seed, inputs or Inputs(task), protocol)
    else:
        vec = extract(adapter, spec_for(task, modality, task.items, inputs), n_examples, n_sets, seed)
    if cache is not None:
        cache[key] = vec
    return vec


def _official(adapter: Adapter, task: TaskData, modality: str, n_examples: int, seed: int, inputs: Inputs,
              protocol: Protocol) -> TaskVector:
    val, _ = limited(task)
    if modality != "instruction" and len(val) < 2:
        raise SpecError(f"Task {task.id!r} has {len(val)} validation item(s); --protocol paper reads one set per "
                        "validation item and needs at least 2 (give the task more items or a val split).")
    pairs = pairs_of(inputs, val, modality) if modality != "instruction" else []
    vec, per_set = paper.task_vector(adapter, modality, pairs, n_examples, seed, task.instruction)
    meta = {"model": adapter.model_id, "revision": adapter.revision, "family": adapter.family,
            "spec": f"{modality} ({task.id})", "modality": modality, "n_examples": n_examples,
            "n_sets": int(per_set.shape[0]), "seed": seed, "protocol": protocol.name,
            "sets": ("the raw instruction, read at its last token" if modality == "instruction" else
                     "one set per validation item, read at the last demonstration's ':'")}
    prompts = [it.input for it in val] if modality != "instruction" else [task.instruction]
    return TaskVector(vec.float().cpu(), per_set.float().cpu(), meta, prompts)


def task_vectors(adapter: Adapter, task: TaskData, modalities: Sequence[str] = MODALITIES, n_examples: int = 5,
                 n_sets: int = 10, seed: int = 0, cache: dict | None = None,
                 protocol: str | Protocol = TASKVEC) -> dict[str, TaskVector]:
    """{modality: TaskVector} for every requested modality the task and model allow."""
    inputs = Inputs(task)
    return {m: task_vector(adapter, task, m, n_examples, n_sets, seed, cache, inputs, protocol)
            for m in modalities if available(adapter, task, m)}
