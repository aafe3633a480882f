"""The app's precomputed examples, defaults and tour numbers (assets/app_picks.json) are what
`python -m taskvec.app.picks` computes now, with the project's own functions, on the shipped organism."""

import pytest

from taskvec.app import examples as EX
from taskvec.app import picks as PK
from taskvec.app import tour as TOUR
from taskvec.app import vocab as VO

pytestmark = pytest.mark.skipif(not (PK.organism_dir() / "config.json").is_file(), reason="organism weights missing")


@pytest.fixture(scope="module")
def organism():
    from taskvec.models import load_model

    return load_model("organism")


@pytest.fixture(scope="module")
def data():
    d = PK.load_picks("organism")
    assert d is not None, ("assets/app_picks.json is missing or was measured on other weights: "
                           "rebuild it with `python -m taskvec.app.picks`")
    return d


def test_first_example_is_recomputed_exactly(organism, data):
    first = data["examples"][0]
    assert first["outcome"] == "patch-wins" and first["row"]["query_image"]  # an image query
    again = PK.run_row(organism, first["row"])
    assert again == first["answers"]
    assert [again[m]["correct"] for m in PK.METHODS] == [False, False, True]
    # the playground opens on it, and its label says what it shows
    assert EX.playground_examples()[0][EX.FIELDS.index("expected")] == first["row"]["expected"]
    assert EX.playground_labels()[0] == PK.label(first)


def test_aggregate_of_one_task_is_recomputed_exactly(organism, data):
    from taskvec.app.library import paper_tasks

    task = next(t for t in paper_tasks() if t.id == data["sweep_default"]["task"])
    assert PK.aggregates(organism, [task], data["n_queries"])[task.id] == data["aggregates"][task.id]
    assert data["average"] == PK.average(data["aggregates"])
    gap = {t: a["Patch"] - a["Prompt"] for t, a in data["aggregates"].items()}
    assert gap[task.id] == max(gap.values())  # the sweep's default task: the largest measured effect


def test_picked_rows_are_labelled_by_their_outcome(data):
    outcomes = [c["outcome"] for c in data["examples"]]
    assert outcomes[0] == "patch-wins" and "all-correct" in outcomes and "patch-fails" in outcomes
    for c in data["examples"]:
        ok = [c["answers"][m]["correct"] for m in PK.METHODS]
        assert {"patch-wins": ok == [False, False, True], "all-correct": all(ok),
                "patch-fails": not ok[2]}[c["outcome"]]


def test_stale_file_is_ignored(monkeypatch):
    monkeypatch.setattr(PK, "fingerprint", lambda model="organism": "other-weights")
    assert PK.load_picks("organism") is None
    assert all(not lab.startswith("★") for lab in EX.playground_labels())  # no measured claims without a match


def test_tour_uses_the_file_and_shows_aggregates(organism, data):
    td = TOUR.tour_data(organism)
    assert td["source"] == "precomputed"
    v = TOUR.tour_view(organism, td, 0)
    names = [tr.name for tr in v.figure.data]
    assert any("paper: Idefics2" in n for n in names) and any("100 image queries" in n for n in names)
    assert list(v.figure.data[0].y) == [data["average"][m] for m in PK.METHODS]
    assert v.image and v.image.endswith(".png") and "✓" in v.answers and "✗" in v.answers
    for i in range(1, len(TOUR.STEPS)):
        assert TOUR.tour_view(organism, td, i).figure is not None


def test_vocabulary_check(organism):
    assert VO.unknown_words(organism, "hot : cold\nFrance : Paris", "light") == ["hot", "cold", "light"]
    msg = VO.warning(organism, "hot : cold")
    assert "'hot', 'cold'" in msg and "[UNK]" in msg and "countries such as" in msg and "real model" in msg
    assert VO.warning(organism, "France : Paris\nItaly : Rome") == ""


def test_vocabulary_check_is_silent_on_subword_tokenizers():
    from taskvec.testing import tiny_adapter

    assert VO.unknown_words(tiny_adapter("idefics3"), "hot : cold") == []
