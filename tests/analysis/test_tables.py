"""taskvec.analysis.tables on hand-made units whose every number is worked out by hand below.

Units have the eval's format (``analysis.units.run_unit`` / ``analysis.protocol.score_split``).
Every split has N = 4 items and flags are built from counts: item i is correct at layer l iff
i < count[l], so the accuracy at layer l is count[l] / 4. Quarters, eighths and sixteenths are
exact binary fractions, so the expected numbers compare with ``==``.
"""

from __future__ import annotations

import csv
import math

import pytest

from taskvec.analysis.tables import format_table, modality_table, summarize, write_csv

N = 4  # items per split
A, B = "country-capital", "food-color"
TASKS = [A, B]
INSTRUCTIONS = {A: "The capital city of the country:", B: "The color of the food:"}


def split(patch, no_context=0, prompt=0, random=0, random_answer="Paris", source=None, additive=None, cosine=None):
    """One split of a unit: per-layer flags from the per-layer counts ``patch`` (and ``source``,
    ``additive``); scalar flags from counts; ``random_answer=None`` as for instruction specs."""
    items = []
    for i in range(N):
        it = {"input": f"q{i}", "answer": "Paris",
              "no_context": "x", "no_context_ok": i < no_context,
              "prompt": "x", "prompt_ok": i < prompt,
              "random": random_answer, "random_ok": random_answer is not None and i < random,
              "patch": ["x"] * len(patch), "patch_ok": [i < c for c in patch]}
        if source is not None:
            it.update(source_patch=["x"] * len(source), source_patch_ok=[i < c for c in source])
        if additive is not None:
            it.update(additive_patch=["x"] * len(additive), additive_patch_ok=[i < c for c in additive])
        items.append(it)
    out = {"items": items, "vector_norm": [1.0] * len(patch)}
    if cosine is not None:
        out["cosine"] = cosine
    return out


def unit(task, seed, val, test, spec="text", query="image", typos=0):
    return {"unit": {"task": task, "spec": spec, "query": query, "n_examples": 5, "typos": typos, "seed": seed,
                     "additive": False},
            "instruction": INSTRUCTIONS[task], "case_insensitive": spec in ("instruction", "ensemble"),
            "splits": {"val": val, "test": test}}


# 2 tasks x 2 seeds, residual layers 0..2. Counts out of 4 per layer (val | test):
#
#   seed 0  A val [1, 3, 2]  B val [0, 2, 2]  -> mean val [1/8, 5/8, 4/8]  -> layer 1
#           A test [0, 1, 4] B test [1, 2, 3] -> mean test [1/8, 3/8, 7/8] (test would pick layer 2)
#           Patch at layer 1: A 1/4, B 2/4, Avg 3/8
#   seed 1  A val [1, 1, 4]  B val [2, 1, 2]  -> mean val [3/8, 2/8, 6/8]  -> layer 2
#           A test [4, 3, 1] B test [3, 4, 1] -> mean test [7/8, 7/8, 2/8] (test would pick layer 0)
#           Patch at layer 2: A 1/4, B 1/4, Avg 2/8
#   Patch final: A (1/4 + 1/4)/2 = 1/4, B (2/4 + 1/4)/2 = 3/8, Avg (3/8 + 2/8)/2 = 5/16 = 0.3125;
#   std over seeds of Avg: pstdev(3/8, 2/8) = 1/16.
#   A val/test swap (layer chosen on test, read on val) gives seed 0: A 2/4, B 2/4; seed 1: A 1/4, B 2/4
#   -> Avg 7/16, not 5/16. One layer for all seeds (chosen_layer = 2) gives seed 0: A 4/4, B 3/4.
#
#   Mean validation curves over seeds: A [1/4, 2/4, 3/4], B [1/4, 3/8, 2/4]; over tasks
#   [1/4, 7/16, 5/8] -> chosen_layer 2.
#
#   Baselines on test (val in brackets, which the table must not use):
#   seed 0  No Context A 1 B 0 [A 0 B 1]  Prompt A 3 B 2 [A 1 B 2]  Random A 2 B 1
#   seed 1  No Context A 3 B 2 [A 2 B 3]  Prompt A 1 B 4 [A 3 B 0]  Random A 0 B 3
#   No Context: A (1/4 + 3/4)/2 = 1/2, B (0 + 2/4)/2 = 1/4; Avg per seed 1/8, 5/8 -> 3/8, std 1/4
#   Prompt:     A (3/4 + 1/4)/2 = 1/2, B (2/4 + 1)/2 = 3/4; Avg per seed 5/8, 5/8 -> 5/8, std 0
#   Random:     A (2/4 + 0)/2 = 1/4, B (1/4 + 3/4)/2 = 1/2; Avg per seed 3/8, 3/8 -> 3/8, std 0
#   val_prompt: A (1/4 + 3/4)/2 = 1/2, B (2/4 + 0)/2 = 1/4; val_no_context: A (0 + 2/4)/2 = 1/4, B 1/2
def paper_units():
    return [  # deliberately out of order: summarize groups by seed and reads tasks in ``tasks`` order
        unit(B, 1, split([2, 1, 2], no_context=3, prompt=0), split([3, 4, 1], no_context=2, prompt=4, random=3)),
        unit(A, 0, split([1, 3, 2], no_context=0, prompt=1), split([0, 1, 4], no_context=1, prompt=3, random=2)),
        unit(A, 1, split([1, 1, 4], no_context=2, prompt=3), split([4, 3, 1], no_context=3, prompt=1, random=0)),
        unit(B, 0, split([0, 2, 2], no_context=1, prompt=2), split([1, 2, 3], no_context=0, prompt=2, random=1)),
    ]


