"""Task datasets: the paper's six tasks (assets/tasks/*.json) and users' own data.

A task is a list of (input, answer) items split into "val" (layer selection) and "test"
(reporting). Paper tasks have 130 items, 30 val + 100 test, split by entity; the two tasks
of a domain share the split. ``assets/tasks/build_tasks.py`` writes the JSON files.

User data comes as a folder of images (``<task>/<input>.png`` + ``answers.tsv`` or
``answers.jsonl``) or as one JSONL file (``{"image": path, "input": ..., "answer": ...}``
per line). Every error names the file (and line) and says what to do.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from taskvec.errors import TaskvecDataError
from taskvec.data.resources import tasks_dir

PAPER_TASKS = ("country-capital", "country-currency", "animal-latin", "animal-young", "food-color", "food-flavor")
SPLITS = ("val", "test")
TASKS_DIR = tasks_dir()
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
VAL_FRACTION = 30 / 130  # the paper's val share, used when user data has no split column
_REQUIRED = {"id": str, "name": str, "domain": str, "instruction": str, "task_token": str, "items": list}


@dataclass(frozen=True)
class TaskItem:
    """One query: ``input`` text (an entity name), its ``answer``, its split; ``image`` is an
    optional image file (user data). Paper tasks draw images with ``taskvec.data.images``."""

    input: str
    answer: str
    split: str = "test"
    image: Path | None = None

    def __post_init__(self):
        for name in ("input", "answer"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise TaskvecDataError(f"TaskItem.{name} must be a non-empty string, got {value!r}.")
        if self.split not in SPLITS:
            raise TaskvecDataError(f"TaskItem.split must be one of {SPLITS}, got {self.split!r}.")
        if self.image is not None and not isinstance(self.image, Path):
            object.__setattr__(self, "image", Path(self.image))


@dataclass(frozen=True)
class TaskData:
    """A task: metadata plus a tuple of items (inputs unique)."""

    id: str
    name: str
    domain: str
    instruction: str
    task_token: str
    items: tuple

    def __post_init__(self):
        object.__setattr__(self, "items", tuple(self.items))
        if not self.items:
            raise TaskvecDataError(f"Task {self.id!r} has no items; give at least one (input, answer) pair.")
        if not all(isinstance(it, TaskItem) for it in self.items):
            raise TaskvecDataError(f"Task {self.id!r}: items must be TaskItem objects.")
        seen: set = set()
        for it in self.items:
            if it.input in seen:
                raise TaskvecDataError(f"Task {self.id!r}: input {it.input!r} appears twice; keep each input once.")
            seen.add(it.input)

    def split(self, name: str = "all") -> list:
        """Items of split ``name`` ("val", "test", or "all"), in file order."""
        if name == "all":
            return list(self.items)
        if name not in SPLITS:
            raise TaskvecDataError(f"Unknown split {name!r}; expected one of {SPLITS + ('all',)}.")
        return [it for it in self.items if it.split == name]

    def pairs(self, split: str = "all") -> list:
        """``[(input, answer), ...]`` of a split."""
        return [(it.input, it.answer) for it in self.split(split)]

    @property
    def has_images(self) -> bool:
        return any(it.image is not None for it in self.items)

    def image(self, item: TaskItem, width: int | None = 224):
        """The item's image as RGB, resized to ``width``: its file for user data, else the
        project's own drawing (``taskvec.data.images.entity_image``)."""
        from taskvec.data.imageio import load_image, resize_width

        if item.image is not None:
            return resize_width(load_image(item.image), width)
        from taskvec.data.images import entity_image

        image = entity_image(self.domain, item.input)
        return resize_width(image, width)


# ---------------------------------------------------------------- paper tasks


def list_tasks(root: str | Path | None = None) -> list:
    """Ids of the task files in ``root`` (default assets/tasks), paper tasks first."""
    root = Path(root) if root is not None else TASKS_DIR
    found = sorted(p.stem for p in root.glob("*.json")) if root.is_dir() else []
    return [t for t in PAPER_TASKS if t in found] + [t for t in found if t not in PAPER_TASKS]


def load_task(task_id: str, root: str | Path | None = None) -> TaskData:
    """Load and validate ``<root>/<task_id>.json`` (default root: assets/tasks)."""
    root = Path(root) if root is not None else TASKS_DIR
    path = root / f"{task_id}.json"
    if not isinstance(task_id, str) or not path.is_file():
        available = list_tasks(root)
        raise TaskvecDataError(
            f"Unknown task {task_id!r}: no file {path}. Available tasks: {', '.join(available) or 'none'}"
            + ("" if available else f" (is {root} the assets/tasks folder? run assets/tasks/build_tasks.py)")
            + ".")
    text = path.read_text(encoding="utf-8")
    if not text.strip():
        raise TaskvecDataError(f"{path} is empty; expected a JSON object with keys {sorted(_REQUIRED)}. "
                               "Regenerate it with assets/tasks/build_tasks.py.")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise TaskvecDataError(f"{path} is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg}); "
                               "fix the file or regenerate it with assets/tasks/build_tasks.py.") from None
    return _task_from_json(data, path, task_id)


