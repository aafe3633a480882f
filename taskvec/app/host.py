"""The process's model: one loaded adapter shared (read-only) by every session.

Loading a new model replaces it only when the load succeeds; a failed load leaves the
previous model in place and returns a visible message. A second "source" model (a base
LLM whose task vectors are patched into the VLM) is cached beside it.

Public mode (``configure(public=True, models=..., sources=...)``, on for a Space): visitors load
only models of the operator's allow-list (possibly empty) and use only allow-listed source models;
no name a visitor types reaches the loader otherwise, and a failed or refused load is reported to
that visitor only, never stored in the banner every visitor sees. Names are escaped and bounded
wherever the banner shows them (``md_text``).
"""

from __future__ import annotations

import gc
import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from taskvec.errors import ModelLoadError, TaskvecError, VectorShapeError
from taskvec.data.resources import organism_dir

ORGANISM_CONFIG = organism_dir() / "config.json"
MAX_NAME = 200  # characters of a model name a visitor may type
PUBLIC_TIME_LIMIT = 120.0  # seconds of work per request in public mode (the operator's --time-limit overrides it)
LOG = logging.getLogger("taskvec.app")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~>])")
_AUTOLINK = re.compile(r"(?i)(:)(//)|(www)(\.)")


def md_code(text: str, limit: int = 120) -> str:
    """``text`` as an inline code span (bounded, backticks dropped): shown literally, never markup."""
    text = " ".join(str(text).replace("`", "'").split())
    return f"`{text[:limit]}{'…' if len(text) > limit else ''}`"


def md_text(text: str, limit: int = 120) -> str:
    """``text`` safe inside Markdown shown to others: bounded to ``limit`` characters, one line, HTML and
    Markdown syntax escaped (a typed name can never become a link, an image or markup)."""
    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[:limit] + f"… ({len(text) - limit} more characters)"
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    # a zero-width space breaks bare-URL autolinks (http://..., www....) without changing what one reads
    return _AUTOLINK.sub(lambda m: (m.group(1) or m.group(3)) + "&#8203;" + (m.group(2) or m.group(4)), text)

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


def model_choices(host: "ModelHost | None" = None) -> list[str]:
    """Names offered in the model picker (any other HF id or folder can be typed); in public mode the
    operator's allow-list (and the loaded model) only."""
    from taskvec.models import SUGGESTED

    host = host if host is not None else _default_host()
    if host is not None and host.public:
        current = [host.adapter.model_id] if host.adapter is not None else []
        return list(dict.fromkeys(current + list(host.allowed)))

    from taskvec.models.gguf import PACKAGES

    tiny = ["tiny-random/idefics3", "tiny-random/llama"]
    return (["organism"] if ORGANISM_CONFIG.is_file() else []) + list(PACKAGES) + list(SUGGESTED) + tiny


REAL_TEXT_NOTE = (
    "ℹ️ **Real pretrained weights, text only**: text examples, instructions and text queries work in every view; "
    "images do not (no vision tower). Measured on full splits (docs/RESULTS.md, 'Real weights'): text task vectors "
    "patched into text queries do the task, but only in the upper layers (hence the measured layer, not L/2): "
    "SmolLM2-135M 0.17 vs No Context 0.01 and 5-shot prompting 0.24; Gemma 3 270M 0.36, above prompting "
    "0.30 (3 seeds each). Instruction vectors do not carry the tasks at this size, and vectors group by how the "
    "task was given before they group by task. The lens shows an input -> task -> answer order in 2 of 6 tasks on "
    "Gemma 3 270M, none on SmolLM2. The cross-modal transfer (text vector -> image query) and clean phases are "
    "shown offline by the organism, whose task phase is partly trained in."
)


def sparkline(values: list[float]) -> str:
    """A one-line unicode curve of ``values`` (the banner's measured-layer curve)."""
    bars = "▁▂▃▄▅▆▇█"
    hi = max(values, default=0.0) or 1.0
    return "".join(bars[min(len(bars) - 1, max(0, int(v / hi * (len(bars) - 1) + 0.5)))] for v in values)


