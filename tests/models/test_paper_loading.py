"""--protocol paper's loading of hub models, checked without a hub or a GPU: the pinned revision and
the official NF4 configuration reach transformers' ``from_pretrained`` calls; weights that cannot
take a revision or a bitsandbytes quantization (plugin models, GGUF checkpoints) refuse them."""

from __future__ import annotations

import sys
import types

import pytest
import torch

from taskvec.errors import ModelLoadError
from taskvec.models import loading
from taskvec.testing import build_tiny


def test_nf4_config_is_the_official_one(monkeypatch):
    monkeypatch.setitem(sys.modules, "bitsandbytes", types.ModuleType("bitsandbytes"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    cfg = loading._quantization("nf4")
    assert cfg.load_in_4bit and not cfg.load_in_8bit
    assert cfg.bnb_4bit_quant_type == "nf4" and cfg.bnb_4bit_use_double_quant is True
    assert cfg.bnb_4bit_compute_dtype == torch.float16


def test_revision_and_quantization_reach_from_pretrained(monkeypatch, tmp_path):
    """Every from_pretrained call of a hub load gets the pinned revision; the model call gets the
    quantization config and a device map (a quantized model is placed by accelerate, not .to())."""
    import transformers as tf

    model, processor = build_tiny("llava")
    calls = []

    def fake(kind, ret):
        def from_pretrained(name, **kw):
            calls.append((kind, name, kw))
            return ret
        return from_pretrained

    monkeypatch.setattr(tf.AutoConfig, "from_pretrained", fake("config", model.config))
    monkeypatch.setattr(tf.AutoModelForImageTextToText, "from_pretrained", fake("model", model))
    monkeypatch.setattr(tf.AutoProcessor, "from_pretrained", fake("processor", processor))
    sentinel = object()
    monkeypatch.setattr(loading, "_quantization", lambda kind: (kind, sentinel))
    pin = "a" * 40
    adapter = loading._load_hf("llava-hf/llava-1.5-7b-hf", pin, torch.float16, "cpu", "nf4")
    assert [c[0] for c in calls] == ["config", "model", "processor"]
    assert all(c[2]["revision"] == pin for c in calls)
    model_kw = calls[1][2]
    assert model_kw["quantization_config"] == ("nf4", sentinel) and model_kw["device_map"] == "cpu"
    assert model_kw["dtype"] == torch.float16
    assert adapter.revision == pin and adapter.describe()["revision"] == pin


@pytest.mark.parametrize("kw, match", [({"revision": "main"}, "revision"), ({"quantization": "nf4"}, "quantization none")])
def test_local_weights_refuse_hub_options(kw, match):
    for name in ("organism", "smollm2", "/nonexistent/model.gguf"):  # refused before any file is read
        with pytest.raises(ModelLoadError, match=match):
            loading.load_model(name, **kw)
    loading.load_model("organism", quantization="none")  # 'none' asks for nothing: fine
