"""The offline model organism: a tiny VLM trained by the project (see README.md here).

``load_organism(path=None, device="cpu") -> (model, processor)`` loads the shipped weights
in ``assets/organism/`` offline. Importing this package registers the config and model
with ``AutoConfig`` / ``AutoModelForCausalLM`` (model_type ``taskvec-organism``).
"""

from __future__ import annotations

from pathlib import Path

from transformers import AutoConfig, AutoModelForCausalLM

from taskvec.organism.modeling import OrganismConfig, OrganismForCausalLM
from taskvec.organism.processing import OrganismProcessor
from taskvec.data.resources import organism_dir

ASSET_DIR = organism_dir()

__all__ = ["ASSET_DIR", "OrganismConfig", "OrganismForCausalLM", "OrganismProcessor", "load_organism"]


def _register() -> None:
    try:
        AutoConfig.register(OrganismConfig.model_type, OrganismConfig)
    except ValueError:  # already registered
        pass
    try:
        AutoModelForCausalLM.register(OrganismConfig, OrganismForCausalLM)
    except ValueError:
        pass


_register()


def load_organism(path=None, device: str = "cpu"):
    """Load the organism (model in eval mode, processor) from ``path`` (default: shipped assets)."""
    from taskvec.errors import ModelLoadError

    d = Path(path) if path is not None else ASSET_DIR
    if not (d / "model.safetensors").is_file():
        raise ModelLoadError(
            f"No organism weights at {d} (expected model.safetensors there). "
            "Train them with `python -m taskvec.organism.train --out DIR` or restore assets/organism/."
        )
    model = OrganismForCausalLM.from_pretrained(d, local_files_only=True).to(device).eval()
    processor = OrganismProcessor.from_pretrained(d)
    check = d / "selfcheck.json"
    if check.is_file():  # the layer chosen on validation entities after training: the app's default patch layer
        import json

        model.config.taskvec_best_layer = int(json.loads(check.read_text())["best_layer"])
    return model, processor
