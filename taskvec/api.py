"""The notebook API: load a model, build a task vector, patch it in, read the residual stream.

    import taskvec as tv
    m = tv.load("organism")
    v = m.task_vector(tv.TextExamples([("France", "Paris"), ("Italy", "Rome"), ("Peru", "Lima")]))
    m.generate(tv.load_image("examples/flags/Germany.png"), patch=v, layer=1)   # Generation(text='Berlin', ...)
    cache = m.run_with_cache(["Q:France\\nA:"]); cache.lens(3)

A thin layer over ``taskvec.core`` and ``taskvec.analysis``: it turns friendly inputs (lists
of pairs, plain query strings or images, task vectors as patches) into the typed objects the
core takes, and returns the core's results unchanged (``Generation``, ``TaskVector``,
``Sweep``, ``Comparison``). Nothing here registers hooks or knows an architecture.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch
from PIL import Image

from taskvec.analysis.compare import Comparison, compare, suggested_layer
from taskvec.core import specs as _specs
from taskvec.core.activations import residuals
from taskvec.core.hooks import check_layer
from taskvec.core.lens import LayerTopK, top_k
from taskvec.core.patching import Generation, TopK, generate as _generate
from taskvec.core.prompts import Prompt, query_prompt
from taskvec.core.sweep import Sweep, layer_sweep
from taskvec.core.vectors import TaskVector, extract
from taskvec.data.imageio import load_image
from taskvec.errors import SpecError, TaskvecError, VectorShapeError
from taskvec.models import load_model
from taskvec.models.base import Adapter

# ------------------------------------------------------------------ specifications


class _SpecConstructor(type):
    """Metaclass of the spec constructors below: calling one coerces friendly arguments and
    returns the *core* spec object; ``isinstance``/``issubclass`` check against the core class."""

    def __call__(cls, *args, **kwargs):
        return cls._build(*args, **kwargs)

    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, cls._core)

    def __subclasscheck__(cls, sub) -> bool:
        return sub is cls or issubclass(sub, cls._core)


def _pairs(pairs: Any, what: str, convert=None) -> tuple:
    """``(input, answer)`` pairs from a list, tuple or dict, as the tuple of tuples core specs want."""
    if isinstance(pairs, Mapping):
        pairs = list(pairs.items())
    if isinstance(pairs, (str, bytes)) or not hasattr(pairs, "__iter__"):
        raise SpecError(f"The {what} must be a list of (input, answer) pairs; got {type(pairs).__name__}.")
    out = []
    for i, pair in enumerate(pairs, 1):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise SpecError(f"Example {i} of the {what} is not an (input, answer) pair: {pair!r}; "
                            "write e.g. ('France', 'Paris').")
        x, y = pair
        out.append((convert(x) if convert else x, y))
    return tuple(out)


def _image(x: Any) -> Any:
    return load_image(x) if isinstance(x, (str, os.PathLike)) else x


class TextExamples(metaclass=_SpecConstructor):
    """Text examples of a task: ``(input, answer)`` pairs as a list, tuple or dict, or text to parse.

        tv.TextExamples([("France", "Paris"), ("Italy", "Rome"), ("Peru", "Lima")])
        tv.TextExamples({"France": "Paris", "Italy": "Rome"})
        tv.TextExamples("France: Paris; Italy: Rome")      # tv.parse_examples, ';' or newlines

    Returns a ``taskvec.core.specs.TextExamples``; ``isinstance`` works with either name.
    """

    _core = _specs.TextExamples

    @staticmethod
    def _build(pairs) -> _specs.TextExamples:
        if isinstance(pairs, _specs.TextExamples):
            return pairs
        if isinstance(pairs, str):
            return _specs.parse_examples(pairs, allow_semicolons=True)
        return _specs.TextExamples(_pairs(pairs, "text examples"))


class ImageExamples(metaclass=_SpecConstructor):
    """Image examples of a task: ``(image, answer)`` pairs; an image is a PIL image or a file path.

        tv.ImageExamples([("examples/flags/France.png", "Paris"), ("examples/flags/Italy.png", "Rome")])

    Returns a ``taskvec.core.specs.ImageExamples``; ``isinstance`` works with either name.
    """

    _core = _specs.ImageExamples

    @staticmethod
    def _build(pairs) -> _specs.ImageExamples:
        if isinstance(pairs, _specs.ImageExamples):
            return pairs
        return _specs.ImageExamples(_pairs(pairs, "image examples", _image))


class Ensemble(metaclass=_SpecConstructor):
    """A weighted mean of several specifications' task vectors (equal weights by default).

        tv.Ensemble([tv.TextExamples(pairs), tv.Instruction("The capital city of the country:")])
        tv.Ensemble([text_examples, image_examples], weights=[2, 1])

    Parts may be any spec or a list of pairs. Returns a ``taskvec.core.specs.Ensemble``.
    """

    _core = _specs.Ensemble

    @staticmethod
    def _build(parts, weights=None) -> _specs.Ensemble:
        if isinstance(parts, _specs.Ensemble):
            return parts
        if isinstance(parts, (str, bytes)) or not hasattr(parts, "__iter__"):
            raise SpecError(f"An ensemble takes a list of specifications; got {type(parts).__name__}.")
        parts = tuple(as_spec(p) for p in parts)
        weights = (1.0,) * len(parts) if weights is None else tuple(float(w) for w in weights)
        return _specs.Ensemble(parts, weights)


def as_spec(spec: Any) -> _specs.Spec:
    """A core specification from a spec or a list/dict of ``(input, answer)`` pairs.

        tv.api.as_spec([("France", "Paris"), ("Italy", "Rome")])        # -> TextExamples
        tv.api.as_spec([(flag_image, "Paris"), (other_flag, "Rome")])   # -> ImageExamples (PIL inputs)
    """
    if isinstance(spec, (_specs.TextExamples, _specs.ImageExamples, _specs.Instruction, _specs.Ensemble)):
        return spec
    if isinstance(spec, str):
        raise SpecError(f"A bare string is ambiguous as a task: {spec[:40]!r}. Use tv.Instruction(text) for an "
                        "instruction or tv.TextExamples(text) to parse 'input: answer' examples.")
    pairs = _pairs(spec, "examples")
    if pairs and isinstance(pairs[0][0], Image.Image):
        return _specs.ImageExamples(pairs)
    return _specs.TextExamples(pairs)


# ------------------------------------------------------------------ queries and patches


def _query(query: Any) -> Prompt:
    """A query as a prompt: a string or image is templated (``Q:{x}\\nA:``), a list is taken as is."""
    if isinstance(query, os.PathLike):
        query = load_image(query)
    if isinstance(query, str):
        if not query.strip():
            raise SpecError("The query is empty: give a query such as 'Germany' or an image.")
        return query_prompt(query)
    if isinstance(query, Image.Image):
        return query_prompt(query)
    if isinstance(query, (list, tuple)):
        return _literal(query, "The query prompt")
    raise SpecError(f"A query is a string, a PIL image, an image path or a prompt list of strings and images; "
                    f"got {type(query).__name__}.")


def _literal(prompt: Sequence, what: str) -> Prompt:
    """A prompt given as segments (strings and images), checked: non-empty, with a delimiter ':'."""
    segs = list(prompt) if isinstance(prompt, (list, tuple)) else [prompt]
    bad = [s for s in segs if not isinstance(s, (str, Image.Image))]
    if not segs or bad:
        raise SpecError(f"{what} must be a non-empty list of strings and PIL images; "
                        f"got {'nothing' if not segs else type(bad[0]).__name__}.")
    if not any(isinstance(s, str) and ":" in s for s in segs):
        raise SpecError(f"{what} has no delimiter ':'; taskvec reads and patches the last ':' of a prompt. "
                        "End it with the template's 'A:', e.g. 'Q:France\\nA:'.")
    return segs


def _vector(patch: Any) -> torch.Tensor:
    """A patch as a tensor: a TaskVector's (L+1, D) vectors, or a (D,) / (L+1, D) tensor or array."""
    if isinstance(patch, TaskVector):
        return patch.vectors
    try:
        vec = patch if torch.is_tensor(patch) else torch.as_tensor(patch)
    except (TypeError, ValueError, RuntimeError):
        raise VectorShapeError(f"A patch is a TaskVector or a (D,) / (L+1, D) tensor; "
                               f"got {type(patch).__name__}.") from None
    if vec.dim() not in (1, 2):
        raise VectorShapeError(f"A patch is a (D,) vector or (L+1, D) per-layer vectors; got shape {tuple(vec.shape)}.")
    return vec if vec.is_floating_point() else vec.float()


