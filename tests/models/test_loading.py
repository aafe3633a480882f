"""The real loading path (`from_pretrained` on a local folder), offline, on saved tiny models; load errors."""

import pytest
import torch

from taskvec.errors import ModelLoadError
from taskvec.models import load_model, registry, resolve_dtype
from taskvec.testing import TINY_NUM_LAYERS, build_tiny, tiny_adapter
from taskvec.core.patching import first_token_logits
from taskvec.core.prompts import query_prompt


@pytest.mark.parametrize("family", ["llama", "idefics3", "qwen2_vl", "llava"])
def test_load_a_saved_folder_like_a_hub_checkpoint(family, tmp_path):
    model, processor = build_tiny(family)
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    a = load_model(str(tmp_path), dtype="fp32", device="cpu")
    assert type(a) is registry.adapter_for(family)  # found by config.model_type, as for a hub checkpoint
    assert a.meaningless_weights is True  # the tiny-random label survives saving
    assert a.n_layers == TINY_NUM_LAYERS[family] and a.model_id == str(tmp_path)
    q = query_prompt("Spain")
    ref = tiny_adapter(family)
    torch.testing.assert_close(first_token_logits(a, q), first_token_logits(ref, q), atol=1e-5, rtol=1e-5)


def test_dtype_choice():
    assert resolve_dtype("auto", "cpu") == torch.float32
    assert resolve_dtype("auto", "cuda") == torch.bfloat16
    with pytest.raises(ModelLoadError, match="dtype"):
        resolve_dtype("float8", "cpu")


def test_unsupported_architecture_names_the_families(tmp_path):
    from transformers import GPT2Config, GPT2LMHeadModel

    GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=50)).save_pretrained(tmp_path)
    with pytest.raises(ModelLoadError) as e:
        load_model(str(tmp_path))
    assert "gpt2" in str(e.value) and "idefics3" in str(e.value) and "qwen2_vl" in str(e.value)


def test_quantization_without_bitsandbytes_says_what_to_install(tmp_path):
    pytest.importorskip("transformers")
    try:
        import bitsandbytes  # noqa: F401
        pytest.skip("bitsandbytes is installed here")
    except ImportError:
        pass
    model, processor = build_tiny("llama")
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    with pytest.raises(ModelLoadError, match="bitsandbytes"):
        load_model(str(tmp_path), quantization="4bit")


def test_unknown_and_unreachable_models():
    with pytest.raises(ModelLoadError, match="idefics3"):
        load_model("tiny-random/not-a-family")
    with pytest.raises(ModelLoadError, match="organism"):
        load_model("no-such-user/no-such-model-xyz")