@pytest.fixture(scope="module")
def paper():
    return summarize(paper_units(), TASKS)


def test_patch_layer_is_chosen_per_seed_on_validation_and_read_on_test(paper):
    assert paper["best_layer_per_seed"] == [1, 2]
    assert paper["table"]["Text Examples Patch"] == {A: 0.25, B: 0.375, "Avg": 0.3125}
    assert paper["avg_std_over_seeds"]["Text Examples Patch"] == 0.0625


def test_baselines_are_test_accuracies_averaged_over_tasks_then_seeds(paper):
    assert paper["rows"] == ["No Context", "Text Examples Prompt", "Random", "Text Examples Patch"]
    assert paper["table"]["No Context"] == {A: 0.5, B: 0.25, "Avg": 0.375}
    assert paper["table"]["Text Examples Prompt"] == {A: 0.5, B: 0.75, "Avg": 0.625}
    assert paper["table"]["Random"] == {A: 0.25, B: 0.5, "Avg": 0.375}
    assert paper["avg_std_over_seeds"] == {"No Context": 0.25, "Text Examples Prompt": 0.0, "Random": 0.0,
                                           "Text Examples Patch": 0.0625}
    assert paper["val_prompt"] == {A: 0.5, B: 0.25}
    assert paper["val_no_context"] == {A: 0.25, B: 0.5}


def test_validation_curves_and_chosen_layer(paper):
    assert paper["val_curves"] == {A: [0.25, 0.5, 0.75], B: [0.25, 0.375, 0.5]}
    assert paper["val_curve_avg"] == [0.25, 0.4375, 0.625]
    assert paper["chosen_layer"] == 2


def test_metadata_of_the_group(paper):
    assert paper["spec"] == "text" and paper["query"] == "image" and paper["n_examples"] == 5
    assert paper["typos"] == 0 and paper["seeds"] == [0, 1] and paper["n_val"] == 4 and paper["n_test"] == 4
    assert paper["case_insensitive"] is False
    assert paper["instructions"] == INSTRUCTIONS
    assert "cosine" not in paper and "best_source_layer_per_seed" not in paper
    assert "best_additive_layer_per_seed" not in paper


def test_a_tie_in_validation_picks_the_earliest_layer():
    # val [1, 3, 3]/4: layers 1 and 2 tie at 3/4 -> layer 1 (not 0, not the last). Test [0, 1, 4]/4 -> 1/4.
    s = summarize([unit(A, 0, split([1, 3, 3]), split([0, 1, 4]))], [A])
    assert s["best_layer_per_seed"] == [1] and s["chosen_layer"] == 1
    assert s["table"]["Text Examples Patch"] == {A: 0.25, "Avg": 0.25}
    assert s["avg_std_over_seeds"]["Text Examples Patch"] == 0.0  # one seed: no spread
    # a tie in the *mean over tasks*: A [2, 3, 1] + B [2, 1, 3] -> [4/8, 4/8, 4/8] -> layer 0;
    # test A [1, 4, 4], B [2, 4, 4] at layer 0 -> 1/4, 2/4
    s = summarize([unit(A, 0, split([2, 3, 1]), split([1, 4, 4])), unit(B, 0, split([2, 1, 3]), split([2, 4, 4]))],
                  TASKS)
    assert s["best_layer_per_seed"] == [0] and s["chosen_layer"] == 0
    assert s["table"]["Text Examples Patch"] == {A: 0.25, B: 0.5, "Avg": 0.375}