def _check_mode(mode: str) -> None:
    if mode not in ("replace", "add"):
        raise TaskvecError(f"mode must be 'replace' (overwrite the residual) or 'add' (add scale * vector); "
                           f"got {mode!r}.")


# ------------------------------------------------------------------ the cache


@dataclass(repr=False)
class Cache:
    """The residual stream of a batch of prompts at every layer, and the lens to read it.

    ``values``: (B, L+1, P, D) float32 on the CPU: prompt, residual layer (0 = embeddings,
    L = last decoder layer), captured position, hidden unit. ``positions``: (B, P) token
    indices (by default each prompt's last delimiter ':', so P = 1). ``texts``: the prompts
    as the model saw them.

        cache = m.run_with_cache(["Q:France\\nA:", "Q:Peru\\nA:"])
        cache.at_delimiter(3).shape     # (2, D)
        cache.lens(3)[0].tokens         # top-5 lens decodings of prompt 0 at layer 3
    """

    values: torch.Tensor
    positions: torch.Tensor
    texts: list[str]
    adapter: Adapter = field(compare=False)

    def __post_init__(self) -> None:
        if self.values.dim() != 4 or self.positions.shape != (self.values.shape[0], self.values.shape[2]):
            raise VectorShapeError(f"A cache holds values (B, L+1, P, D) and positions (B, P); got "
                                   f"{tuple(self.values.shape)} and {tuple(self.positions.shape)}.")

    def __repr__(self) -> str:
        B, L1, P, D = self.values.shape
        return f"Cache(prompts={B}, layers=0..{L1 - 1}, positions={P}, hidden={D})"

    def __len__(self) -> int:
        return self.values.shape[0]

    @property
    def n_layers(self) -> int:
        """L: residual layers are 0..L."""
        return self.values.shape[1] - 1

    def _position(self, position: int) -> int:
        P = self.values.shape[2]
        if not isinstance(position, int) or not -P <= position < P:
            raise TaskvecError(f"position indexes the {P} captured position(s) of each prompt; got {position!r}.")
        return position

    def _slice(self, layer: int, position: int) -> torch.Tensor:
        return self.values[:, check_layer(layer, self.n_layers), self._position(position)]  # (B, D)

    def at_delimiter(self, layer: int | None = None) -> torch.Tensor:
        """Residuals at each prompt's delimiter (the last captured position): (B, L+1, D), or (B, D) at ``layer``.

            v = cache.at_delimiter()      # (B, L+1, D): a task vector per prompt
            h = cache.at_delimiter(3)     # (B, D)
        """
        return self.values[:, :, -1] if layer is None else self._slice(layer, -1)

    def logits(self, layer: int, position: int = -1) -> torch.Tensor:
        """Logit-lens logits (B, V) at ``layer`` (final norm + unembedding) at each prompt's delimiter.

            cache.logits(6).argmax(-1)    # at the last layer: the model's own next-token choice
        """
        return self.adapter.lens(self._slice(layer, position)).cpu()  # (B, V)

    def lens(self, layer: int, k: int = 5, position: int = -1) -> list[TopK]:
        """Top-``k`` logit-lens decodings at ``layer``, one ``TopK`` per prompt (tokens, probs, ids).

            cache.lens(3)[0].tokens       # the 5 most likely tokens of prompt 0 read at layer 3
        """
        return [TopK.from_logits(self.adapter, row, k) for row in self.logits(layer, position)]

    def lens_layers(self, k: int = 5, position: int = -1) -> list[LayerTopK]:
        """Top-``k`` logit-lens decodings at every layer 0..L, one ``LayerTopK`` per prompt.

            cache.lens_layers()[0].tokens[3]   # the same as cache.lens(3)[0].tokens
        """
        return [top_k(self.adapter, row, k) for row in self.values[:, :, self._position(position)]]  # row: (L+1, D)


