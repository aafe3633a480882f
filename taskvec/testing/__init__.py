"""Test helpers: tiny random-weight models of every family, built offline, and test images.

``build_tiny(family, seed=0) -> (model, processor)`` and ``tiny_adapter(family)`` (one
adapter per family per process); ``family`` is a model type from ``TINY_FAMILIES``. The
tables below are derived from the family files (``taskvec/models/families/*.py``). Importing
this module changes no environment variable: tests set HF_HUB_OFFLINE themselves.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from PIL import Image

from taskvec.errors import ModelLoadError
from taskvec.models import registry
from taskvec.models.base import Adapter
from taskvec.models.loading import TINY_PREFIX, build_tiny, load_model

__all__ = ["TEXT_ONLY_FAMILIES", "TINY_FAMILIES", "TINY_NOTES", "TINY_NUM_LAYERS", "build_tiny", "color_image",
           "image_placeholder", "layers_path", "tiny_adapter"]

TINY_FAMILIES: tuple[str, ...] = registry.model_types()
TEXT_ONLY_FAMILIES: frozenset[str] = frozenset(t for f in registry.families() if f.text_only for t in f.model_types)
TINY_NUM_LAYERS: dict[str, int] = {t: registry.family_for(t).tiny[t].layers for t in TINY_FAMILIES}
TINY_NOTES: dict[str, str] = {t: registry.family_for(t).tiny[t].notes for t in TINY_FAMILIES}


@lru_cache(maxsize=None)
def tiny_adapter(family: str) -> Adapter:
    """One tiny random-weight adapter per family per process (models are never mutated)."""
    return load_model(f"{TINY_PREFIX}{family}")


def color_image(seed: int, size=(40, 30)) -> Image.Image:
    """A seeded random-noise RGB image of ``size`` (width, height)."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))  # (H, W, 3)


def image_placeholder(family: str) -> str | None:
    """The text a prompt uses for one image in ``family`` (None for text-only models and Fuyu)."""
    if family not in TINY_FAMILIES:
        raise ModelLoadError(f"No tiny model for family {family!r}. Available families: {', '.join(TINY_FAMILIES)}.")
    cls = registry.adapter_for(family)
    if cls.image_placeholder is None and not registry.family_for(family).text_only:
        return tiny_adapter(family).image_placeholder or None  # a VLM whose adapter reads it from the processor
    return cls.image_placeholder or None


def layers_path(adapter: Adapter) -> str:
    """The attribute path of the adapter's decoder layers in its model (e.g. ``model.layers``), or of the
    ModuleList holding them where the adapter lists a subset (mllama: its self-attention layers)."""
    for name, module in adapter.model.named_modules():
        if module is adapter.decoder_layers:
            return name
    for name, module in adapter.model.named_modules():
        if isinstance(module, torch.nn.ModuleList) and all(any(l is m for m in module) for l in adapter.decoder_layers):
            return name
    raise AssertionError(f"{adapter.family}: decoder layers are not a submodule of the model")
