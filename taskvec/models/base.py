"""The adapter interface: what taskvec needs to know about one model family.

An adapter wraps a loaded model and its processor. It knows where the decoder layers,
the final norm and the unembedding are, how to lay out a prompt with images, and how
to turn a batch of prompts into right-padded model inputs (right padding keeps every
real token's position and residuals exactly as in an unpadded run).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Sequence

import torch
from PIL import Image
from torch import nn

from taskvec.errors import ContextLengthError, UnsupportedInputError
from taskvec.data.imageio import PAPER_WIDTH, resize_width
from taskvec.core.hooks import ResidualSites
from taskvec.core.prompts import PAPER_TEMPLATE, Prompt, find_delimiter, has_image


def _get(obj: Any, path: str):
    for part in path.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


@dataclass
class Encoded:
    """A batch of prompts as model inputs.

    ``inputs``: keyword tensors for ``model(**inputs)``; ``input_ids`` (B, T) right-padded;
    ``lengths`` (B,) real tokens per row; ``delimiters`` (B,) position of each row's last
    delimiter token.
    """

    inputs: dict
    input_ids: torch.Tensor  # (B, T)
    lengths: torch.Tensor  # (B,)
    delimiters: torch.Tensor  # (B,)
    texts: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        B, T = self.input_ids.shape
        assert self.lengths.shape == (B,) and self.delimiters.shape == (B,), "one length and delimiter per row"
        assert bool((self.delimiters < self.lengths).all()), "delimiter inside the real tokens"


class Adapter:
    """Generic decoder-only adapter; families override the class attributes below."""

    family = "causal-lm"
    layer_paths: tuple[str, ...] = ("model.language_model.layers", "model.text_model.layers", "model.layers")
    norm_paths: tuple[str, ...] = ("model.language_model.norm", "model.text_model.norm", "model.norm")
    image_placeholder: str | None = None  # the text for one image in a prompt; None = text-only
    image_token_names: tuple[str, ...] = ()  # tokens that stand for image features
    images_nested = False  # processor wants one list of images per prompt
    per_position_keys = ("attention_mask", "token_type_ids", "mm_token_type_ids")
    image_width: int | None = PAPER_WIDTH  # every image is resized to this width first
    image_batch_size: int | None = None  # rows per batch for prompts with images (None: any)
    # declared capabilities (the sweep picks its strategy from them; the exact loop where none holds)
    causal_prefix = True  # causal attention: a prefix's cache is the same whatever follows it
    packed_sweep = True  # the model takes a custom 4-D attention mask: sweeps pack copies in one row
    images_are_tokens = True  # image features are a run of tokens in the sequence (image_runs, context embeddings)
    # the model changes the hidden state between decoder layers (Qwen3-VL's DeepStack): residual l < L is
    # read and written as the input of decoder layer l, what that layer receives (``residual_sites``)
    residual_at_input = False
    # nothing in the decoder depends on the row's length but the per-position keyword inputs of its layers
    # (mask, position ids, rotary embeddings): a packed sweep's copies may join at their patch layer
    joins_copies = True

    def __init__(self, model: nn.Module, processor: Any, model_id: str = "", revision: str | None = None,
                 meaningless_weights: bool = False):
        self.model = model.eval()
        self.processor = processor
        self.tokenizer = getattr(processor, "tokenizer", processor)
        self.tokenizer.padding_side = "right"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token or self.tokenizer.unk_token
        self.model_id, self.revision, self.meaningless_weights = model_id, revision, meaningless_weights
        self._decoded: dict[int, str] = {}

    # ---- architecture facts -------------------------------------------------
    @cached_property
    def decoder_layers(self) -> nn.ModuleList:
        for p in self.layer_paths:
            layers = _get(self.model, p)
            if isinstance(layers, nn.ModuleList):
                return layers
        dec = self.model.get_decoder() if hasattr(self.model, "get_decoder") else None
        if dec is not None and isinstance(getattr(dec, "layers", None), nn.ModuleList):
            return dec.layers
        raise TypeError(f"{type(self.model).__name__}: no decoder layers at {self.layer_paths}.")

    @cached_property
    def residual_sites(self) -> ResidualSites:
        """Where ``taskvec.core.hooks.intervene`` reads and writes residual layers 0..L of this model;
        every core call site hooks through it. Default: the output of decoder layer l - 1."""
        return ResidualSites(self.decoder_layers, at_input=self.residual_at_input)

    @property
    def joined_sweep(self) -> bool:
        """The one-pass sweep runs each copy from its patch layer up only (``core.hooks.growing_row``):
        a packed sweep over the standard residual sites, on a decoder that declares ``joins_copies``."""
        sites = self.residual_sites
        return self.packed_sweep and self.joins_copies and not sites.at_input and sites.view is None

    @cached_property
    def final_norm(self) -> nn.Module:
        """The norm after the last decoder layer: the family's paths, else the decoder's own norm
        (``get_decoder().norm`` and its usual other names)."""
        for p in self.norm_paths:
            norm = _get(self.model, p)
            if isinstance(norm, nn.Module):
                return norm
        dec = self.model.get_decoder() if hasattr(self.model, "get_decoder") else None
        for name in ("norm", "final_layernorm", "ln_f", "final_norm"):
            norm = getattr(dec, name, None)
            if isinstance(norm, nn.Module):
                return norm
        raise TypeError(f"{type(self.model).__name__}: no final norm at {self.norm_paths} or on its decoder.")

    @property
    def lm_head(self) -> nn.Module:
        return self.model.get_output_embeddings()

    @property
    def n_layers(self) -> int:
        """Number of decoder layers L; residual layers are 0..L."""
        return len(self.decoder_layers)

    @property
    def text_config(self):
        cfg = self.model.config
        return cfg.get_text_config() if hasattr(cfg, "get_text_config") else cfg

    @property
    def hidden_size(self) -> int:
        return int(self.text_config.hidden_size)

    @property
    def max_context(self) -> int:
        return int(getattr(self.text_config, "max_position_embeddings", 1 << 20))

    @property
    def supports_images(self) -> bool:
        return self.image_placeholder is not None

    @property
    def device(self) -> torch.device:
        """Where inputs go: the parameters' device, or for a model accelerate dispatched
        (``hf_device_map``) the first module's execution device (offloaded "cpu"/"disk" modules
        execute on the main device: the first GPU in the map, else the CPU)."""
        placed = getattr(self.model, "hf_device_map", None)
        if placed:
            devices = [d for d in placed.values() if d not in ("cpu", "disk")]
            return torch.device(f"cuda:{devices[0]}" if isinstance(devices[0], int) else devices[0]) if devices \
                else torch.device("cpu")
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    def softcap(self) -> float | None:
        return getattr(self.text_config, "final_logit_softcapping", None)

    def lens(self, h: torch.Tensor) -> torch.Tensor:
        """Logit lens: final norm, unembedding, and the family's softcap. (..., D) -> (..., V)."""
        h = h.to(self.device, self.dtype)
        with torch.no_grad():
            logits = self.lm_head(self.final_norm(h)).float()  # (..., V)
        cap = self.softcap()
        if cap:
            logits = torch.tanh(logits / cap) * cap
        return logits

    # ---- tokens -------------------------------------------------------------
    def decode_token(self, token_id: int) -> str:
        """One token's text; "" for an id past the tokenizer (a padded embedding matrix), whose
        decode would be an empty token list, on which some decoders (a ``Strip`` step) panic."""
        if token_id not in self._decoded:
            ok = 0 <= token_id < len(self.tokenizer)
            self._decoded[token_id] = self.tokenizer.decode([token_id]) if ok else ""
        return self._decoded[token_id]

    def token_id(self, text: str) -> int:
        """The first token of ``text`` as it starts an answer: the token after the template's answer
        prefix ("\nA:") in ``"\nA:" + text``. Tokenized alone, a SentencePiece tokenizer (Llama 2,
        Mistral, Idefics2) puts its word-start "▁" before bare text and gives a token the model never
        sees after the delimiter ("▁Paris" where the prompt has "Par"); where the text's first
        character merges with the delimiter, the text's own first token."""
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        if not ids:
            raise ValueError(f"{text!r} tokenizes to nothing; give a non-empty token.")
        prefix = self.tokenizer(PAPER_TEMPLATE.answer_prefix, add_special_tokens=False)["input_ids"]
        both = self.tokenizer(PAPER_TEMPLATE.answer_prefix + text, add_special_tokens=False)["input_ids"]
        if len(both) > len(prefix) and both[:len(prefix)] == prefix:
            return int(both[len(prefix)])
        return int(ids[0])

    def delimiter_token_id(self) -> int:
        """The delimiter's token as it ends the answer prefix in a prompt (not ":" tokenized alone)."""
        return int(self.tokenizer(PAPER_TEMPLATE.answer_prefix, add_special_tokens=False)["input_ids"][-1])

    @cached_property
    def image_token_ids(self) -> set[int]:
        vocab = self.tokenizer.get_vocab()
        return {vocab[t] for t in self.image_token_names if t in vocab}

    # ---- prompts ------------------------------------------------------------
    def render(self, prompt: Prompt) -> tuple[str, list[Image.Image]]:
        """Text with the family's image placeholders, and the images in order."""
        text, images = "", []
        for seg in prompt:
            if isinstance(seg, Image.Image):
                if not self.supports_images:
                    raise UnsupportedInputError(
                        f"{self.model_id or self.family} is a text-only model and cannot take images; "
                        "use text examples and a text query, or load a vision-language model."
                    )
                text += self.image_placeholder
                images.append(resize_width(seg.convert("RGB"), self.image_width))
            else:
                text += seg
        return text, images

    def processor_call(self, texts: list[str], images: list[list[Image.Image]]) -> dict:
        if not any(images):
            return dict(self.tokenizer(texts, return_tensors="pt", padding=True))
        arg = images if self.images_nested else [im for row in images for im in row]
        return dict(self.processor(text=texts, images=arg, return_tensors="pt", padding=True))

    def encode(self, prompts: Sequence[Prompt], delimiter: str = ":") -> Encoded:
        """Right-padded model inputs for a batch of prompts, with each row's delimiter."""
        rendered = [self.render(p) for p in prompts]
        texts = [t for t, _ in rendered]
        inputs = self.processor_call(texts, [ims for _, ims in rendered])
        ids = inputs["input_ids"]  # (B, T)
        mask = inputs.get("attention_mask", torch.ones_like(ids))
        lengths = mask.sum(-1)
        if bool((mask.cumsum(-1) != torch.arange(1, ids.shape[1] + 1).clamp(max=lengths[:, None])).any()):
            raise RuntimeError(f"{self.family}: the processor padded on the left; encode these prompts one at a time.")
        if int(lengths.max()) > self.max_context:
            raise ContextLengthError(
                f"The prompt is {int(lengths.max())} tokens but {self.model_id or self.family} holds "
                f"{self.max_context}; use fewer or shorter examples, or smaller images."
            )
        delims = torch.tensor([find_delimiter(row[: int(n)].tolist(), self.decode_token, delimiter)
                               for row, n in zip(ids, lengths)])
        inputs = {k: (v.to(self.device) if torch.is_tensor(v) else v) for k, v in inputs.items()}
        for k, v in inputs.items():
            if torch.is_tensor(v) and v.is_floating_point():
                inputs[k] = v.to(self.dtype)
        return Encoded(inputs, ids.to(self.device), lengths.to(self.device), delims.to(self.device), texts)

    def position_ids(self, enc: Encoded) -> torch.Tensor | None:
        """Explicit position ids when the family needs them (Qwen2-VL's 3-D rope); else None."""
        return None

    @cached_property
    def takes_logits_to_keep(self) -> bool:
        """The model's forward takes ``logits_to_keep`` (transformers' causal LMs and VLMs do): the
        unembedding can run at the positions a caller reads instead of at every position."""
        try:
            return "logits_to_keep" in inspect.signature(self.model.forward).parameters
        except (TypeError, ValueError):
            return False

    def logits_at(self, inputs: dict, keep: int | torch.Tensor, **kwargs):
        """``model(**inputs, **kwargs)`` and its logits at the positions ``keep`` only: an int k = the
        last k positions, a 1-D tensor = those positions, in order. Returns (output, (B, P, V) logits).

        The unembedding is a position-wise map, so these equal the full forward's logits at those
        positions; computing only them saves a (T, D) x (D, V) product that dominates short prompts of
        large-vocabulary models (and the prefix forwards of a sweep, whose logits nobody reads).
        """
        if isinstance(keep, int) and keep < 1:
            raise ValueError(f"keep must be >= 1 position, got {keep}")
        if self.takes_logits_to_keep:
            out = self.model(**inputs, **kwargs, logits_to_keep=keep)
            return out, out.logits
        out = self.model(**inputs, **kwargs)
        return out, (out.logits[:, -keep:] if isinstance(keep, int) else out.logits[:, keep.to(out.logits.device)])

    def extend_inputs(self, inputs: dict, new_ids: torch.Tensor) -> dict:
        """The prompt's inputs with generated tokens ``new_ids`` (B, k) appended, as ``generate`` extends
        them (per-position tensors padded: attention 1, token types 0); families whose generated tokens
        carry other per-position inputs (PaliGemma's suffix token types, mllama's cross-attention mask)
        override it."""
        out = dict(inputs, input_ids=torch.cat([inputs["input_ids"], new_ids], 1))
        fill = {"attention_mask": 1, "token_type_ids": 0, "mm_token_type_ids": 0, "image_patches_indices": -1}
        for k, v in fill.items():
            if k in inputs:
                out[k] = torch.cat([inputs[k], torch.full_like(new_ids, v).to(inputs[k].dtype)], 1)
        return out

    def full_inputs(self, enc: Encoded) -> dict:
        """Keyword inputs for one full forward of ``enc``, with explicit position ids where needed."""
        pos = self.position_ids(enc)
        return enc.inputs if pos is None else {**enc.inputs, "position_ids": pos}

    def slice_positions(self, enc: Encoded, start: int, end: int, rows: int | None = None) -> dict:
        """Inputs restricted to token positions [start, end) (for a cached-prefix step).

        Image inputs go only with a slice that starts at 0 (the prefix holds every image).
        """
        out = {}
        for k, v in enc.inputs.items():
            if k == "input_ids" or k in self.per_position_keys:
                out[k] = v[:, start:end] if k != "attention_mask" else v[:, :end]
            elif start == 0:
                out[k] = v
        if rows is not None:
            out = {k: v.expand(rows, *v.shape[1:]) for k, v in out.items()}
        return out

    def image_runs(self, ids: Sequence[int]) -> list[list[int]]:
        """Positions of each image's feature tokens: one run of consecutive image tokens per image."""
        runs: list[list[int]] = []
        for i, t in enumerate(ids):
            if int(t) in self.image_token_ids:
                if runs and runs[-1][-1] == i - 1:
                    runs[-1].append(i)
                else:
                    runs.append([i])
        return runs

    def provenance(self) -> dict:
        """Where the weights came from (package, version, file, sha256, quantization, label) when the
        loader recorded it (GGUF checkpoints: ``taskvec.models.gguf``); {} otherwise. Goes into vector metadata."""
        return dict(getattr(self, "_provenance", None) or {})

    def set_provenance(self, provenance: dict) -> None:
        self._provenance = dict(provenance)

    def describe(self) -> dict:
        prov = self.provenance()
        extra = {"label": prov["label"], "real_weights": True} if prov.get("label") else {}
        return {**extra, **self._describe()}

    def _describe(self) -> dict:
        return {
            "model": self.model_id, "revision": self.revision, "family": self.family,
            "layers": self.n_layers, "hidden_size": self.hidden_size, "dtype": str(self.dtype).replace("torch.", ""),
            "device": str(self.device), "images": self.supports_images, "meaningless_weights": self.meaningless_weights,
        }

    def check_prompt_images(self, prompt: Prompt) -> None:
        if has_image(prompt) and not self.supports_images:
            self.render(prompt)
