"""The organism as a named loader of ``taskvec.models``: ``load_model("organism")``.

``taskvec/__init__.py`` declares ``NAMES`` -> ``"taskvec.organism.plugin:register"``; the
registry imports this module and calls ``register()`` the first time one of the names is
looked up. The dependency points from the organism to ``taskvec.models``, never back.
"""

from __future__ import annotations

from taskvec.models.base import Adapter
from taskvec.models.registry import register_loader

NAMES = ("organism", "taskvec/organism")  # names that load the shipped organism


class OrganismAdapter(Adapter):
    """taskvec's own trained model organism (early fusion, Llama-like layout)."""

    family = "organism"
    packed_sweep = True  # its attention takes 2-D padding masks and whole 4-D masks (packed sweeps)
    layer_paths = ("model.layers",)
    norm_paths = ("model.norm",)
    image_placeholder = "<image>"
    image_token_names = ("<imgpatch>",)


def load(name: str, device: str) -> OrganismAdapter:
    """The shipped organism (assets/organism) on ``device``."""
    from taskvec.organism import load_organism

    model, processor = load_organism(device=device)
    return OrganismAdapter(model, processor, "organism")


def register() -> None:
    """Register the organism's names, loader and adapter with the model registry."""
    from taskvec.data.resources import organism_dir

    register_loader(NAMES, load, OrganismAdapter, files=organism_dir())
