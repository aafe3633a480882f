"""Task vectors of a task in each way of giving it: the one extraction every descriptive view uses.

Summaries, clusters and similarity read vectors from ``task_vectors``: example sets drawn
from all of the task's items (text or image inputs), the instruction as its raw string.
A ``cache`` dict (per session or per command) keeps vectors across views and projections.
"""

from __future__ import annotations

from typing import Sequence

from taskvec.analysis.protocol import Inputs, can_show_images, spec_for
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
                seed: int = 0, cache: dict | None = None, inputs: Inputs | None = None) -> TaskVector:
    """The task vector of ``task`` given as ``modality`` (all items; cached under every setting it depends on)."""
    if modality not in MODALITIES:
        raise SpecError(f"Unknown modality {modality!r}; use one of {', '.join(MODALITIES)}.")
    key = (adapter.model_id, adapter.family, task.id, task.items, task.instruction, modality, n_examples, n_sets, seed)
    if cache is not None and key in cache:
        return cache[key]
    if not available(adapter, task, modality):
        raise SpecError(f"Task {task.id!r} cannot be given as {modality} on {adapter.model_id or adapter.family}"
                        + (" (no images for it, or a text-only model)." if modality == "image" else " (no instruction)."))
    vec = extract(adapter, spec_for(task, modality, task.items, inputs), n_examples, n_sets, seed)
    if cache is not None:
        cache[key] = vec
    return vec


def task_vectors(adapter: Adapter, task: TaskData, modalities: Sequence[str] = MODALITIES, n_examples: int = 5,
                 n_sets: int = 10, seed: int = 0, cache: dict | None = None) -> dict[str, TaskVector]:
    """{modality: TaskVector} for every requested modality the task and model allow."""
    inputs = Inputs(task)
    return {m: task_vector(adapter, task, m, n_examples, n_sets, seed, cache, inputs)
            for m in modalities if available(adapter, task, m)}
