"""The notebook API (``taskvec.api``): the same numbers as the core layers it wraps, its input
conversions and errors on a tiny random model, the five-line use on the organism, and a light
``import taskvec``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

import taskvec as tv
from taskvec.analysis.compare import compare
from taskvec.core import specs
from taskvec.core.activations import residuals
from taskvec.core.patching import first_token_logits, generate
from taskvec.core.prompts import query_prompt
from taskvec.core.sweep import layer_sweep
from taskvec.core.vectors import extract
from taskvec.errors import LayerError, SpecError, UnsupportedInputError, VectorShapeError

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ROOT / "examples" / "flags"
PAIRS = [("France", "Paris"), ("Italy", "Rome"), ("Peru", "Lima")]


def _same(a, b) -> None:
    """Two Generations are the same run."""
    assert a.text == b.text and a.token_ids == b.token_ids
    assert torch.allclose(a.first_logits, b.first_logits, atol=1e-5)


# ------------------------------------------------------------------ import and surface


def test_import_taskvec_is_light():
    code = ("import sys, taskvec as tv\n"
            "heavy = [m for m in ('torch', 'transformers', 'gradio') if m in sys.modules]\n"
            "assert not heavy, heavy\n"
            "assert {'load', 'TextExamples', 'TaskVector', 'load_image', '__version__'} <= set(dir(tv))\n"
            "print(tv.__version__)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == tv.__version__


def test_public_names_resolve_and_are_documented():
    import taskvec.api as api

    for name in tv.__all__:
        assert getattr(tv, name) is not None, name
    with pytest.raises(AttributeError):
        tv.no_such_name  # noqa: B018
    for obj in (api.load, api.as_spec, api.Model, api.Cache, api.TextExamples, api.ImageExamples, api.Ensemble):
        doc = obj.__doc__ or ""
        assert "tv." in doc or "m." in doc, f"{obj.__name__}: no usage example in its docstring"
    for cls in (api.Model, api.Cache):
        for name, member in vars(cls).items():
            if not name.startswith("_"):
                doc = (member.fget if isinstance(member, property) else member).__doc__
                assert doc and doc.strip(), f"{cls.__name__}.{name} has no docstring"
    assert issubclass(tv.TaskvecError, ValueError)


def test_spec_constructors_coerce_and_return_core_specs():
    te = tv.TextExamples([["France", "Paris"], ("Italy", "Rome")])
    assert type(te) is specs.TextExamples and te.pairs == (("France", "Paris"), ("Italy", "Rome"))
    assert isinstance(te, tv.TextExamples) and isinstance(specs.parse_examples("a: b"), tv.TextExamples)
    assert tv.TextExamples({"France": "Paris", "Italy": "Rome"}) == te
    assert tv.TextExamples("France: Paris; Italy: Rome") == te
    hash(te)  # a frozen spec stays hashable (tuples, not lists)
    ie = tv.ImageExamples([(FLAGS / "France.png", "Paris"), (str(FLAGS / "Italy.png"), "Rome")])
    assert type(ie) is specs.ImageExamples and ie.pairs[0][0].size[0] > 0
    ens = tv.Ensemble([PAIRS, tv.Instruction("The capital city of the country:")])
    assert type(ens) is specs.Ensemble and ens.weights == (1.0, 1.0) and isinstance(ens.parts[0], specs.TextExamples)
    with pytest.raises(SpecError, match="pair"):
        tv.TextExamples([("France", "Paris", "extra")])
    with pytest.raises(SpecError, match="ambiguous"):
        tv.api.as_spec("The capital city of the country:")
    with pytest.raises(SpecError):
        tv.TextExamples(42)


# ------------------------------------------------------------------ mechanics on a tiny random model


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return tv.load("tiny-random/llama")


@pytest.fixture(scope="module")
def tiny_vector(tiny):
    return tiny.task_vector(tv.TextExamples(PAIRS), n_examples=2, n_sets=3)


def test_load_wraps_the_adapter(tiny):
    a = tiny.adapter
    assert tiny.n_layers == a.n_layers and tiny.hidden_size == a.hidden_size
    assert 0 <= tiny.suggested_layer <= tiny.n_layers
    assert tiny.describe()["layers"] == a.n_layers and "suggested_layer" in tiny.describe()
    assert tv.load(a).adapter is a and tv.load(tiny) is tiny
    assert "layers=" in repr(tiny)


def test_task_vector_equals_core_extract(tiny, tiny_vector):
    core = extract(tiny.adapter, specs.TextExamples(tuple(PAIRS)), n_examples=2, n_sets=3)
    assert isinstance(tiny_vector, tv.TaskVector)
    assert torch.allclose(tiny_vector.vectors, core.vectors)
    assert tiny.task_vector(PAIRS, n_examples=2, n_sets=3).vectors.shape == (tiny.n_layers + 1, tiny.hidden_size)


def test_string_query_with_task_vector_equals_core(tiny, tiny_vector):
    layer = 1
    ours = tiny.generate("Spain", patch=tiny_vector, layer=layer, max_new_tokens=4)
    core = generate(tiny.adapter, query_prompt("Spain"), tiny_vector.vectors, layer, max_new_tokens=4)
    _same(ours, core)
    _same(ours, tiny.generate("Spain", patch=tiny_vector.vectors, layer=layer, max_new_tokens=4))  # tensor = TaskVector
    _same(ours, tiny.generate(["Q:Spain\nA:"], patch=tiny_vector, layer=layer, max_new_tokens=4))  # explicit prompt
    unpatched = generate(tiny.adapter, query_prompt("Spain"), max_new_tokens=4)
    _same(tiny.generate("Spain", max_new_tokens=4), unpatched)
    assert not torch.allclose(ours.first_logits, unpatched.first_logits)  # the patch did something


def test_one_vector_and_default_layer(tiny, tiny_vector):
    L = tiny.suggested_layer
    vec = tiny_vector.vectors[L]  # (D,)
    _same(tiny.generate("Spain", patch=vec, layer=L, max_new_tokens=2),
          generate(tiny.adapter, query_prompt("Spain"), vec, L, max_new_tokens=2))
    _same(tiny.generate("Spain", patch=tiny_vector, max_new_tokens=2),
          tiny.generate("Spain", patch=tiny_vector, layer=L, max_new_tokens=2))
    added = tiny.generate("Spain", patch=vec, layer=L, mode="add", scale=0.5, max_new_tokens=2)
    _same(added, generate(tiny.adapter, query_prompt("Spain"), vec, L, "add", 0.5, max_new_tokens=2))


def test_bad_patches_and_queries_raise_taskvec_errors(tiny, tiny_vector):
    with pytest.raises(VectorShapeError, match="hidden size"):
        tiny.generate("Spain", patch=torch.zeros(tiny.hidden_size + 3), layer=1)
    with pytest.raises(VectorShapeError):
        tiny.generate("Spain", patch=torch.zeros(2, 3, tiny.hidden_size), layer=1)
    with pytest.raises(VectorShapeError):
        tiny.generate("Spain", patch=torch.zeros(tiny.n_layers + 5, tiny.hidden_size), layer=1)
    with pytest.raises(tv.TaskvecError, match="mode"):
        tiny.generate("Spain", patch=tiny_vector, mode="swap")
    with pytest.raises(LayerError):
        tiny.generate("Spain", patch=tiny_vector, layer=tiny.n_layers + 1)
    with pytest.raises(UnsupportedInputError):
        tiny.generate(tv.load_image(FLAGS / "Germany.png"), patch=tiny_vector, layer=1)
    with pytest.raises(UnsupportedInputError):
        tiny.run_with_cache(["Q:", tv.load_image(FLAGS / "Germany.png"), "\nA:"])
    with pytest.raises(SpecError, match="empty"):
        tiny.generate("   ")
    with pytest.raises(SpecError):
        tiny.generate(3.5)
    with pytest.raises(SpecError):
        tiny.compare(PAIRS, ["Q:Spain\nA:"])
    with pytest.raises(VectorShapeError):
        tiny.compare(PAIRS, "Spain", vector=tiny_vector.vectors)


def test_sweep_equals_core(tiny, tiny_vector):
    ours = tiny.sweep("Spain", tiny_vector)
    core = layer_sweep(tiny.adapter, query_prompt("Spain"), tiny_vector.vectors)
    assert ours.layers == core.layers == list(range(tiny.n_layers + 1))
    assert torch.allclose(ours.logits, core.logits, atol=1e-5)


def test_run_with_cache(tiny):
    prompts = ["Q:France\nA:", "Q:Peru\nA:"]
    cache = tiny.run_with_cache(prompts)
    B, L1, P, D = cache.values.shape
    assert (B, L1, P, D) == (2, tiny.n_layers + 1, 1, tiny.hidden_size) and len(cache) == 2
    core = residuals(tiny.adapter, [[p] for p in prompts])
    assert torch.allclose(cache.at_delimiter(), core.at_delimiter)
    assert torch.allclose(cache.at_delimiter(2), core.at_delimiter[:, 2])
    # the lens at the last layer is the model's own next-token distribution (prompts end at ':')
    for i, p in enumerate(prompts):
        assert torch.allclose(cache.logits(tiny.n_layers)[i], first_token_logits(tiny.adapter, [p]).cpu(), atol=1e-4)
    top = cache.lens(1, k=3)
    assert len(top) == 2 and len(top[0].tokens) == 3
    assert top[0].ids[0] == int(cache.logits(1)[0].argmax())
    assert cache.lens_layers(k=3)[0].tokens[1] == top[0].tokens
    assert "prompts=2" in repr(cache)
    with pytest.raises(LayerError):
        cache.lens(tiny.n_layers + 1)


def test_run_with_cache_inputs_and_positions(tiny):
    one = tiny.run_with_cache("Q:France\nA:")
    assert one.values.shape[0] == 1
    at = tiny.run_with_cache("Q:France\nA:", positions=[0, 1])
    assert at.positions.tolist() == [[0, 1]] and at.values.shape[2] == 2
    assert torch.allclose(tiny.run_with_cache([["Q:France\nA:"]]).values, one.values)
    with pytest.raises(SpecError, match="delimiter"):
        tiny.run_with_cache(["no delimiter here"])
    with pytest.raises(SpecError, match="positions"):
        tiny.run_with_cache("Q:France\nA:", positions=[0, 10_000])
    with pytest.raises(SpecError, match="positions"):
        tiny.run_with_cache(["Q:France\nA:", "Q:Peru\nA:"], positions=[[0], [0, 1]])
    with pytest.raises(SpecError, match="positions"):
        tiny.run_with_cache("Q:France\nA:", positions=7)
    with pytest.raises(SpecError):
        tiny.run_with_cache([["Q:France\nA:"], 3])
    assert tiny.run_with_cache("Q:France\nA:", positions=torch.tensor([0, 1])).positions.tolist() == [[0, 1]]
    with pytest.raises(tv.TaskvecError, match="position"):
        at.lens(1, position=5)


# ------------------------------------------------------------------ the five lines on the organism


@pytest.fixture(scope="module")
def organism():
    return tv.load("organism")


def test_five_lines_on_the_organism(organism):
    m = organism
    v = m.task_vector(tv.TextExamples([("France", "Paris"), ("Italy", "Rome"), ("Peru", "Lima")]))
    flag = tv.load_image("examples/flags/Germany.png" if Path("examples").is_dir() else FLAGS / "Germany.png")
    g = m.generate(flag, patch=v, layer=1)
    assert isinstance(g, tv.Generation) and g.text == "Berlin"
    c = compare(m.adapter, specs.TextExamples(tuple(PAIRS)), flag, layer=1)
    assert c.patch.text == g.text and torch.allclose(c.patch.first_logits, g.first_logits, atol=1e-5)
    assert m.compare(PAIRS, flag, layer=1).as_dict() == c.as_dict()
    cache = m.run_with_cache(["Q:France\nA:"])
    top = cache.lens(3)
    assert len(top) == 1 and len(top[0].tokens) == 5 and 0 < sum(top[0].probs) <= 1 + 1e-5
    assert m.generate(FLAGS / "Germany.png", patch=v, layer=1).text == "Berlin"  # an image path works too
