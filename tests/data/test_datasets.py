"""The six paper tasks, their loader, user data loaders, and entity images."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from taskvec.data import tasks as datasets
from taskvec.data.tasks import PAPER_TASKS, TaskData, TaskItem, load_jsonl, load_task, load_task_folder
from taskvec.errors import TaskvecDataError
from taskvec.data.images import entity_image

DOMAIN_TASKS = {"country": ("country-capital", "country-currency"), "animal": ("animal-latin", "animal-young"),
                "food": ("food-color", "food-flavor")}
INSTRUCTIONS = {
    "country-capital": "The capital city of the country:",
    "country-currency": "The last word of the official currency of the country:",
    "animal-latin": "The scientific name of the animal's species in latin:",
    "animal-young": "The term for the baby of the animal:",
    "food-color": "The color of the food:",
    "food-flavor": "The flavor descriptor of the food:",
}
TOKENS = {"country-capital": "capital", "country-currency": "currency", "animal-latin": "species",
          "animal-young": "baby", "food-color": "color", "food-flavor": "flavor"}


@pytest.fixture(scope="module")
def tasks():
    return {t: load_task(t) for t in PAPER_TASKS}


def test_list_tasks_has_the_paper_tasks_first():
    assert tuple(datasets.list_tasks()[:6]) == PAPER_TASKS


@pytest.mark.parametrize("task_id", PAPER_TASKS)
def test_paper_task_shape(tasks, task_id):
    td = tasks[task_id]
    assert isinstance(td, TaskData) and td.id == task_id
    assert td.instruction == INSTRUCTIONS[task_id] and td.task_token == TOKENS[task_id]
    assert td.domain == task_id.split("-")[0]
    assert len(td.items) == 130
    assert len(td.split("val")) == 30 and len(td.split("test")) == 100
    inputs = [it.input for it in td.items]
    assert len(set(inputs)) == len(inputs)
    for it in td.items:
        assert it.answer == it.answer.strip() and it.answer
        assert len(it.answer.split()) <= 3, it  # "Washington, D.C." is the longest
    assert td.pairs("val") == [(it.input, it.answer) for it in td.split("val")]


def test_split_is_shared_within_a_domain(tasks):
    for a, b in DOMAIN_TASKS.values():
        sa = {it.input: it.split for it in tasks[a].items}
        sb = {it.input: it.split for it in tasks[b].items}
        assert sa == sb


def test_answer_vocabularies_are_single_words(tasks):
    for task_id in ("country-currency", "animal-young", "food-color", "food-flavor"):
        assert all(len(it.answer.split()) == 1 for it in tasks[task_id].items), task_id
    assert all(len(it.answer.split()) == 2 for it in tasks["animal-latin"].items)
    assert all(it.answer[0].isupper() for it in tasks["country-currency"].items)


def test_json_files_match_the_generator(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_tasks", datasets.TASKS_DIR / "build_tasks.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.build(tmp_path)
    for t in PAPER_TASKS:
        assert (tmp_path / f"{t}.json").read_bytes() == (datasets.TASKS_DIR / f"{t}.json").read_bytes(), t


# ------------------------------------------------------------------ errors


def test_unknown_task_names_available_ids():
    with pytest.raises(TaskvecDataError, match="country-capital") as e:
        load_task("country-flag")
    assert "country-flag" in str(e.value)
    assert issubclass(TaskvecDataError, ValueError)


def test_empty_and_malformed_files(tmp_path):
    (tmp_path / "empty.json").write_text("")
    with pytest.raises(TaskvecDataError, match="empty.json is empty"):
        load_task("empty", root=tmp_path)
    (tmp_path / "broken.json").write_text('{"id": "broken",\n "items": [}')
    with pytest.raises(TaskvecDataError, match=r"broken.json is not valid JSON \(line 2"):
        load_task("broken", root=tmp_path)
    good = json.loads((datasets.TASKS_DIR / "food-color.json").read_text(encoding="utf-8"))
    bad = dict(good, id="nosplit", items=[{"input": "Kiwi", "answer": "green"}])
    (tmp_path / "nosplit.json").write_text(json.dumps(bad))
    with pytest.raises(TaskvecDataError, match=r"items\[0\]: 'split'"):
        load_task("nosplit", root=tmp_path)
    missing = {k: v for k, v in good.items() if k != "instruction"}
    missing["id"] = "missing"
    (tmp_path / "missing.json").write_text(json.dumps(missing))
    with pytest.raises(TaskvecDataError, match="missing key 'instruction'"):
        load_task("missing", root=tmp_path)
    dup = dict(good, id="dup", items=good["items"][:2] + good["items"][:1])
    (tmp_path / "dup.json").write_text(json.dumps(dup))
    with pytest.raises(TaskvecDataError, match="appears twice"):
        load_task("dup", root=tmp_path)


def test_split_name_is_checked(tasks):
    with pytest.raises(TaskvecDataError, match="Unknown split"):
        tasks["food-color"].split("train")


# ------------------------------------------------------------------ user data


def _png(path, color):
    Image.new("RGB", (16, 12), color).save(path)


def test_jsonl_with_and_without_images(tmp_path):
    _png(tmp_path / "a.png", (255, 0, 0))
    lines = ['{"image": "a.png", "answer": "red"}', "", '{"input": "Kiwi", "answer": "green", "split": "val"}']
    (tmp_path / "colors.jsonl").write_text("\n".join(lines))
    td = load_jsonl(tmp_path / "colors.jsonl")
    assert td.id == "colors" and [it.input for it in td.items] == ["a", "Kiwi"]
    assert td.items[0].image == tmp_path / "a.png" and td.items[1].image is None
    assert td.image(td.items[0]).width == 224


def test_jsonl_errors_name_the_line(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"input": "France", "answer": "Paris"}\n{"input": "Peru", "answer": \n')
    with pytest.raises(TaskvecDataError, match=r"bad.jsonl, line 2: not valid JSON"):
        load_jsonl(p)
    p.write_text('{"input": "France", "answer": "Paris"}\n\n{"input": "Peru"}\n')
    with pytest.raises(TaskvecDataError, match=r"line 3: 'answer'"):
        load_jsonl(p)
    p.write_text('{"image": "nope.png", "answer": "Paris"}\n')
    with pytest.raises(TaskvecDataError, match=r"line 1: image file .*nope.png does not exist"):
        load_jsonl(p)
    p.write_text('{"input": "France", "answer": "Paris"}\n{"input": "France", "answer": "Lyon"}\n')
    with pytest.raises(TaskvecDataError, match=r"lines 1 and 2"):
        load_jsonl(p)
    p.write_text("\n")
    with pytest.raises(TaskvecDataError, match="no data lines"):
        load_jsonl(p)


def test_task_folder_with_tsv_and_jsonl(tmp_path):
    folder = tmp_path / "flags"
    folder.mkdir()
    for name, c in (("France", (0, 0, 255)), ("Peru", (255, 0, 0)), ("Japan", (255, 255, 255))):
        _png(folder / f"{name}.png", c)
    (folder / "answers.tsv").write_text("input\tanswer\nFrance\tParis\nPeru\tLima\nJapan\tTokyo\n")
    td = load_task_folder(folder)
    assert td.id == "flags" and td.has_images and dict(td.pairs()) == {"France": "Paris", "Peru": "Lima",
                                                                       "Japan": "Tokyo"}
    assert {it.split for it in td.items} == {"val", "test"}  # a stable hash split when none is given
    assert td == load_task_folder(folder)
    (folder / "answers.tsv").write_text("France\tParis\nPeru\tLima\n")
    with pytest.raises(TaskvecDataError, match="Japan.png has no answer"):
        load_task_folder(folder)
    (folder / "answers.tsv").write_text("France\tParis\nPeru Lima\nJapan\tTokyo\n")
    with pytest.raises(TaskvecDataError, match=r"answers.tsv, line 2: expected 'input<TAB>answer'"):
        load_task_folder(folder)
    (folder / "answers.tsv").unlink()
    (folder / "answers.jsonl").write_text("\n".join(json.dumps({"image": f"{n}.png", "answer": a})
                                                     for n, a in (("France", "Paris"), ("Peru", "Lima"),
                                                                  ("Japan", "Tokyo"))))
    assert dict(load_task_folder(folder).pairs()) == dict(td.pairs())
    shutil.rmtree(folder)
    with pytest.raises(TaskvecDataError, match="is not a folder"):
        load_task_folder(folder)


def test_task_item_validation():
    with pytest.raises(TaskvecDataError, match="non-empty"):
        TaskItem("France", " ")
    with pytest.raises(TaskvecDataError, match="split"):
        TaskItem("France", "Paris", "train")


# ------------------------------------------------------------------ images


def test_entity_image_is_deterministic_and_distinct(tasks):
    for domain, (task_id, _) in DOMAIN_TASKS.items():
        names = [it.input for it in tasks[task_id].items[:25]]
        arrays = [np.asarray(entity_image(domain, n)) for n in names]
        assert all(a.shape[1] == 224 and a.shape[2] == 3 for a in arrays)
        assert np.array_equal(arrays[0], np.asarray(entity_image(domain, names[0])))
        digests = {a.tobytes() for a in arrays}
        assert len(digests) == len(names), domain


def test_entity_image_size_and_errors():
    assert entity_image("animal", "Lion", (64, 48)).size == (64, 48)
    assert entity_image("animal", "Lion", 224).size == entity_image("animal", "Lion").size == (224, 149)
    assert entity_image("country", "France", 96).width == 96
    assert entity_image("country", "Japan", (224, 224), exact_size=True).size == (224, 224)
    with pytest.raises(TaskvecDataError, match="Unknown domain"):
        entity_image("plant", "Fern")
    with pytest.raises(TaskvecDataError, match="size"):
        entity_image("food", "Kiwi", (0, 10))


def test_food_images_use_the_food_colour():
    red = np.asarray(entity_image("food", "Strawberry")).reshape(-1, 3).astype(int)
    green = np.asarray(entity_image("food", "Lime")).reshape(-1, 3).astype(int)
    is_red = (red[:, 0] > 150) & (red[:, 1] < 90) & (red[:, 2] < 90)
    is_green = (green[:, 1] > 110) & (green[:, 0] < 110) & (green[:, 2] < 110)
    assert is_red.mean() > 0.05 and is_green.mean() > 0.05
