"""Models: ``load_model(name) -> Adapter``, the family registry, the adapter base.

- ``loading``: ``load_model`` (HF id / local folder, ``tiny-random/<model_type>``, plugin names),
  ``resolve_dtype``, ``resolve_device``, quantization;
- ``registry``: families and named loaders (see its docstring for how plugins register);
- ``families/<family>.py``: every fact of one family and its tiny random build;
- ``base``: ``Adapter`` and ``Encoded``.

The names below are imported on first use, so that ``taskvec.models.registry`` (stdlib only)
can be imported by the composition root without torch.
"""

from __future__ import annotations

import importlib

# public name -> the module that defines it
_LAZY = {
    "Adapter": "taskvec.models.base",
    "Encoded": "taskvec.models.base",
    "load_model": "taskvec.models.loading",
    "resolve_dtype": "taskvec.models.loading",
    "resolve_device": "taskvec.models.loading",
    "DEFAULT_REAL_MODEL": "taskvec.models.loading",
    "supported_families": "taskvec.models.registry",
}

__all__ = [*_LAZY, "SUGGESTED"]


def __getattr__(name: str):
    if name == "SUGGESTED":  # checkpoint -> label, from the family files
        from taskvec.models.registry import suggested

        value = suggested()
    elif name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    else:
        raise AttributeError(f"module 'taskvec.models' has no attribute {name!r}")
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
