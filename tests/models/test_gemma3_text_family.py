"""Gemma 3 text-only models (``gemma3_text``: Gemma 3 270M / 1B): their own family, text-only loading,
the softcap in the lens exactly when the model's forward applies it."""

import copy

import pytest
import torch

from taskvec.core.activations import residuals
from taskvec.core.patching import first_token_logits
from taskvec.core.prompts import query_prompt
from taskvec.errors import UnsupportedInputError
from taskvec.models import registry
from taskvec.models.families.gemma3 import _forward_applies_softcap
from taskvec.testing import build_tiny, color_image, tiny_adapter


def test_gemma3_text_is_a_text_only_family():
    fam = registry.family_for("gemma3_text")
    assert fam.text_only and fam.name == "gemma3_text" and fam is not registry.family_for("gemma3")
    a = tiny_adapter("gemma3_text")
    assert type(a.model).__name__ == "Gemma3ForCausalLM" and not a.supports_images and not a.packed_sweep
    with pytest.raises(UnsupportedInputError, match="text-only"):
        a.encode([query_prompt(color_image(0))])


def test_which_gemma3_classes_apply_the_softcap():
    from transformers import Gemma3ForCausalLM, Gemma3ForConditionalGeneration

    assert _forward_applies_softcap(Gemma3ForCausalLM)  # transformers 5.23: the text model caps its logits
    assert not _forward_applies_softcap(Gemma3ForConditionalGeneration)  # the VLM does not


@pytest.mark.parametrize("cap", [None, 0.1])
def test_softcapped_text_model_lens_is_its_logits(cap):
    model, tok = build_tiny("gemma3_text")
    cfg = copy.deepcopy(model.config)
    cfg.final_logit_softcapping = cap
    torch.manual_seed(0)
    a = registry.adapter_for("gemma3_text")(type(model)(cfg).eval(), tok, "tiny-random/gemma3_text-cap",
                                             meaningless_weights=True)
    assert a.softcap() == cap
    q = query_prompt("Spain")
    last = int(a.encode([q]).lengths[0]) - 1
    h = residuals(a, [q], positions=[[last]]).values[0, -1, 0]  # (D,)
    torch.testing.assert_close(a.lens(h), first_token_logits(a, q), atol=1e-5, rtol=1e-4)
