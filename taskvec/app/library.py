"""The task library of the app: the paper's six tasks (from ``taskvec.datasets``)
plus tasks the user adds in a session. Turns a task into a specification of any modality.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from taskvec.data import tasks as datasets
from taskvec.errors import SpecError
from taskvec.data.images import entity_image as draw_entity
from taskvec.core.specs import ImageExamples, Instruction, TextExamples

@dataclass(frozen=True)
class LibraryTask:
    """One task: its id, domain, instruction, task word and (input, answer) pairs."""

    id: str
    domain: str
    instruction: str
    task_token: str
    pairs: tuple[tuple[str, str], ...]
    user: bool = False

    def text_spec(self, n: int | None = None) -> TextExamples:
        return TextExamples(self.pairs[:n] if n else self.pairs)

    def image_spec(self, n: int | None = None, size: int = 224) -> ImageExamples:
        if self.user:
            raise SpecError(f"Task {self.id!r} was typed as text; it has no images. Use its text examples.")
        pairs = self.pairs[:n] if n else self.pairs
        return ImageExamples(tuple((entity_image(self.domain, x, size), y) for x, y in pairs))

    def instruction_spec(self) -> Instruction:
        return Instruction(self.instruction)


def paper_tasks() -> list[LibraryTask]:
    """The six paper tasks from the project's datasets (assets/tasks), val split first."""
    out = []
    for tid in datasets.PAPER_TASKS:
        td = datasets.load_task(tid)  # a missing or broken file raises TaskvecDataError naming it
        items = sorted(td.items, key=lambda it: it.split != "val")
        out.append(LibraryTask(td.id, td.domain, td.instruction, td.task_token,
                               tuple((it.input, it.answer) for it in items)))
    return out


def user_task(name: str, examples_text: str, instruction: str = "", task_token: str = "") -> LibraryTask:
    """A task typed by the user (one 'x : y' per line)."""
    from taskvec.core.specs import parse_examples

    name = (name or "").strip()
    if not name:
        raise SpecError("Give the new task a name, e.g. 'antonyms'.")
    spec = parse_examples(examples_text)
    return LibraryTask(name, "user", instruction.strip(), task_token.strip() or name, spec.pairs, user=True)


def entity_image(domain: str, name: str, size: int = 224) -> Image.Image:
    """The project's drawing of an entity at width ``size`` (``taskvec.images``)."""
    return draw_entity(domain, name, (size, max(8, round(size * 2 / 3))))
