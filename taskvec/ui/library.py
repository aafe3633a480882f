"""The task library of the app: the paper's six tasks (from ``taskvec.datasets`` when present)
plus tasks the user adds in a session. Turns a task into a specification of any modality.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from PIL import Image, ImageDraw

from ..errors import SpecError
from ..specs import ImageExamples, Instruction, TextExamples

# Used only until the project's datasets (assets/tasks/*.json) are available.
_FALLBACK = {
    "country-capital": ("country", "The capital city of the country:", "capital", [
        ("France", "Paris"), ("Italy", "Rome"), ("Spain", "Madrid"), ("Germany", "Berlin"), ("Japan", "Tokyo"),
        ("Egypt", "Cairo"), ("Peru", "Lima"), ("Greece", "Athens"), ("Norway", "Oslo"), ("Kenya", "Nairobi")]),
    "country-currency": ("country", "The last word of the official currency of the country:", "currency", [
        ("France", "euro"), ("Japan", "yen"), ("India", "rupee"), ("Mexico", "peso"), ("Russia", "ruble"),
        ("China", "yuan"), ("Poland", "zloty"), ("Brazil", "real"), ("Kenya", "shilling"), ("Sweden", "krona")]),
    "animal-latin": ("animal", "The scientific name of the animal's species in latin:", "species", [
        ("dog", "Canis"), ("cat", "Felis"), ("lion", "Panthera"), ("horse", "Equus"), ("wolf", "Canis"),
        ("bear", "Ursus"), ("fox", "Vulpes"), ("sheep", "Ovis"), ("goat", "Capra"), ("pig", "Sus")]),
    "animal-young": ("animal", "The term for the baby of the animal:", "baby", [
        ("dog", "puppy"), ("cat", "kitten"), ("cow", "calf"), ("horse", "foal"), ("sheep", "lamb"),
        ("goat", "kid"), ("pig", "piglet"), ("bear", "cub"), ("duck", "duckling"), ("frog", "tadpole")]),
    "food-color": ("food", "The color of the food:", "color", [
        ("banana", "yellow"), ("tomato", "red"), ("lettuce", "green"), ("carrot", "orange"), ("grape", "purple"),
        ("lemon", "yellow"), ("cherry", "red"), ("spinach", "green"), ("milk", "white"), ("plum", "purple")]),
    "food-flavor": ("food", "The flavor descriptor of the food:", "flavor", [
        ("lemon", "sour"), ("sugar", "sweet"), ("honey", "sweet"), ("coffee", "bitter"), ("salt", "salty"),
        ("chili", "spicy"), ("lime", "sour"), ("cake", "sweet"), ("pretzel", "salty"), ("pepper", "spicy")]),
}
PAPER_TASK_IDS = tuple(_FALLBACK)


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
    """The six paper tasks: the project's datasets (val split first) or a small built-in fallback."""
    try:
        from .. import datasets
        ids = datasets.PAPER_TASKS
    except ImportError:
        datasets, ids = None, PAPER_TASK_IDS
    out = []
    for tid in ids:
        if datasets is not None:
            try:
                td = datasets.load_task(tid)
                items = sorted(td.items, key=lambda it: it.split != "val")
                out.append(LibraryTask(td.id, td.domain, td.instruction, td.task_token,
                                       tuple((it.input, it.answer) for it in items)))
                continue
            except Exception:  # dataset file missing or renamed: fall back
                pass
        if tid not in _FALLBACK:
            continue
        domain, instr, token, pairs = _FALLBACK[tid]
        out.append(LibraryTask(tid, domain, instr, token, tuple(pairs)))
    return out


def user_task(name: str, examples_text: str, instruction: str = "", task_token: str = "") -> LibraryTask:
    """A task typed by the user (one 'x : y' per line)."""
    from ..specs import parse_examples

    name = (name or "").strip()
    if not name:
        raise SpecError("Give the new task a name, e.g. 'antonyms'.")
    spec = parse_examples(examples_text)
    return LibraryTask(name, "user", instruction.strip(), task_token.strip() or name, spec.pairs, user=True)


def entity_image(domain: str, name: str, size: int = 224) -> Image.Image:
    """The project's drawing of an entity (``taskvec.images``), or a seeded placeholder until it lands."""
    try:
        from ..images import entity_image as draw
    except ImportError:
        draw = None
    if draw is not None:
        return draw(domain, name, (size, max(8, round(size * 2 / 3))))
    h = hashlib.sha256(f"{domain}/{name}".encode()).digest()
    im = Image.new("RGB", (size, size * 2 // 3), tuple(h[:3]))
    d = ImageDraw.Draw(im)
    for i in range(3):
        x0 = h[3 + i] % size
        d.rectangle([x0, 0, x0 + size // 6, size], fill=tuple(h[6 + 3 * i:9 + 3 * i]))
    return im
