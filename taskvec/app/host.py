"""The process's model: one loaded adapter shared (read-only) by every session.

Loading a new model replaces it only when the load succeeds; a failed load leaves the
previous model in place and returns a visible message. A second "source" model (a base
LLM whose task vectors are patched into the VLM) is cached beside it.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from taskvec.errors import ModelLoadError, TaskvecError, VectorShapeError
from taskvec.data.resources import organism_dir

ORGANISM_CONFIG = organism_dir() / "config.json"

ORGANISM_ABOUT = (
    "ℹ️ **The model organism** is a 1.6M-parameter VLM trained by this project on a controlled world "
    "(taskvec/organism/README.md). An auxiliary loss (TVP-loss) trains *same-modality* patching at one layer, "
    "which shapes where its task vector lives. That a vector from **text** examples then drives **image** "
    "queries is never trained: it is the paper's cross-modal finding, reproduced. Its logit-lens task phase "
    "is partly planted: a task-lens loss makes the delimiter of *text* examples decode the task word at layer 3 "
    "(input ':' at layer 0, task word at layers 1-3 or 1-4, then the answer); that *image* examples show the same "
    "phases is not trained."
)


def default_model() -> str:
    """``TASKVEC_MODEL``, else the organism when its weights are shipped, else SmolVLM-256M."""
    from taskvec.models import DEFAULT_REAL_MODEL

    env = os.environ.get("TASKVEC_MODEL")
    if env:
        return env
    return "organism" if ORGANISM_CONFIG.is_file() else DEFAULT_REAL_MODEL


def model_choices() -> list[str]:
    """Names offered in the model picker (any other HF id or folder can be typed)."""
    from taskvec.models import SUGGESTED

    tiny = ["tiny-random/idefics3", "tiny-random/llama"]
    return (["organism"] if ORGANISM_CONFIG.is_file() else []) + list(SUGGESTED) + tiny


@dataclass
class ModelHost:
    """Holds the current adapter (and an optional source model); loads are serialized."""

    adapter: object = None
    error: str = ""
    load_seconds: float = 0.0
    _source: object = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def load(self, name: str, progress=None) -> str:
        """Load ``name``; on failure keep the previous model. Returns the banner markdown."""
        from taskvec.models import load_model

        name = (name or "").strip()
        if not name:
            self.error = "Type or pick a model name first (e.g. organism or tiny-random/idefics3)."
            return self.banner()
        with self._lock:
            if progress is not None:
                progress(0.1, desc=f"Loading {name} ...")
            t = time.time()
            try:
                adapter = load_model(name)
            except TaskvecError as e:
                self.error = str(e)
            except Exception as e:  # any loader failure must leave the app up
                self.error = f"Cannot load {name!r}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            else:
                self.adapter, self.error, self.load_seconds = adapter, "", time.time() - t
            if progress is not None:
                progress(1.0, desc="done")
        return self.banner()

    def require(self):
        if self.adapter is None:
            raise ModelLoadError("No model is loaded yet; pick one in the model box at the top and press Load.")
        return self.adapter

    def source(self, name: str):
        """A second model to extract vectors from (cached); checked for the same hidden size."""
        from taskvec.models import load_model

        target = self.require()
        name = (name or "").strip()
        if not name or name == target.model_id:
            return target
        with self._lock:
            if self._source is None or self._source.model_id != name:
                self._source = load_model(name)
        src = self._source
        if src.hidden_size != target.hidden_size:
            raise VectorShapeError(
                f"The source model {name} has hidden size {src.hidden_size} but the loaded model "
                f"{target.model_id} has {target.hidden_size}; vectors transfer only between models of the "
                "same width (a base LLM and the VLM built on it). Clear the source model or pick another one.")
        return src

    def banner(self) -> str:
        """Markdown: which model is loaded, its shape, and warnings a person must see."""
        lines = []
        if self.error:
            keep = f" Still using **{self.adapter.model_id}**." if self.adapter is not None else ""
            lines.append(f"⛔ **Model load failed:** {self.error}{keep}")
        a = self.adapter
        if a is None:
            lines.append("No model loaded.")
            return "\n\n".join(lines)
        d = a.describe()
        lines.append(f"**Loaded:** `{d['model']}` · family {d['family']} · {d['layers']} layers "
                     f"(residual layers 0–{d['layers']}) · hidden {d['hidden_size']} · {d['dtype']} on "
                     f"{d['device']} · {'images and text' if d['images'] else 'text only'}")
        if a.meaningless_weights:
            lines.append("⚠️ **Random weights:** this tiny model's answers and plots are meaningless; "
                         "it only shows the mechanics. Load `organism` or a real VLM for results.")
        if a.family == "organism":
            lines.append(ORGANISM_ABOUT)
        return "\n\n".join(lines)
