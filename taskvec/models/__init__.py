"""Model loading: a Hugging Face id or local folder, a tiny random model, or the organism.

``load_model(name)`` returns the family's adapter. Names:
- ``organism``: the project's trained offline model (assets/organism);
- ``tiny-random/<family>``: a tiny random-weight model of a family (meaningless weights);
- any Hugging Face id or local folder of a supported family.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from taskvec.errors import ModelLoadError
from taskvec.models.base import Adapter, Encoded
from taskvec.models.families import ADAPTERS

DEFAULT_REAL_MODEL = "HuggingFaceTB/SmolVLM-256M-Instruct"
ORGANISM_NAMES = ("organism", "taskvec/organism")  # names that load the shipped organism
TEXT_ONLY = {"llama", "mistral", "qwen2"}

# The checkpoint a user would try first, per family (documentation and the model picker).
SUGGESTED = {
    "HuggingFaceTB/SmolVLM-256M-Instruct": "idefics3 (SmolVLM)",
    "HuggingFaceTB/SmolVLM2-256M-Video-Instruct": "smolvlm (SmolVLM2)",
    "HuggingFaceM4/idefics2-8b": "idefics2 (the paper's best)",
    "llava-hf/llava-1.5-7b-hf": "llava",
    "llava-hf/llava-onevision-qwen2-0.5b-ov-hf": "llava_onevision",
    "Qwen/Qwen2.5-VL-3B-Instruct": "qwen2_5_vl",
    "adept/fuyu-8b": "fuyu",
    "google/gemma-3-4b-it": "gemma3",
    "HuggingFaceTB/SmolLM2-135M-Instruct": "llama (base LLM of SmolVLM-256M)",
    "mistralai/Mistral-7B-v0.1": "mistral (base LLM of Idefics2)",
    "lmsys/vicuna-7b-v1.5": "llama (base LLM of LLaVA-1.5)",
    "Qwen/Qwen2-0.5B-Instruct": "qwen2 (base LLM of LLaVA-OneVision 0.5B)",
}


def supported_families() -> list[str]:
    return sorted(ADAPTERS)


def _adapter_for(model_type: str, name: str) -> type[Adapter]:
    if model_type not in ADAPTERS:
        raise ModelLoadError(
            f"{name}: architecture {model_type!r} is not supported. Supported families: "
            f"{', '.join(supported_families())}. Try e.g. {DEFAULT_REAL_MODEL}."
        )
    return ADAPTERS[model_type]


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


def load_model(name: str, revision: str | None = None, dtype: str | torch.dtype = "auto", device: str = "auto",
               quantization: str | None = None) -> Adapter:
    """Load ``name`` and wrap it in its family's adapter."""
    device = resolve_device(device)
    if name in ORGANISM_NAMES:
        from taskvec.organism import load_organism

        model, processor = load_organism(device=device)
        return ADAPTERS["taskvec-organism"](model, processor, "organism")
    if name.startswith("tiny-random/"):
        from taskvec.testing.tiny import build_tiny

        family = name.split("/", 1)[1]
        model, processor = build_tiny(family)
        cls = _adapter_for(model.config.model_type, name)
        return cls(model.to(device), processor, name, meaningless_weights=True)
    return _load_hf(name, revision, resolve_dtype(dtype, device), device, quantization)


def _load_hf(name: str, revision: str | None, dtype: torch.dtype, device: str, quantization: str | None) -> Adapter:
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
    kwargs: dict[str, Any] = {"revision": revision, "dtype": dtype}
    if quantization:
        kwargs["quantization_config"] = _quantization(quantization)
        kwargs["device_map"] = device
    auto = tf.AutoModelForCausalLM if config.model_type in TEXT_ONLY else tf.AutoModelForImageTextToText
    try:
        model = auto.from_pretrained(name, **kwargs)
        if not quantization:
            model = model.to(device)
        processor = (tf.AutoTokenizer if config.model_type in TEXT_ONLY else tf.AutoProcessor).from_pretrained(
            name, revision=revision, **({} if config.model_type in TEXT_ONLY else _processor_kwargs(config.model_type)))
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"Found the config of {name!r} but not its weights or processor: "
                             f"{str(e).splitlines()[0]}. Download the full repository or use `organism`.") from None
    meaningless = bool(getattr(model.config, "_taskvec_tiny_random", False))  # a saved tiny-random model
    return cls(model, processor, name, revision, meaningless_weights=meaningless)


def _processor_kwargs(model_type: str) -> dict:
    # The paper used single images without splitting into tiles.
    return {"do_image_splitting": False} if model_type in ("idefics3", "smolvlm", "idefics2") else {}


def _quantization(kind: str):
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise ModelLoadError(f"{kind} quantization needs bitsandbytes (`pip install bitsandbytes`) and a GPU.") from None
    from transformers import BitsAndBytesConfig

    if kind == "4bit":
        return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_compute_dtype=torch.bfloat16)
    if kind == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    raise ModelLoadError(f"Unknown quantization {kind!r}; use 4bit or 8bit.")


__all__ = ["Adapter", "Encoded", "load_model", "supported_families", "DEFAULT_REAL_MODEL", "SUGGESTED"]