def test_random_row_is_nan_without_a_majority_answer():
    # instruction specs have no examples: random is None; scored case-insensitively
    units = [unit(t, 0, split([1, 2], prompt=1, random_answer=None), split([1, 2], prompt=2, random_answer=None),
                  spec="instruction", query="text", typos=2) for t in TASKS]
    s = summarize(units, TASKS)
    assert s["rows"] == ["No Context", "Instruction Prompt", "Random", "Instruction Patch"]
    assert all(math.isnan(v) for v in s["table"]["Random"].values()) and set(s["table"]["Random"]) == {A, B, "Avg"}
    assert math.isnan(s["avg_std_over_seeds"]["Random"])
    assert s["table"]["Instruction Prompt"] == {A: 0.5, B: 0.5, "Avg": 0.5}  # test 2/4, not val 1/4
    assert s["table"]["Instruction Patch"] == {A: 0.5, B: 0.5, "Avg": 0.5}  # layer 1 (val 2/4)
    assert s["case_insensitive"] is True and s["typos"] == 2 and s["query"] == "text"


def test_source_and_additive_rows_choose_their_own_layers_on_validation():
    # one seed, 3 layers. Counts (val | test) per task:
    #   patch    A [1, 3, 2] | [0, 1, 4]    B [0, 2, 2] | [1, 2, 3]   mean val [1/8, 5/8, 4/8] -> layer 1
    #   source   A [4, 1, 0] | [1, 4, 4]    B [3, 2, 1] | [2, 4, 4]   mean val [7/8, 3/8, 1/8] -> layer 0
    #   additive A [0, 1, 4] | [4, 4, 1]    B [0, 0, 3] | [4, 4, 2]   mean val [0, 1/8, 7/8]   -> layer 2
    # test at the chosen layer: patch A 1/4 B 2/4 Avg 3/8; source A 1/4 B 2/4 Avg 3/8;
    # additive A 1/4 B 2/4 Avg 3/8. Had they used the patch's layer 1: source 1, 1; additive 1, 1.
    # cosine per unit = mean of val and test: A ([0, .5, 1] + [1, .5, 1])/2 = [.5, .5, 1];
    # B ([.25, .25, .25] + [.75, .25, .25])/2 = [.5, .25, .25]; Avg [.5, .375, .625]
    units = [
        unit(A, 0, split([1, 3, 2], source=[4, 1, 0], additive=[0, 1, 4], cosine=[0.0, 0.5, 1.0]),
             split([0, 1, 4], source=[1, 4, 4], additive=[4, 4, 1], cosine=[1.0, 0.5, 1.0])),
        unit(B, 0, split([0, 2, 2], source=[3, 2, 1], additive=[0, 0, 3], cosine=[0.25, 0.25, 0.25]),
             split([1, 2, 3], source=[2, 4, 4], additive=[4, 4, 2], cosine=[0.75, 0.25, 0.25])),
    ]
    s = summarize(units, TASKS, source="tiny-random/mistral")
    patch, add = "Text Examples Patch", "Text Examples Additive Patch"
    src = "Text Examples Patch (from tiny-random/mistral)"
    assert s["rows"] == ["No Context", "Text Examples Prompt", "Random", patch, src, add]
    assert s["best_layer_per_seed"] == [1]
    assert s["best_source_layer_per_seed"] == [0]
    assert s["best_additive_layer_per_seed"] == [2]
    for row in (patch, src, add):
        assert s["table"][row] == {A: 0.25, B: 0.5, "Avg": 0.375}, row
    assert s["val_curves"] == {A: [0.25, 0.75, 0.5], B: [0.0, 0.5, 0.5]}  # the replacement patch's curves
    assert s["chosen_layer"] == 1
    assert s["cosine"] == {A: [0.5, 0.5, 1.0], B: [0.5, 0.25, 0.25], "Avg": [0.5, 0.375, 0.625]}
    assert summarize(units, TASKS)["rows"][4] == "Text Examples Patch (from source)"  # no name given


def test_additive_row_needs_every_unit_to_have_it():
    with_add = unit(A, 0, split([1, 2], additive=[2, 1]), split([1, 2], additive=[2, 1]))
    without = unit(B, 0, split([1, 2]), split([1, 2]))
    s = summarize([with_add, without], TASKS)
    assert s["rows"][-1] == "Text Examples Patch" and "best_additive_layer_per_seed" not in s