@dataclass
class ModelHost:
    """Holds the current adapter (and an optional source model); loads are serialized."""

    adapter: object = None
    error: str = ""
    load_seconds: float = 0.0
    verify: bool = True  # on each load: the quick mechanics check, and the measured layer of real weights
    mechanics: object = None  # taskvec.analysis.invariants.CheckReport of the loaded model
    layer_choice: object = None  # taskvec.analysis.layer_choice.LayerChoice: the measured suggested layer
    verify_error: str = ""
    _source: object = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    public: bool = False  # a hosted app: visitors pick only from the allow-lists
    allowed: tuple = ()  # models a visitor may load in public mode (the operator's --models)
    sources: tuple = ()  # source / base models a visitor may use in public mode (--source-models)
    time_limit: float | None = None  # seconds of work one request may take (None: no limit); see session.time_limit

    def configure(self, public: bool, models=(), sources=(), time_limit: float | None = None) -> None:
        """Set the visitor policy (``main()`` does, once, before the page is built).

        ``time_limit``: seconds per request; None takes the mode's default (``PUBLIC_TIME_LIMIT`` in public
        mode, no limit locally), 0 turns the limit off."""
        self.public = bool(public)
        self.allowed = tuple(dict.fromkeys(m.strip() for m in models if m and m.strip()))
        self.sources = tuple(dict.fromkeys(m.strip() for m in sources if m and m.strip()))
        if time_limit is None:
            time_limit = PUBLIC_TIME_LIMIT if self.public else None
        if time_limit is not None and not (float(time_limit) >= 0):  # also refuses NaN
            raise ValueError(f"The time limit must be a number of seconds >= 0; got {time_limit}.")
        self.time_limit = float(time_limit) if time_limit else None

    def check_name(self, name, what: str = "model") -> str:
        """A visitor's model name, stripped; refused (ModelLoadError) when too long or, in public mode,
        not on the allow-list. The refusal never repeats what was typed."""
        name = (name if isinstance(name, str) else "").strip()
        if len(name) > MAX_NAME:
            raise ModelLoadError(f"A {what} name is at most {MAX_NAME} characters; this one has {len(name)}.")
        if self.public:
            allowed = self.allowed if what == "model" else self.sources
            current = [self.adapter.model_id] if what == "model" and self.adapter is not None else []
            if name not in set(allowed) | set(current):
                offer = ", ".join(allowed) if allowed else ""
                raise ModelLoadError(
                    f"This public app loads only the {what}s its operator allows"
                    + (f": {offer}." if offer else f"; no other {what} can be loaded here.")
                    + " Run taskvec on your own machine to load any model.")
        return name

    def load(self, name: str, progress=None, *, operator: bool = False) -> str:
        """Load ``name``; on failure keep the previous model. Returns the banner markdown.

        ``operator``: the command line's start model, never refused. A visitor's load in public mode
        must be on the allow-list, and its failure shows in the returned banner only (not stored)."""
        from taskvec.models import load_model

        try:
            name = name.strip() if operator else self.check_name(name)
        except ModelLoadError as e:
            return self._failed(str(e))
        if not name:
            return self._failed("Type or pick a model name first (e.g. organism or tiny-random/idefics3).")
        with self._lock:
            if progress is not None:
                progress(0.1, desc=f"Loading {name[:MAX_NAME]} ...")
            t = time.time()
            try:
                adapter = load_model(name)
            except TaskvecError as e:
                err = str(e) if not self.public else f"{name} could not be loaded ({type(e).__name__})."
                LOG.warning("model load failed: %s", e)
            except Exception as e:  # any loader failure must leave the app up
                first = str(e).splitlines()[0] if str(e) else ""
                err = (f"Cannot load {name!r}: {type(e).__name__}: {first}" if not self.public
                       else f"{name} could not be loaded ({type(e).__name__}).")
                LOG.exception("model load failed: %s", name)
            else:
                old, self.adapter, self.error, self.load_seconds = self.adapter, adapter, "", time.time() - t
                del old
                gc.collect()
                err = ""
                self.mechanics = self.layer_choice = None
                self.verify_error = ""
                if self.verify:
                    self._verify(adapter, progress)
            if progress is not None:
                progress(1.0, desc="done")
        return self._failed(err) if err else self.banner()

    def _verify(self, adapter, progress=None) -> None:
        """The quick mechanics check; for real weights, the measured suggested layer (cached with the model)."""
        from taskvec.analysis.invariants import run_checks
        from taskvec.analysis.layer_choice import measure_and_cache
        from taskvec.models.gguf import cache_root

        try:
            if progress is not None:
                progress(0.6, desc="Checking the mechanics on this checkpoint (quick subset) ...")
            self.mechanics = run_checks(adapter, quick=True)
            validated = getattr(adapter.model.config, "taskvec_best_layer", None) is not None
            if not adapter.meaningless_weights and (adapter.provenance() or not validated):
                if progress is not None:
                    progress(0.8, desc="Measuring the suggested patch layer (once per model, then cached) ...")
                self.layer_choice = measure_and_cache(adapter, root=cache_root())
        except Exception as e:  # a check that cannot run must not take the model down: the banner says so
            self.verify_error = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            LOG.exception("mechanics check failed to run")

    def _verification_lines(self, a) -> list[str]:
        out = []
        if self.mechanics is not None:
            mark = "✅" if self.mechanics.passed else "❌"
            out.append(f"{mark} **{self.mechanics.verdict()}** in {self.mechanics.seconds:.1f} s "
                       f"(all layers: {md_code('python -m taskvec check --model ' + a.model_id, 200)})")
        c = self.layer_choice
        if c is not None:
            out.append(f"📏 **Suggested patch layer {c.layer}**, measured: mean first-token patch accuracy "
                       f"{c.curve[c.layer]:.2f} over {c.n} validation queries of {', '.join(c.tasks)} (the middle "
                       f"layer would be {a.n_layers // 2}) · by layer 0–{a.n_layers}: `{sparkline(c.curve)}`")
        if self.verify_error:
            out.append(f"⚠️ The mechanics check could not run: {md_text(self.verify_error, 300)}")
        return out

    def _failed(self, err: str) -> str:
        """The banner with ``err`` for this caller. ``err`` is stored as ``self.error`` (the last load failed);
        in public mode the banner other visitors get never shows it."""
        self.error = err
        return self.banner(err)

    def drop_source(self) -> None:
        """Forget the cached source model (public mode: after any failed request)."""
        if self._source is not None:
            self._source = None
            gc.collect()

    def require(self):
        if self.adapter is None:
            raise ModelLoadError("No model is loaded yet; pick one in the model box at the top and press Load.")
        return self.adapter

    def source(self, name: str, target=None):
        """A second model to extract vectors from (cached); checked for the same hidden size as ``target``
        (the model the request started with; default: the loaded one)."""
        from taskvec.models import load_model

        target = target if target is not None else self.require()
        name = (name if isinstance(name, str) else "").strip()
        if not name or name == target.model_id:
            return target
        name = self.check_name(name, "source model")
        with self._lock:
            if self._source is None or self._source.model_id != name:
                self._source = None  # the previous source goes before the next one loads
                gc.collect()
                self._source = load_model(name)
        src = self._source
        if src.hidden_size != target.hidden_size:
            self.drop_source()  # a source of the wrong width never stays loaded
            name = md_text(name, MAX_NAME)
            raise VectorShapeError(
                f"The source model {name} has hidden size {src.hidden_size} but the loaded model "
                f"{target.model_id} has {target.hidden_size}; vectors transfer only between models of the "
                "same width (a base LLM and the VLM built on it). Clear the source model or pick another one.")
        return src

    def banner(self, error: str | None = None) -> str:
        """Markdown: which model is loaded, its shape, and warnings a person must see (``error``: a failed
        load to show instead of the stored one; escaped and bounded, never markup)."""
        lines = []
        if error is None:
            error = "" if self.public else self.error
        if error:
            keep = f" Still using **{md_text(self.adapter.model_id)}**." if self.adapter is not None else ""
            lines.append(f"⛔ **Model load failed:** {md_text(error, 600)}{keep}")
        a = self.adapter
        if a is None:
            lines.append("No model loaded.")
            return "\n\n".join(lines)
        d = a.describe()
        lines.append(f"**Loaded:** {md_code(d['model'])} · family {d['family']} · {d['layers']} layers "
                     f"(residual layers 0–{d['layers']}) · hidden {d['hidden_size']} · {d['dtype']} on "
                     f"{d['device']} · {'images and text' if d['images'] else 'text only'}")
        if a.meaningless_weights:
            lines.append("⚠️ **Random weights:** this tiny model's answers and plots are meaningless; "
                         "it only shows the mechanics. Load `organism` or a real VLM for results.")
        prov = a.provenance()
        if prov.get("real_weights"):
            src = f"{prov['package']} {prov['version']}" if prov.get("package") else md_text(prov.get("file", ""))
            lines.append(f"**{prov['label']}** · from {src} (GGUF {prov.get('quantization')}, sha256 "
                         f"{(prov.get('sha256') or '')[:12]}…, de-quantised to float32)")
            lines.append(REAL_TEXT_NOTE)
        lines += self._verification_lines(a)
        if a.family == "organism":
            lines.append(ORGANISM_ABOUT)
        return "\n\n".join(lines)


def _default_host():
    """The app's shared host (``taskvec.app.common.HOST``) once it exists, else None."""
    import sys

    common = sys.modules.get("taskvec.app.common")
    return getattr(common, "HOST", None)
