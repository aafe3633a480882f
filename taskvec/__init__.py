"""taskvec: cross-modal task vectors in vision-language models.

The notebook API in five lines (``taskvec.api``)::

    import taskvec as tv
    m = tv.load("organism")                     # or a HF id, a local folder, "tiny-random/llama"
    v = m.task_vector(tv.TextExamples([("France", "Paris"), ("Italy", "Rome"), ("Peru", "Lima")]))
    m.generate(tv.load_image("examples/flags/Germany.png"), patch=v, layer=1)   # Generation(text='Berlin', ...)
    cache = m.run_with_cache(["Q:France\\nA:"]); cache.lens(3)                  # logit lens at layer 3

Importing ``taskvec`` is light (no torch, no transformers): the public names below are
loaded on first use. The layers underneath: ``taskvec.core`` (prompts, specs,
activations, patching, sweep, vectors, lens), ``taskvec.models`` (``load_model`` and the
family adapters), ``taskvec.analysis`` (one function per analysis), ``taskvec.data``.
"""

import importlib

__version__ = "0.2.0"

# public name -> the module that defines it (imported on first attribute access)
_LAZY = {
    "load": "taskvec.api",
    "Model": "taskvec.api",
    "Cache": "taskvec.api",
    "TextExamples": "taskvec.api",
    "ImageExamples": "taskvec.api",
    "Ensemble": "taskvec.api",
    "Instruction": "taskvec.core.specs",
    "parse_examples": "taskvec.core.specs",
    "TaskVector": "taskvec.core.vectors",
    "Generation": "taskvec.core.patching",
    "load_image": "taskvec.data.imageio",
    "load_task": "taskvec.data.tasks",
    "TaskvecError": "taskvec.errors",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'taskvec' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


# Composition root: model names served by plugins, as "module:function" strings (nothing is
# imported here; taskvec.models.registry imports the plugin on the first lookup of a name).
from taskvec.models.registry import declare_plugin as _declare_plugin  # noqa: E402  (stdlib only)

_declare_plugin(("organism", "taskvec/organism"), "taskvec.organism.plugin:register")