# ------------------------------------------------------------------ the model


class Model:
    """A loaded model with the notebook verbs; ``tv.load(name)`` builds one.

        m = tv.load("organism")
        m.n_layers, m.hidden_size, m.suggested_layer, m.describe()
        m.adapter            # the family adapter underneath (taskvec.models.base.Adapter)
    """

    def __init__(self, adapter: Adapter):
        if not isinstance(adapter, Adapter):
            raise TypeError(f"Model wraps a taskvec adapter (taskvec.models.load_model); got {type(adapter).__name__}.")
        self.adapter = adapter

    def __repr__(self) -> str:
        a = self.adapter
        return (f"Model({a.model_id or a.family!r}, family={a.family!r}, layers={a.n_layers}, "
                f"hidden={a.hidden_size}, images={a.supports_images})")

    @property
    def n_layers(self) -> int:
        """L, the number of decoder layers; residual layers are 0..L (0 = embeddings)."""
        return self.adapter.n_layers

    @property
    def hidden_size(self) -> int:
        """D, the width of the residual stream."""
        return self.adapter.hidden_size

    @property
    def suggested_layer(self) -> int:
        """The layer to patch when none is given: the model's validated best, else the middle."""
        return suggested_layer(self.adapter)

    def describe(self) -> dict:
        """Model id, family, layers, hidden size, dtype, device, image support, suggested layer.

            tv.load("organism").describe()["layers"]     # 6
        """
        return {**self.adapter.describe(), "suggested_layer": self.suggested_layer}

    def task_vector(self, spec: Any, n_examples: int = 5, n_sets: int = 10, seed: int = 0,
                    batch_size: int = 8) -> TaskVector:
        """The task vector of ``spec`` at every layer: residual at the last ':' averaged over example sets.

            v = m.task_vector(tv.TextExamples([("France", "Paris"), ("Italy", "Rome"), ("Peru", "Lima")]))
            v.vectors.shape           # (L+1, D)
            m.task_vector(tv.Instruction("The capital city of the country:"))

        ``spec``: TextExamples, ImageExamples, Instruction, Ensemble, or a list/dict of pairs.
        ``n_sets`` prompts of ``n_examples`` demos each (seeded by ``seed``); see core.vectors.extract.
        """
        return extract(self.adapter, as_spec(spec), n_examples, n_sets, seed, batch_size=batch_size)

    def generate(self, query: Any, patch: Any = None, layer: int | None = None, mode: str = "replace",
                 scale: float = 1.0, max_new_tokens: int = 8) -> Generation:
        """Greedy answer to ``query``, optionally with ``patch`` written over its ':' at ``layer``.

            m.generate("Spain")                                   # no context: Q:Spain\\nA: ...
            m.generate(tv.load_image("examples/flags/Germany.png"), patch=v, layer=1).text   # 'Berlin'
            m.generate(["Q:", img, "\\nA:"], patch=v.vectors[1])  # an explicit prompt, a (D,) vector

        ``query``: a string or a PIL image (or image path), templated as ``Q:{x}\\nA:``; or a
        prompt list of strings and images, used as is. ``patch``: a TaskVector or a tensor,
        (L+1, D) per layer or (D,); ``layer`` (default ``suggested_layer``) is ignored without
        a patch. ``mode``: "replace" or "add" (``scale * vector``). Patches the prefill only.
        """
        prompt = _query(query)
        self.adapter.check_prompt_images(prompt)
        if patch is None:
            return _generate(self.adapter, prompt, max_new_tokens=max_new_tokens)
        _check_mode(mode)
        layer = self.suggested_layer if layer is None else layer
        return _generate(self.adapter, prompt, _vector(patch), layer, mode, scale, max_new_tokens)

    def compare(self, spec: Any, query: Any, layer: int | None = None, n_examples: int = 5, n_sets: int = 10,
                seed: int = 0, mode: str = "replace", scale: float = 1.0, max_new_tokens: int = 8,
                vector: TaskVector | None = None) -> Comparison:
        """No Context | Prompt | Patch (| Random) for one query: ``taskvec.analysis.compare.compare``.

            c = m.compare([("France", "Paris"), ("Italy", "Rome")], tv.load_image("examples/flags/Germany.png"))
            c.no_context.text, c.prompt.text, c.patch.text, c.random

        ``query``: a string, PIL image or image path (templated); ``vector``: a ready TaskVector
        (e.g. from a base LLM) instead of extracting one from ``spec`` on this model.
        """
        if isinstance(query, os.PathLike):
            query = load_image(query)
        if not isinstance(query, (str, Image.Image)):
            raise SpecError(f"compare takes a query input (a string or an image) and templates it; "
                            f"got {type(query).__name__}. Use generate() for an explicit prompt.")
        if vector is not None and not isinstance(vector, TaskVector):
            raise VectorShapeError(f"compare's vector is a TaskVector (m.task_vector(...) or TaskVector.load); "
                                   f"got {type(vector).__name__}. Use generate(query, patch=tensor) for a raw tensor.")
        _check_mode(mode)
        return compare(self.adapter, as_spec(spec), query, layer, n_examples, n_sets, seed, mode, scale,
                       max_new_tokens, vector)

    def sweep(self, query: Any, patch: Any, layers: Sequence[int] | None = None, mode: str = "replace",
              scale: float = 1.0) -> Sweep:
        """First-token distributions with ``patch`` at each layer (one batched pass): ``core.sweep.layer_sweep``.

            s = m.sweep(tv.load_image("examples/flags/Germany.png"), v)
            s.prob_of(m.adapter.token_id("Berlin"))      # P(first token) per layer

        ``patch``: a TaskVector or (L+1, D) tensor (vector l at layer l), or (D,) at every layer.
        """
        prompt = _query(query)
        self.adapter.check_prompt_images(prompt)
        _check_mode(mode)
        return layer_sweep(self.adapter, prompt, _vector(patch), layers, mode, scale)

    def run_with_cache(self, prompts: Any, positions: Sequence[Sequence[int]] | None = None,
                       batch_size: int = 8) -> Cache:
        """One forward per batch, keeping the residual stream at every layer: a ``Cache``.

            cache = m.run_with_cache(["Q:France\\nA:", "Q:Peru\\nA:"])    # two literal prompts
            cache = m.run_with_cache(["Q:", img, "\\nA:"])                # one prompt with an image
            cache = m.run_with_cache("Q:France\\nA:", positions=[0, 1, 2])

        Prompts are literal (no template is added) and each must contain the delimiter ':'.
        ``prompts``: a string; a list of strings (one prompt each); a flat list of strings and
        images (one prompt); or a list of such lists. ``positions``: token indices to keep per
        prompt (a flat list for one prompt), the same count for each; default: each prompt's
        last ':'.
        """
        batch = self._prompts(prompts)
        if positions is not None:
            positions = self._positions(batch, positions)
        res = residuals(self.adapter, batch, positions, batch_size=batch_size)
        return Cache(res.values, res.positions, res.texts, self.adapter)

    # ---- helpers ----------------------------------------------------------
    def _prompts(self, prompts: Any) -> list[Prompt]:
        if isinstance(prompts, (str, Image.Image)):
            prompts = [prompts]
        if not isinstance(prompts, (list, tuple)) or not prompts:
            raise SpecError(f"run_with_cache takes a prompt string or a non-empty list of prompts; "
                            f"got {type(prompts).__name__ if prompts else 'nothing'}.")
        if any(isinstance(p, Image.Image) for p in prompts):
            prompts = [list(prompts)]  # a flat list with an image: one prompt of segments
        batch = [_literal([p] if isinstance(p, str) else p, f"Prompt {i}") for i, p in enumerate(prompts, 1)]
        for p in batch:
            self.adapter.check_prompt_images(p)
        return batch

    def _positions(self, batch: list[Prompt], positions: Any) -> list[list[int]]:
        positions = positions.tolist() if torch.is_tensor(positions) else positions
        try:
            rows = [list(positions)] if len(batch) == 1 and all(isinstance(p, int) for p in positions) else positions
            rows = [[int(i) for i in row] for row in rows]
        except TypeError:
            rows = []
        if len(rows) != len(batch) or len({len(r) for r in rows}) != 1 or not rows[0]:
            raise SpecError(f"positions needs one equally long, non-empty list of token indices per prompt "
                            f"({len(batch)} prompts); got {positions!r}.")
        lengths = self.adapter.encode(batch).lengths.tolist()
        for i, (row, n) in enumerate(zip(rows, lengths), 1):
            if any(not 0 <= p < n for p in row):
                raise SpecError(f"positions of prompt {i} must be token indices in 0..{n - 1}; got {row}.")
        return rows


def load(name: Any, **kwargs) -> Model:
    """Load a model by name and wrap it for the notebook API.

        m = tv.load("organism")                                  # the bundled offline model organism
        m = tv.load("tiny-random/llama")                         # tiny random weights: mechanics only
        m = tv.load("HuggingFaceTB/SmolVLM-256M-Instruct", dtype="bf16", device="cuda")

    ``name``: a Hugging Face id or local folder of a supported family, ``organism``,
    ``tiny-random/<family>``, or an already loaded adapter. Keyword arguments go to
    ``taskvec.models.load_model`` (revision, dtype, device, quantization).
    """
    if isinstance(name, Model):
        return name
    if isinstance(name, Adapter):
        return Model(name)
    return Model(load_model(name, **kwargs))


__all__ = ["load", "Model", "Cache", "TextExamples", "ImageExamples", "Ensemble", "as_spec"]