def _task_from_json(data, path: Path, task_id: str) -> TaskData:
    if not isinstance(data, dict):
        raise TaskvecDataError(f"{path}: expected a JSON object at the top, got {type(data).__name__}.")
    for key, typ in _REQUIRED.items():
        if key not in data:
            raise TaskvecDataError(f"{path}: missing key {key!r}; expected keys {sorted(_REQUIRED)}.")
        if not isinstance(data[key], typ):
            raise TaskvecDataError(f"{path}: key {key!r} should be a {typ.__name__}, "
                                   f"got {type(data[key]).__name__}.")
    if data["id"] != task_id:
        raise TaskvecDataError(f"{path}: the file says id {data['id']!r} but its name says {task_id!r}; "
                               "make them agree.")
    if not data["items"]:
        raise TaskvecDataError(f"{path}: 'items' is empty; expected a list of "
                               '{"input", "answer", "split"} objects.')
    items = []
    for k, raw in enumerate(data["items"]):
        where = f"{path}: items[{k}]"
        if not isinstance(raw, dict):
            raise TaskvecDataError(f"{where} should be an object with input/answer/split, got {raw!r}.")
        for key in ("input", "answer", "split"):
            value = raw.get(key)
            if not isinstance(value, str) or not value.strip():
                raise TaskvecDataError(f"{where}: {key!r} should be a non-empty string, got {value!r}.")
        if raw["split"] not in SPLITS:
            raise TaskvecDataError(f"{where}: split {raw['split']!r} is not one of {SPLITS}.")
        items.append(TaskItem(raw["input"], raw["answer"], raw["split"]))
    _check_unique(items, str(path))
    fields = {k: data[k] for k in ("id", "name", "domain", "instruction", "task_token")}
    return TaskData(items=tuple(items), **fields)


def _check_unique(items: list, where: str, lines: list | None = None) -> None:
    first: dict = {}
    for k, it in enumerate(items):
        if it.input in first:
            at = (f"lines {lines[first[it.input]]} and {lines[k]}" if lines
                  else f"items[{first[it.input]}] and items[{k}]")
            raise TaskvecDataError(f"{where}: input {it.input!r} appears twice ({at}); keep each input once.")
        first[it.input] = k


# ---------------------------------------------------------------- user data


def default_split(inputs: list, val_fraction: float = VAL_FRACTION) -> dict:
    """Deterministic val/test split of user inputs (by a stable hash): ``{input: split}``.
    About ``val_fraction`` of the inputs are val: at least one when there are two or more, at least
    two when there are four or more (a split's task vector needs two examples from the other split)."""
    order = sorted(inputs, key=lambda s: hashlib.sha256(s.encode("utf-8")).hexdigest())
    n_val = max(2 if len(order) >= 4 else 1, round(len(order) * val_fraction)) if len(order) >= 2 else 0
    return {x: ("val" if k < n_val else "test") for k, x in enumerate(order)}


def _user_task(task_id: str, rows: list, *, domain: str, instruction: str, task_token: str) -> TaskData:
    """rows: dicts with input, answer, split (None = choose), image, line."""
    splits = default_split([r["input"] for r in rows]) if all(r["split"] is None for r in rows) else {}
    items = [TaskItem(r["input"], r["answer"], r["split"] or splits.get(r["input"], "test"), r["image"])
             for r in rows]
    return TaskData(task_id, task_id, domain, instruction, task_token, tuple(items))


def task_from_pairs(task_id: str, pairs, *, domain: str = "user", instruction: str = "",
                    task_token: str = "") -> TaskData:
    """A task typed by a user as (input, answer) pairs, split by the stable hash rule (``default_split``)."""
    rows = [{"input": x, "answer": y, "split": None, "image": None} for x, y in pairs]
    return _user_task(task_id, rows, domain=domain, instruction=instruction, task_token=task_token or task_id)


def paper_tasks() -> list:
    """The six paper tasks, loaded from assets/tasks (a missing or broken file raises, naming it)."""
    return [load_task(t) for t in PAPER_TASKS]


