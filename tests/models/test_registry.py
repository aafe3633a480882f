"""The family registry and the plugin boundary: one file per family, no side effects, lazy plugins."""

import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import taskvec.models.families as families_pkg
from taskvec.models import load_model, registry
from taskvec.models.families import FAMILY_MODULES
from taskvec.testing import TINY_FAMILIES

ROOT = Path(__file__).resolve().parents[2]

# family (one file in taskvec/models/families/) -> the config model types it serves
FAMILY_TYPES = {"idefics3": ("idefics3", "smolvlm"), "idefics2": ("idefics2",), "llava": ("llava",),
                "llava_onevision": ("llava_onevision",),
                "llava_style": ("llava_next", "llava_next_video", "vipllava", "video_llava"),
                "mistral3": ("mistral3",), "internvl": ("internvl",),
                "aya_vision": ("aya_vision",), "qwen2_vl": ("qwen2_vl", "qwen2_5_vl"),
                "qwen3_vl": ("qwen3_vl", "qwen3_vl_moe"), "glm4v": ("glm4v", "glm4v_moe", "glm46v"),
                "qwen3_5": ("qwen3_5", "qwen3_5_moe"), "lfm2_vl": ("lfm2_vl",), "molmo2": ("molmo2",), "fuyu": ("fuyu",),
                "gemma3": ("gemma3",), "gemma3n": ("gemma3n",), "gemma4": ("gemma4",), "paligemma": ("paligemma",),
                "mllama": ("mllama",), "llama4": ("llama4",), "deepseek_vl": ("deepseek_vl",),
                "perception_lm": ("perception_lm",), "cohere2_vision": ("cohere2_vision",),
                "gemma3_text": ("gemma3_text",), "causal_lm": ("llama", "mistral", "qwen2")}


def test_loading_a_tiny_model_leaves_the_environment_alone(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert load_model("tiny-random/llama").meaningless_weights
    assert "HF_HUB_OFFLINE" not in os.environ
    before = dict(os.environ)  # after a first load: torch sets TORCHINDUCTOR_CACHE_DIR once, lazily
    load_model("tiny-random/llama")
    assert dict(os.environ) == before
    env = {k: v for k, v in os.environ.items() if k != "TRANSFORMERS_OFFLINE"}
    code = "import os, taskvec.testing; assert 'HF_HUB_OFFLINE' not in os.environ"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=env)  # nor at import


def test_models_never_import_the_organism_but_load_it_by_name():
    code = ("import sys, taskvec.models; assert 'taskvec.organism' not in sys.modules; "
            "assert 'torch' not in sys.modules, 'taskvec.models is light until used'; "
            "from taskvec.models import supported_families, SUGGESTED; supported_families(); "
            "assert 'taskvec.organism' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)  # `-c` puts ROOT first on sys.path
    from taskvec.organism.plugin import NAMES, OrganismAdapter

    assert set(NAMES) <= set(registry.plugin_names())  # declared at the composition root
    a = load_model("organism")
    assert type(a) is OrganismAdapter and a.family == "organism" and a.supports_images
    assert registry.named_loader("taskvec/organism").adapter is OrganismAdapter
    assert registry.named_loader("HuggingFaceTB/SmolVLM-256M-Instruct") is None


def test_every_family_has_one_file_and_a_tiny_builder():
    files = {m.name for m in pkgutil.iter_modules(families_pkg.__path__)}
    assert files == set(FAMILY_MODULES)
    fams = registry.families()
    assert sorted(f.module for f in fams) == sorted(f"taskvec.models.families.{m}" for m in FAMILY_MODULES)
    for m in FAMILY_MODULES:  # exactly one registration in each file
        assert (Path(families_pkg.__path__[0]) / f"{m}.py").read_text().count("register_family(") == 1, m
    types = [t for f in fams for t in f.model_types]
    assert len(types) == len(set(types)) and set(types) == set(TINY_FAMILIES)
    assert {f.name: f.model_types for f in fams} == FAMILY_TYPES
    for f in fams:
        assert callable(f.build_tiny) and set(f.tiny) == set(f.model_types)
        assert all(2 <= s.layers <= 4 and s.notes for s in f.tiny.values())
        assert registry.family_named(f.name) is f
        assert all(registry.family_for(t) is f and registry.adapter_for(t) is f.adapter for t in f.model_types)


def test_a_model_type_belongs_to_one_family():
    llama = registry.family_for("llama")
    clash = registry.Family(name="other", model_types=("llama",), adapter=llama.adapter, text_only=True,
                            build_tiny=llama.build_tiny, tiny={"llama": llama.tiny["llama"]})
    with pytest.raises(ValueError, match="llama"):
        registry.register_family(clash)
    assert registry.family_named("other") is None and registry.family_for("llama") is llama
    with pytest.raises(ValueError, match="tiny"):
        registry.Family(name="x", model_types=("a", "b"), adapter=llama.adapter, text_only=True,
                        build_tiny=llama.build_tiny, tiny={"a": llama.tiny["llama"]})


def test_suggested_checkpoints_come_from_the_family_files():
    from taskvec.models import DEFAULT_REAL_MODEL, SUGGESTED

    assert {DEFAULT_REAL_MODEL, "HuggingFaceM4/idefics2-8b", "llava-hf/llava-1.5-7b-hf"} <= set(SUGGESTED)
    assert len(SUGGESTED) == sum(len(f.suggested) for f in registry.families())  # no checkpoint in two files
    for f in registry.families():
        for checkpoint, label in f.suggested.items():  # each label starts with one of its family's model types
            assert SUGGESTED[checkpoint] == label and label.split()[0] in f.model_types, (f.name, checkpoint)
    assert registry.family_for("idefics3").processor_kwargs == {"do_image_splitting": False}
