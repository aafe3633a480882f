"""``--protocol``, ``--layer-convention`` and ``--quantization`` on the eval / run / figures CLIs,
and the two crashes issue 14 found (an instruction without ':', an all-special decode)."""

from __future__ import annotations

import argparse
import json

import pytest
import torch

from taskvec.cli import main
from taskvec.cli.eval import loading_plan

TASKS = "country-capital,food-color"
SMALL = ["--limit-val", "4", "--limit-test", "4", "--seeds", "1", "--n-sets", "3", "--no-png"]


def _eval(out, *extra, model="tiny-random/llava"):
    return main(["eval", "--model", model, "--tasks", TASKS, "--out", str(out), *SMALL, *extra])


def test_eval_paper_records_protocol_and_layers(tmp_path, capsys):
    assert _eval(tmp_path, "--protocol", "paper") == 0
    printed = capsys.readouterr().out
    assert "protocol paper; layer: official rule without a fixed layer" in printed and "official L = [" in printed
    doc = json.loads((tmp_path / "results.json").read_text())
    (group, s), = doc["summaries"].items()
    assert group == "text-to-image_n5_paper" and doc["protocol"] == "paper" and s["protocol"] == "paper"
    assert s["seeds"] == [1]  # the official seeds start at 1
    assert s["best_layer_per_seed_official"] == [s["best_layer_per_seed"][0] - 1] and s["chosen_layer"] >= 1
    assert "official L = l - 1" in s["layer_convention"]
    # what was loaded, not what the preset asks of hub models: a tiny local model is not NF4
    assert doc["loading"] == [{"model": {"revision": None, "dtype": "float32", "quantization": "none"},
                               "source_model": None}]
    assert "not a hub model" in printed and unit_loading(tmp_path) == doc["loading"][0]
    unit = json.loads(next((tmp_path / "units").glob("*.json")).read_text())
    assert unit["protocol"]["name"] == "paper" and unit["unit"]["protocol"] == "paper"
    assert unit["fixed_layer"] is None and unit["fingerprint"]["protocol"] == "paper"
    # the default protocol in the same folder computes its own units (keys and fingerprints differ)
    assert _eval(tmp_path) == 0
    assert "2 to compute" in capsys.readouterr().out
    default = json.loads((tmp_path / "units" / "text-to-image_n5__country-capital__seed0.json").read_text())
    assert default["protocol"]["name"] == "taskvec" and "protocol" not in default["fingerprint"]


def unit_loading(folder):
    return json.loads(next((folder / "units").glob("*.json")).read_text())["loading"]


def test_eval_paper_fig6_needs_multiples_of_five(tmp_path, capsys):
    assert _eval(tmp_path, "--protocol", "paper", "--ensemble-sweep", "3,5") == 2
    assert "multiple of 5" in capsys.readouterr().err


def _args(**kw):
    base = dict(model="organism", revision=None, dtype="auto", protocol="taskvec", quantization="auto", source_model=None)
    return argparse.Namespace(**{**base, **kw})


def test_loading_plan_pins_revisions_and_nf4_for_official_hub_models():
    a = _args(model="HuggingFaceM4/idefics2-8b", protocol="paper")
    assert loading_plan(a, a.model) == {"revision": "2c42686c57fe21cf0348c9ce1077d094b72e7698", "dtype": "fp16",
                                        "quantization": "nf4"}
    a = _args(model="llava-hf/llava-1.5-7b-hf", protocol="paper", quantization="none", revision="main")
    assert loading_plan(a, a.model) == {"revision": "main", "dtype": "auto", "quantization": None}
    a = _args(model="HuggingFaceM4/idefics2-8b")  # taskvec: latest, unquantized, as before
    assert loading_plan(a, a.model) == {"revision": None, "dtype": "auto", "quantization": None}
    a = _args(protocol="paper")  # the organism is a plugin model: loaded as it is
    assert loading_plan(a, a.model)["quantization"] is None
    from taskvec.errors import UnsupportedInputError

    with pytest.raises(UnsupportedInputError, match="Mantis"):
        loading_plan(_args(model="TIGER-Lab/Mantis-8B-Fuyu", protocol="paper"), "TIGER-Lab/Mantis-8B-Fuyu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without a GPU")
def test_nf4_without_gpu_says_what_to_do():
    from taskvec.errors import ModelLoadError
    from taskvec.models.loading import _quantization

    with pytest.raises(ModelLoadError, match="--quantization none"):
        _quantization("nf4")


def test_run_accepts_official_layer_numbering(capsys):
    argv = ["run", "--model", "tiny-random/llava", "--examples", "France:Paris; Italy:Rome; Peru:Lima",
            "--query-text", "Spain", "--max-new-tokens", "1"]
    assert main(argv + ["--layer", "1", "--layer-convention", "official", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["layer"] == 2 and out["layer_official"] == 1 and out["protocol"] == "taskvec"
    assert main(argv + ["--layer", "2", "--protocol", "paper"]) == 0
    assert "layer 2 (taskvec residual l) = official L=1" in capsys.readouterr().out
    assert main(argv + ["--layer", "4", "--layer-convention", "official"]) == 2  # tiny LLaVA: L in 0..3
    assert "0..3" in capsys.readouterr().err


def test_instruction_without_delimiter_is_a_typed_error(capsys):
    """Crash 2: an instruction without ':' fails with a DelimiterError (a TaskvecError), exit 2."""
    assert main(["run", "--model", "tiny-random/llava", "--instruction", "The capital city of the country",
                 "--query-text", "Spain", "--max-new-tokens", "1"]) == 2
    assert "delimiter ':'" in capsys.readouterr().err
    # --protocol paper reads the instruction's last token instead, as the official code does
    assert main(["run", "--model", "tiny-random/llava", "--instruction", "The capital city of the country",
                 "--query-text", "Spain", "--max-new-tokens", "1", "--protocol", "paper", "--layer", "1"]) == 0


def test_all_special_generation_decodes_to_empty_text():
    """Crash 1: the organism's tokenizer panics (a BaseException) decoding only special ids;
    ``patching.generate(..., max_new_tokens=1)`` forced onto each special token returns ''."""
    from taskvec.core.patching import decode_text, generate, special_ids
    from taskvec.core.prompts import query_prompt
    from taskvec.models import load_model

    a = load_model("organism")
    specials = sorted(special_ids(a.tokenizer))
    assert specials and decode_text(a.tokenizer, specials) == ""
    for s in specials:  # the last residual along the unembedding row of ``s``: greedy picks ``s``
        v = torch.zeros(a.n_layers + 1, a.hidden_size)
        v[a.n_layers] = a.lm_head.weight[s].detach().float() * 50
        g = generate(a, query_prompt("Spain"), v, a.n_layers, max_new_tokens=1)
        assert g.text == ""
