"""``SimilarityResult.cross`` on a hand-made matrix, and ``figures --kind similarity`` printing exactly
what the analysis function gives (the issue-10 comparison of instruction and example vectors)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from taskvec.analysis.similarity import SimilarityResult, similarity
from taskvec.cli import main
from taskvec.data.tasks import load_task
from taskvec.errors import SpecError
from taskvec.testing import tiny_adapter


def test_cross_same_task_against_other_tasks():
    labels = ["a · text", "a · instruction", "b · text", "b · instruction", "c · text"]
    M = np.eye(5)
    M[1, 0] = M[0, 1] = 0.9  # a: instruction vs text
    M[3, 2] = M[2, 3] = 0.5  # b
    M[1, 2] = M[2, 1] = 0.2  # a·instruction vs b·text
    M[3, 0] = M[0, 3] = 0.4  # b·instruction vs a·text
    c = SimilarityResult(M, labels, 3).cross("instruction", "text")
    assert c["same"] == {"a": 0.9, "b": 0.5} and c["other"] == {"a": 0.2, "b": 0.4}  # c has no instruction
    assert c["same_mean"] == pytest.approx(0.7) and c["other_mean"] == pytest.approx(0.3)
    with pytest.raises(SpecError, match="both"):
        SimilarityResult(M, labels, 3).cross("image", "text")


def test_figures_similarity_is_the_analysis_function(tmp_path, capsys):
    ids = ["country-capital", "food-color", "animal-young"]
    assert main(["figures", "--model", "tiny-random/llama", "--tasks", ",".join(ids), "--kind", "similarity",
                 "--modalities", "text,instruction", "--n-sets", "3", "--layer", "2", "--no-png",
                 "--out", str(tmp_path)]) == 0
    assert "cosine text vs instruction @ layer 2 (raw): same task" in capsys.readouterr().out
    rec = json.loads((tmp_path / "figures.json").read_text())["similarity"]
    direct = similarity(tiny_adapter("llama"), [load_task(t) for t in ids], 2, ("text", "instruction"), n_sets=3,
                        center=True)
    assert rec["centered"]["labels"] == direct.labels
    np.testing.assert_allclose(rec["centered"]["matrix"], direct.matrix, atol=1e-6)
    assert rec["centered"]["cross"]["text vs instruction"]["same"] == pytest.approx(
        direct.cross("text", "instruction")["same"], abs=1e-6)
    assert main(["figures", "--model", "tiny-random/llama", "--tasks", ",".join(ids), "--kind", "similarity",
                 "--modalities", "text,audio", "--out", str(tmp_path)]) == 2
