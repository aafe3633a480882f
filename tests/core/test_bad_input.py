"""Bad input: a typed error whose message says what to do, and the model left unpatched."""

import pytest
import torch

from taskvec.testing import color_image, tiny_adapter
from taskvec.analysis.compare import compare
from taskvec.errors import (ContextLengthError, LayerError, SpecError,
                            UnsupportedInputError, VectorShapeError)
from taskvec.core.hooks import hooked_modules
from taskvec.core.patching import first_token_logits, generate, make_patch
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
    # pairs run together with commas are refused by name, not read as one pair with the answer "Paris,Italy:Rome"
    with pytest.raises(SpecError, match="line 1: .* holds several examples; separate them with newlines or ';'"):
        parse_examples("France:Paris,Italy:Rome,Peru:Lima", allow_semicolons=True)
    with pytest.raises(SpecError, match="one per line"):
        parse_examples("France -> Paris, Italy -> Rome")
    # an answer with a comma (and no second pair) stays an answer
    assert parse_examples("Washington : Washington, D.C.\nPeru : Lima").pairs[0] == ("Washington", "Washington, D.C.")


@pytest.mark.parametrize("make, needle", [
    (lambda: parse_examples("   \n\n"), "No examples found"),
    (lambda: TextExamples(()), "at least two"),
    (lambda: TextExamples((("France", ""),)), "Example 1 of the text examples has no answer"),
    (lambda: TextExamples((("France",),)), "not an (input, answer) pair"),
    (lambda: Instruction("  "), "instruction is empty"),
    (lambda: Ensemble((), ()), "at least one specification"),
    (lambda: Ensemble((Instruction("x:"),), (1.0, 2.0)), "1 parts, 2 weights"),
    (lambda: Ensemble((Instruction("x:"),), (-1.0,)), ">= 0"),
    (lambda: ImageExamples((("not an image", "Paris"),)), "got str"),
])
def test_empty_or_malformed_specs(make, needle):
    with pytest.raises(SpecError) as e:
        make()
    assert needle in str(e.value)


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
    # one layer's vector from the LLM patches into a VLM of the same width: the VLM's answer is the
    # one with that vector written at its delimiter, not its unpatched answer
    q = query_prompt(color_image(2))
    out = generate(vlm, q, tv.at(1), 1, max_new_tokens=2)
    patched = first_token_logits(vlm, q, lambda enc: [make_patch(vlm, enc, tv.at(1), 1)])
    torch.testing.assert_close(out.first_logits, patched, atol=2e-4, rtol=1e-4)
    assert not torch.allclose(out.first_logits, first_token_logits(vlm, q), atol=1e-4)
    with pytest.raises(VectorShapeError, match="residual layers"):
        generate(vlm, q, tv.vectors, 1)
    # the whole (L+1, D) stack transfers to a VLM of the same depth (LLaMA -> LLaVA)
    assert same_depth.n_layers == llm.n_layers
    out = compare(same_depth, spec, color_image(2), layer=2, vector=tv, max_new_tokens=2)
    assert out.layer == 2
    direct = generate(same_depth, q, tv.vectors, 2, max_new_tokens=1)
    torch.testing.assert_close(out.patch.first_logits, direct.first_logits)
    unpatched(vlm)
    unpatched(same_depth)


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