def _parse_jsonl(path: Path, image_root: Path, need_image: bool = False) -> list:
    if not path.is_file():
        raise TaskvecDataError(f"{path} does not exist; expected a JSONL file with one "
                               '{"image": ..., "input": ..., "answer": ...} object per line.')
    rows, lines = [], []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}, line {n}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise TaskvecDataError(f"{where}: not valid JSON ({e.msg} at column {e.colno}); each line must be "
                                   'one object like {"input": "France", "answer": "Paris"}.') from None
        if not isinstance(obj, dict):
            raise TaskvecDataError(f"{where}: expected a JSON object, got {type(obj).__name__}.")
        image = obj.get("image")
        if image is not None:
            if not isinstance(image, str) or not image.strip():
                raise TaskvecDataError(f"{where}: 'image' should be a file path string, got {image!r}.")
            image = Path(image) if Path(image).is_absolute() else image_root / image
            if not image.is_file():
                raise TaskvecDataError(f"{where}: image file {image} does not exist; paths are relative to "
                                       f"{image_root}.")
        elif need_image:
            raise TaskvecDataError(f"{where}: missing 'image'; every line of this file needs an image path.")
        text = obj.get("input", image.stem if image is not None else None)
        answer = obj.get("answer")
        split = obj.get("split")
        for key, value in (("input", text), ("answer", answer)):
            if not isinstance(value, str) or not value.strip():
                raise TaskvecDataError(f"{where}: {key!r} should be a non-empty string, got {value!r}"
                                       + (" (give 'input' or 'image')." if key == "input" else "."))
        if split is not None and split not in SPLITS:
            raise TaskvecDataError(f"{where}: split {split!r} is not one of {SPLITS}; or leave it out.")
        rows.append({"input": text.strip(), "answer": answer.strip(), "split": split, "image": image, "line": n})
        lines.append(n)
    if not rows:
        raise TaskvecDataError(f"{path} has no data lines; expected one JSON object per line.")
    _check_unique([TaskItem(r["input"], r["answer"], r["split"] or "test") for r in rows], str(path), lines)
    return rows


def load_jsonl(path: str | Path, *, domain: str = "custom", instruction: str = "",
               task_token: str = "") -> TaskData:
    """A task from a JSONL file: one ``{"image": path, "input": ..., "answer": ..., "split": ...}``
    per line. ``image`` is optional (relative to the file's folder); ``input`` defaults to the
    image's file stem; ``split`` is optional (all-or-nothing; else a stable hash split)."""
    path = Path(path)
    rows = _parse_jsonl(path, path.parent)
    return _user_task(path.stem, rows, domain=domain, instruction=instruction, task_token=task_token)


def _parse_tsv(path: Path) -> dict:
    """answers.tsv: ``input<TAB>answer[<TAB>split]`` per line; an optional header line."""
    out: dict = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        cols = [c.strip() for c in line.split("\t")]
        if n == 1 and cols[:2] == ["input", "answer"]:
            continue
        where = f"{path}, line {n}"
        if len(cols) not in (2, 3) or not cols[0] or not cols[1]:
            raise TaskvecDataError(f"{where}: expected 'input<TAB>answer' or 'input<TAB>answer<TAB>split', "
                                   f"got {line!r}.")
        split = cols[2] if len(cols) == 3 and cols[2] else None
        if split is not None and split not in SPLITS:
            raise TaskvecDataError(f"{where}: split {split!r} is not one of {SPLITS}.")
        if cols[0] in out:
            raise TaskvecDataError(f"{where}: input {cols[0]!r} already given on line {out[cols[0]]['line']}.")
        out[cols[0]] = {"input": cols[0], "answer": cols[1], "split": split, "line": n}
    if not out:
        raise TaskvecDataError(f"{path} has no data lines; expected 'input<TAB>answer' per line.")
    return out


def load_task_folder(path: str | Path, *, domain: str = "custom", instruction: str = "",
                     task_token: str = "") -> TaskData:
    """A task from a folder ``<task>/<input>.png|jpg`` with answers in ``answers.tsv``
    (``input<TAB>answer[<TAB>split]``, input = image file stem) or ``answers.jsonl``
    (``{"image": "<file>", "answer": ...}`` per line). The task id is the folder name."""
    folder = Path(path)
    if not folder.is_dir():
        raise TaskvecDataError(f"{folder} is not a folder; expected <task>/<input>.png|jpg plus answers.tsv "
                               "or answers.jsonl.")
    tsv, jsonl = folder / "answers.tsv", folder / "answers.jsonl"
    images = {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES}
    if not images:
        raise TaskvecDataError(f"{folder} has no images; expected files named <input>.png or <input>.jpg.")
    if jsonl.is_file() and not tsv.is_file():
        rows = _parse_jsonl(jsonl, folder, need_image=True)
        used = {r["image"].resolve() for r in rows}
        unanswered = [p for p in images.values() if p.resolve() not in used]
        if unanswered:
            raise TaskvecDataError(f"{unanswered[0]} has no line in {jsonl}; add "
                                   f'{{"image": "{unanswered[0].name}", "answer": ...}} or remove the image.')
    elif tsv.is_file() and not jsonl.is_file():
        answers = _parse_tsv(tsv)
        missing = sorted(set(answers) - set(images))
        if missing:
            row = answers[missing[0]]
            raise TaskvecDataError(f"{tsv}, line {row['line']}: no image {missing[0]!r}.png/.jpg in {folder}; "
                                   "name each image after its input.")
        rows = [dict(answers[stem], image=images[stem]) for stem in answers]
        unanswered = sorted(set(images) - set(answers))
        if unanswered:
            raise TaskvecDataError(f"{images[unanswered[0]]} has no answer in {tsv}; add a line "
                                   f"'{unanswered[0]}<TAB>answer' or remove the image.")
    else:
        got = "both" if tsv.is_file() else "neither"
        raise TaskvecDataError(f"{folder}: expected exactly one of answers.tsv or answers.jsonl, found {got}.")
    return _user_task(folder.name, rows, domain=domain, instruction=instruction, task_token=task_token)
