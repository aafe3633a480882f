"""The registry of model families and named loaders (stdlib only: no torch at import).

Families. Each file in ``taskvec/models/families/`` holds every fact of one family and
calls ``register_family(Family(...))`` at import. The registry imports those files on the
first lookup (``FAMILY_MODULES`` in ``taskvec.models.families`` lists them in display order).

Named loaders (plugins). A name such as ``organism`` can load a model that is not a hub
family. A plugin is declared as a string, ``declare_plugin(names, "module:function")``, at
the composition root (``taskvec/__init__.py``); nothing is imported then. On the first
lookup of one of those names the registry imports ``module``, calls ``function()``, and
that function calls ``register_loader(names, load, adapter)``. So ``taskvec.models`` never
imports a plugin (e.g. ``taskvec.organism``); the plugin depends on ``taskvec.models``.
(A string table rather than Python entry points: it works the same from a source checkout
that was never pip-installed, as on the lecture laptop and in the tests.)
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

if TYPE_CHECKING:
    from taskvec.models.base import Adapter


@dataclass(frozen=True)
class TinySpec:
    """A tiny random-weight model of one model type: its decoder depth and what to know about it."""

    layers: int
    notes: str


@dataclass(frozen=True)
class Family:
    """Every fact of one model family.

    ``model_types``: the ``config.model_type`` values it serves (also the names of its tiny
    models, ``tiny-random/<model_type>``). ``text_only``: loaded with AutoModelForCausalLM +
    AutoTokenizer, else AutoModelForImageTextToText + AutoProcessor. ``build_tiny(model_type,
    seed) -> (model, processor)`` builds a tiny model offline; ``tiny`` describes each one.
    ``suggested``: checkpoint -> label for the docs and the model picker.
    """

    name: str
    model_types: tuple[str, ...]
    adapter: type[Adapter]
    text_only: bool
    build_tiny: Callable[[str, int], tuple]
    tiny: Mapping[str, TinySpec]
    suggested: Mapping[str, str] = field(default_factory=dict)
    processor_kwargs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if set(self.tiny) != set(self.model_types):
            raise ValueError(f"family {self.name}: tiny specs for {sorted(self.tiny)}, "
                             f"model types {sorted(self.model_types)}; give one spec per model type.")

    @property
    def module(self) -> str:
        """The module that defines this family (where its tiny builder lives)."""
        return self.build_tiny.__module__


@dataclass(frozen=True)
class NamedLoader:
    """A plugin's loader: ``load(name, device) -> Adapter`` for each of ``names``; ``files``: the folder
    holding its weights (so results can be fingerprinted by the files they came from), if any."""

    names: tuple[str, ...]
    load: Callable[[str, str], Adapter]
    adapter: type[Adapter]
    files: object = None  # a pathlib.Path or None


_FAMILIES: dict[str, Family] = {}  # family name -> family
_BY_TYPE: dict[str, Family] = {}  # model_type -> family
_LOADERS: dict[str, NamedLoader] = {}  # name -> loader
_PLUGINS: dict[str, str] = {}  # name -> "module:function", imported on first lookup
_discovered = False


def register_family(family: Family) -> Family:
    """Add ``family``; a name or model type may be registered by one family only."""
    if family.name in _FAMILIES and _FAMILIES[family.name] is not family:
        raise ValueError(f"family {family.name!r} is registered twice ({_FAMILIES[family.name].module}, "
                         f"{family.module}); keep one file per family.")
    taken = [t for t in family.model_types if t in _BY_TYPE and _BY_TYPE[t] is not family]
    if taken:
        raise ValueError(f"model types {taken} of {family.name!r} already belong to "
                         f"{_BY_TYPE[taken[0]].name!r}; a model type has one family.")
    _FAMILIES[family.name] = family
    for t in family.model_types:
        _BY_TYPE[t] = family
    return family


def declare_plugin(names: tuple[str, ...] | list[str], spec: str) -> None:
    """Declare that ``names`` are loaded by the plugin ``spec`` ("module:function"), imported lazily."""
    if ":" not in spec:
        raise ValueError(f"plugin spec {spec!r}: expected 'module:function'.")
    for n in names:
        _PLUGINS[n] = spec


def register_loader(names: tuple[str, ...] | list[str], load: Callable[[str, str], Adapter],
                    adapter: type[Adapter], files=None) -> NamedLoader:
    """Register a named loader (called by a plugin's register function)."""
    loader = NamedLoader(tuple(names), load, adapter, files)
    for n in loader.names:
        old = _LOADERS.get(n)
        if old is not None and (old.load, old.adapter) != (load, adapter):
            raise ValueError(f"model name {n!r} already has a loader ({old.load.__module__}).")
        _LOADERS[n] = loader
    return loader


def named_loader(name: str) -> NamedLoader | None:
    """The loader registered for ``name``, importing its declared plugin on first use; else None."""
    if name not in _LOADERS and name in _PLUGINS:
        module, func = _PLUGINS[name].split(":", 1)
        getattr(importlib.import_module(module), func)()
        if name not in _LOADERS:
            raise ValueError(f"plugin {_PLUGINS[name]!r} did not register a loader for {name!r}.")
    return _LOADERS.get(name)


def plugin_names() -> list[str]:
    """Every declared or registered loader name."""
    return sorted(set(_PLUGINS) | set(_LOADERS))


def _family_modules() -> tuple[str, ...]:
    from taskvec.models.families import FAMILY_MODULES

    return tuple(f"taskvec.models.families.{m}" for m in FAMILY_MODULES)


def _discover() -> None:
    global _discovered
    if not _discovered:
        for m in _family_modules():
            importlib.import_module(m)
        _discovered = True


def families() -> tuple[Family, ...]:
    """Every registered family: those of ``FAMILY_MODULES`` in its order, then any others."""
    _discover()
    rank = {m: i for i, m in enumerate(_family_modules())}
    return tuple(sorted(_FAMILIES.values(), key=lambda f: rank.get(f.module, len(rank))))


def family_named(name: str) -> Family | None:
    _discover()
    return _FAMILIES.get(name)


def family_for(model_type: str) -> Family | None:
    """The family serving ``config.model_type`` (None if unsupported)."""
    _discover()
    return _BY_TYPE.get(model_type)


def adapter_for(model_type: str) -> type[Adapter] | None:
    fam = family_for(model_type)
    return None if fam is None else fam.adapter


def model_types() -> tuple[str, ...]:
    """Every supported model type, in registration order (each has a tiny model)."""
    return tuple(t for f in families() for t in f.model_types)


def supported_families() -> list[str]:
    """The supported architectures (config model types), sorted."""
    return sorted(model_types())


def suggested() -> dict[str, str]:
    """Checkpoint -> label for the docs and the model picker, in registration order."""
    return {ckpt: label for f in families() for ckpt, label in f.suggested.items()}
