"""Bad input: a typed error whose message says what to do, and the model left unpatched."""

import pytest
import torch

from conftest import color_image, tiny_adapter
from taskvec.analysis.compare import compare
from taskvec.errors import (ContextLengthError, ImageError, LayerError, ModelLoadError, SpecError,
                            UnsupportedInputError, VectorShapeError)
from taskvec.core.hooks import hooked_modules
from taskvec.data.imageio import load_image
from taskvec.models import load_model
from taskvec.core.patching import generate
from taskvec.core.sweep import layer_sweep
from taskvec.core.prompts import query_prompt
from taskvec.core.specs import Ensemble, ImageExamples, Instruction, TextExamples, parse_examples
from taskvec.core.vectors import TaskVector, extract


def unpatched(a):
    assert hooked_modules(a.decoder_layers) == []


def test_parse_examples_formats_and_line_numbers():
    spec = parse_examples("France : Paris\nItaly -> Rome\n\n# comment\nSpain\tMadrid")
    assert spec.pairs == (("France", "Paris"), ("Italy", "Rome"), ("Spain", "Madrid"))
    assert parse_examples("France:Paris; Italy:Rome", allow_semicolons=True).pairs[1] == ("Italy", "Rome")
    with pytest.raises(SpecError) as e:
        parse_examples("France : Paris\nGermany\nItaly :\n : Rome")
    msg = str(e.value)
    assert "line 2" in msg and "line 3" in msg and "line 4" in msg and "line 1" not in msg


@pytest.mark.parametrize("make", [
    lambda: parse_examples("   \n\n"),
    lambda: TextExamples(()),
    lambda: TextExamples((("France", ""),)),
    lambda: TextExamples((("France",),)),
    lambda: Instruction("  "),
    lambda: Ensemble((), ()),
    lambda: Ensemble((Instruction("x:"),), (1.0, 2.0)),
    lambda: Ensemble((Instruction("x:"),), (-1.0,)),
    lambda: ImageExamples((("not an image", "Paris"),)),
])
def test_empty_or_malformed_specs(make):
    with pytest.raises(SpecError) as e:
        make()
    assert len(str(e.value)) > 20


def test_a_single_example_cannot_make_a_vector():
    a = tiny_adapter("llama")
    with pytest.raises(SpecError, match="at least 2"):
        extract(a, TextExamples((("France", "Paris"),)))
    unpatched(a)


def test_images_on_a_text_only_model():
    a = tiny_adapter("llama")
    spec = ImageExamples(((color_image(1), "Paris"), (color_image(2), "Rome")))
    with pytest.raises(UnsupportedInputError, match="text-only"):
        extract(a, spec)
    with pytest.raises(UnsupportedInputError, match="text-only"):
        compare(a, TextExamples((("France", "Paris"), ("Italy", "Rome"))), color_image(3), layer=1)
    unpatched(a)


def test_not_an_image_and_huge_images(tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("this is text")
    with pytest.raises(ImageError, match="not a readable image"):
        load_image(bad)
    with pytest.raises(ImageError, match="does not exist"):
        load_image(tmp_path / "missing.png")
    big = tmp_path / "big.png"
    color_image(0, (300, 200)).save(big)
    with pytest.raises(ImageError, match="over the limit"):
        load_image(big, max_pixels=10_000)
    assert load_image(big).size == (300, 200)


def test_prompt_longer_than_the_context():
    a = tiny_adapter("llama")
    long_query = "x" * (a.max_context + 10)
    with pytest.raises(ContextLengthError, match="fewer or shorter"):
        generate(a, query_prompt(long_query))
    unpatched(a)


@pytest.mark.parametrize("layer", [99, -99, 1.5, True])
def test_layer_out_of_range(layer):
    a = tiny_adapter("llama")
    v = torch.zeros(a.n_layers + 1, a.hidden_size)
    with pytest.raises(LayerError, match="range|integer"):
        generate(a, query_prompt("Spain"), v, layer)
    with pytest.raises(LayerError):
        layer_sweep(a, query_prompt("Spain"), v, layers=[0, layer])
    unpatched(a)


def test_vector_of_the_wrong_hidden_size():
    a = tiny_adapter("llama")
    with pytest.raises(VectorShapeError, match="hidden size"):
        generate(a, query_prompt("Spain"), torch.zeros(a.hidden_size + 1), 1)
    with pytest.raises(VectorShapeError, match="hidden size"):
        layer_sweep(a, query_prompt("Spain"), torch.zeros(a.n_layers + 1, a.hidden_size + 3))
    unpatched(a)


def test_cross_model_patching_needs_matching_width():
    llm, vlm, same_depth = tiny_adapter("llama"), tiny_adapter("idefics3"), tiny_adapter("llava")
    assert llm.hidden_size == vlm.hidden_size and llm.n_layers != vlm.n_layers
    spec = TextExamples((("France", "Paris"), ("Italy", "Rome"), ("Peru", "Lima")))
    tv = extract(llm, spec, n_examples=2, n_sets=3)
    # one layer's vector from the LLM patches into a VLM of the same width
    out = generate(vlm, query_prompt(color_image(2)), tv.at(1), 1, max_new_tokens=2)
    assert out.top.tokens
    with pytest.raises(VectorShapeError, match="residual layers"):
        generate(vlm, query_prompt(color_image(2)), tv.vectors, 1)
    # the whole (L+1, D) stack transfers to a VLM of the same depth (LLaMA -> LLaVA)
    assert same_depth.n_layers == llm.n_layers
    out = compare(same_depth, spec, color_image(2), layer=2, vector=tv, max_new_tokens=2)
    assert out.patch.top.tokens and out.layer == 2
    unpatched(vlm)
    unpatched(same_depth)


def test_unknown_and_unreachable_models():
    with pytest.raises(ModelLoadError, match="idefics3"):
        load_model("tiny-random/not-a-family")
    with pytest.raises(ModelLoadError, match="organism"):
        load_model("no-such-user/no-such-model-xyz")


def test_saved_vector_round_trip(tmp_path):
    a = tiny_adapter("llama")
    tv = extract(a, TextExamples((("France", "Paris"), ("Italy", "Rome"), ("Peru", "Lima"))), n_examples=2, n_sets=3)
    path = tv.save(tmp_path / "v.safetensors", layer=2)
    back = TaskVector.load(path)
    torch.testing.assert_close(back.vectors, tv.vectors)
    assert back.meta["layer"] == 2 and back.meta["model"] == "tiny-random/llama" and back.meta["modality"] == "text"
    (tmp_path / "junk.safetensors").write_bytes(b"junk")
    with pytest.raises(VectorShapeError, match="not a taskvec"):
        TaskVector.load(tmp_path / "junk.safetensors")