# ------------------------------------------------------------------ printing and files


def test_format_table_layout_rounding_and_nan(paper):
    nan = summarize([unit(t, 0, split([1, 2], random_answer=None), split([1, 2], random_answer=None),
                          spec="instruction") for t in TASKS], TASKS)
    text = format_table(paper, TASKS, title="text -> image")
    # row labels padded to len("Text Examples Prompt") + 2 = 22; columns max(len, 6) + 2 wide;
    # two decimals, ties to even on exact binary values (0.375 -> 0.38, 0.625 -> 0.62, 0.3125 -> 0.31)
    assert text.splitlines() == [
        "text -> image",
        "                      " + "  country-capital" + "  food-color" + "     Avg",
        "No Context            " + "             0.50" + "        0.25" + "    0.38",
        "Text Examples Prompt  " + "             0.50" + "        0.75" + "    0.62",
        "Random                " + "             0.25" + "        0.50" + "    0.38",
        "Text Examples Patch   " + "             0.25" + "        0.38" + "    0.31",
    ]
    lines = format_table(nan, TASKS).splitlines()
    assert lines[0].split() == [A, B, "Avg"]  # no title line
    assert lines[3] == "Random              " + "                -" + "           -" + "       -"


def test_write_csv(tmp_path, paper):
    units = [
        unit(A, 0, split([1, 3, 2], source=[4, 1, 0], additive=[0, 1, 4]),
             split([0, 1, 4], source=[1, 4, 4], additive=[4, 4, 1])),
        unit(B, 0, split([0, 2, 2], source=[3, 2, 1], additive=[0, 0, 3]),
             split([1, 2, 3], source=[2, 4, 4], additive=[4, 4, 2])),
    ]
    other = summarize(units, TASKS, source="src")
    path = write_csv(tmp_path / "results.csv", {"text-to-image_n5": paper, "g2": other}, TASKS)
    assert path == tmp_path / "results.csv"
    rows = list(csv.reader(open(path, newline="")))
    assert rows == [
        ["group", "method", A, B, "Avg", "Avg_std_over_seeds", "best_layer_per_seed (taskvec l)",
         "best_layer_per_seed (official L = l - 1; emb = embeddings)", "protocol"],
        ["text-to-image_n5", "No Context", "0.5000", "0.2500", "0.3750", "0.2500", "", "", "taskvec"],
        ["text-to-image_n5", "Text Examples Prompt", "0.5000", "0.7500", "0.6250", "0.0000", "", "", "taskvec"],
        ["text-to-image_n5", "Random", "0.2500", "0.5000", "0.3750", "0.0000", "", "", "taskvec"],
        ["text-to-image_n5", "Text Examples Patch", "0.2500", "0.3750", "0.3125", "0.0625", "1 2", "0 1", "taskvec"],
        ["g2", "No Context", "0.0000", "0.0000", "0.0000", "0.0000", "", "", "taskvec"],
        ["g2", "Text Examples Prompt", "0.0000", "0.0000", "0.0000", "0.0000", "", "", "taskvec"],
        ["g2", "Random", "0.0000", "0.0000", "0.0000", "0.0000", "", "", "taskvec"],
        ["g2", "Text Examples Patch", "0.2500", "0.5000", "0.3750", "0.0000", "1", "0", "taskvec"],
        ["g2", "Text Examples Patch (from src)", "0.2500", "0.5000", "0.3750", "0.0000", "0", "emb", "taskvec"],
        ["g2", "Text Examples Additive Patch", "0.2500", "0.5000", "0.3750", "0.0000", "2", "1", "taskvec"],
    ]


def test_modality_table(paper):
    instr = summarize([unit(t, 0, split([1, 3]), split([1, 2], prompt=c), spec="instruction", query="text")
                       for t, c in ((A, 1), (B, 3))], TASKS)
    # instruction -> text: Prompt (1/4 + 3/4)/2 = 1/2; Patch at layer 1 (val 3/4): 2/4 each
    assert modality_table({"text-to-image_n5": paper, "instruction-to-text_n5": instr}) == {
        "Text Examples -> image query": {"Prompt": 0.625, "Patch": 0.3125, "layer": 2},
        "Instruction -> text query": {"Prompt": 0.5, "Patch": 0.5, "layer": 1},
    }
