"""Where the project's data lives: ``assets/`` and ``examples/``, in a checkout or an installed wheel.

In a checkout (and an editable install) they are the top-level folders beside ``taskvec/``;
a built wheel carries them inside the package as ``taskvec/_bundled/assets`` and
``taskvec/_bundled/examples`` (pyproject.toml's force-include). Every module that needs a
data file asks here; nothing else computes the repository root.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]  # taskvec/


@lru_cache(maxsize=None)
def _root(name: str) -> Path:
    for candidate in (_PACKAGE.parent / name, _PACKAGE / "_bundled" / name):
        if candidate.is_dir():
            return candidate
    return _PACKAGE.parent / name  # missing: callers report the path they expected


def assets_dir() -> Path:
    """The ``assets/`` folder: task datasets, the organism's weights, image notes."""
    return _root("assets")


def examples_dir() -> Path:
    """The ``examples/`` folder: ready-made inputs (flag images) for the app and the README."""
    return _root("examples")


def tasks_dir() -> Path:
    return assets_dir() / "tasks"


def organism_dir() -> Path:
    return assets_dir() / "organism"


def flags_dir() -> Path:
    return examples_dir() / "flags"
