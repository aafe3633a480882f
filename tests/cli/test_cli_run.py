"""`python -m taskvec run` on every family, and its one-line errors."""

import json
import os
import subprocess
import sys

import pytest

from taskvec.cli import main
from taskvec.testing import TEXT_ONLY_FAMILIES as TEXT_ONLY, TINY_FAMILIES, color_image


@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_run_json_on_every_family(family, tmp_path, capsys):
    """`run` answers on every supported tiny model with a text query, and on every VLM with an image query."""
    base = ["run", "--model", f"tiny-random/{family}", "--examples", "France:Paris; Italy:Rome; Peru:Lima",
            "--layer", "1", "--json", "--max-new-tokens", "3", "--n-sets", "3"]
    queries = [["--query-text", "Spain"]]
    if family not in TEXT_ONLY:
        img = tmp_path / "q.png"
        color_image(5).save(img)
        queries.append(["--query-image", str(img), "--instruction", "The capital city of the country:"])
    for query in queries:
        assert main(base + query) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["model"]["meaningless_weights"] is True and out["layer"] == 1
        for method in ("no_context", "prompt", "patch"):
            top = out[method]["first_token_top"]
            assert len(top["tokens"]) == 5 and top["probs"] == sorted(top["probs"], reverse=True)
            assert 0 < sum(top["probs"]) <= 1.0001
        assert out["random"] == "Paris"


@pytest.mark.parametrize("args, needle", [
    (["--examples", "France Paris", "--query-text", "Spain"], "line 1"),
    (["--query-text", "Spain"], "No task given"),
    (["--examples", "France:Paris; Italy:Rome"], "exactly one query"),
    (["--examples", "France:Paris; Italy:Rome", "--query-image", "/nonexistent.png"], "does not exist"),
    (["--examples", "France:Paris; Italy:Rome", "--query-text", "Spain", "--layer", "40"], "out of range"),
    (["--examples", "France:Paris; Italy:Rome", "--query-text", "  "], "query is empty"),
])
def test_run_bad_input_is_one_line(args, needle, capsys):
    code = main(["run", "--model", "tiny-random/llama", *args])
    err = capsys.readouterr().err.strip()
    assert code == 2 and needle in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_run_text_only_model_rejects_image_query(tmp_path, capsys):
    img = tmp_path / "q.png"
    color_image(1).save(img)
    code = main(["run", "--model", "tiny-random/llama", "--examples", "a:b; c:d", "--query-image", str(img)])
    assert code == 2 and "text-only" in capsys.readouterr().err


def test_run_subprocess_unknown_model_no_traceback():
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    p = subprocess.run([sys.executable, "-m", "taskvec", "run", "--model", "nobody/nothing-here", "--examples",
                        "a:b; c:d", "--query-text", "x"], capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 2
    assert "Traceback" not in p.stderr and "organism" in p.stderr
