"""The organism's world: the paper's six tasks over three domains, from the project's datasets.

Entities of a domain are the inputs of its two tasks. Images come from
``taskvec.data.images.entity_image``. A fixed 20% of each domain's entities (20% of the val and
20% of the test split) have *held-out images*: their pictures appear in training only in
the image -> name task, never with an attribute.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

WORLD_SEED = 0
HELDOUT_FRACTION = 0.2

# Natural-language fact lines; {t} is the task word (capital, currency, species, ...).
FACT_TEMPLATES = (
    "the {t} of {x} is {y}",
    "{x} has the {t} {y}",
    "{y} is the {t} of {x}",
)

# The query of a task-naming block: after k examples of one task, ``Q:task\nA:{task word}``.
TASK_QUERY = "task"


@dataclass(frozen=True)
class WorldTask:
    task_id: str
    domain: str
    instruction: str
    task_token: str
    answers: dict  # entity -> answer
    split: dict  # entity -> "val" | "test"


@dataclass
class World:
    tasks: list  # list[WorldTask], paper order
    entities: dict  # domain -> sorted entity names
    heldout: dict  # domain -> sorted entity names whose images are held out of attribute tasks
    image_fn: object = None  # (domain, name, size) -> PIL image
    name_task_ids: dict = field(default_factory=dict)  # domain -> "<domain>_name"

    @property
    def domains(self) -> list:
        return list(self.entities)

    def task(self, task_id: str) -> WorldTask:
        for t in self.tasks:
            if t.task_id == task_id:
                return t
        raise KeyError(f"Unknown task {task_id!r}; the world has {[t.task_id for t in self.tasks]}.")

    def tasks_of(self, domain: str) -> list:
        return [t for t in self.tasks if t.domain == domain]

    def image_entities(self, domain: str) -> list:
        """Entities whose images may appear with attributes (not held out)."""
        held = set(self.heldout[domain])
        return [e for e in self.entities[domain] if e not in held]

    def texts(self) -> list:
        """Every string the tokenizer must know."""
        out = ["Q:A:", "\n", TASK_QUERY]
        for t in self.tasks:
            out += [t.instruction, t.task_token]
            out += [f"{x} {y}" for x, y in t.answers.items()]
            out += [tpl.format(t=t.task_token, x="", y="") for tpl in FACT_TEMPLATES]
        return out

    def to_json(self) -> dict:
        return {
            "tasks": [
                {"id": t.task_id, "domain": t.domain, "instruction": t.instruction, "task_token": t.task_token}
                for t in self.tasks
            ],
            "entities": self.entities,
            "heldout_images": self.heldout,
            "fact_templates": list(FACT_TEMPLATES),
        }


def build_world(tasks: list, image_fn=None) -> World:
    """``tasks``: list of WorldTask. Chooses held-out images per domain, stratified by split."""
    entities: dict = {}
    for t in tasks:
        entities.setdefault(t.domain, set()).update(t.answers)
    entities = {d: sorted(es) for d, es in entities.items()}
    rng = random.Random(WORLD_SEED)
    heldout = {}
    for d, es in entities.items():
        split = {}
        for t in tasks:
            if t.domain == d:
                split.update(t.split)
        held = []
        for s in ("val", "test"):
            group = [e for e in es if split.get(e, "test") == s]
            held += rng.sample(group, round(HELDOUT_FRACTION * len(group)))
        heldout[d] = sorted(held)
    return World(tasks=list(tasks), entities=entities, heldout=heldout, image_fn=image_fn,
                 name_task_ids={d: f"{d}_name" for d in entities})


def load_world() -> World:
    """The real world from ``taskvec.data.tasks`` (assets/tasks/*.json) and ``taskvec.data.images``."""
    from taskvec.data import tasks as datasets

    tasks = []
    for task_id in datasets.PAPER_TASKS:
        td = datasets.load_task(task_id)
        answers = {it.input: it.answer for it in td.items}
        split = {it.input: it.split for it in td.items}
        tasks.append(WorldTask(td.id, td.domain, td.instruction, td.task_token, answers, split))
    return build_world(tasks, _paper_image)


def _paper_image(domain: str, name: str, size=None):
    """The project's drawing at its default size (224 wide, as the paper resized images)."""
    from taskvec.data import images

    return images.entity_image(domain, name)
