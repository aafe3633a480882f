"""``GenericAdapter``: a decoder-only model of a type no family file serves, from its standard layout.

It reads everything it needs from the model and processor instead of a family file: the decoder
layers through ``get_decoder()`` (or the usual paths), the final norm beside them, the
unembedding from ``get_output_embeddings()``, the text config from ``get_text_config()``, and
the image placeholder from ``processor.image_token`` or the config's image token id
(``image_token_id`` / ``image_token_index``). It declares no shortcut capability: the layer
sweep runs the exact per-layer loop, so its numbers are right wherever its hooks fire; whether
they fire, where the delimiter is and whether an image prompt lays out as expected is what
``python -m taskvec check`` verifies on the real checkpoint. A family file replaces it once an
architecture is verified and its quirks are known.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from taskvec.models.base import Adapter

IMAGE_TOKEN_ATTRS = ("image_token", "image_token_str")
IMAGE_ID_ATTRS = ("image_token_id", "image_token_index")


def image_placeholder(model: nn.Module, processor: Any) -> str | None:
    """The text of one image in a prompt for this processor, or None (a text-only model)."""
    tok = getattr(processor, "tokenizer", None)
    if tok is None:  # a bare tokenizer: text only
        return None
    for attr in IMAGE_TOKEN_ATTRS:
        for owner in (processor, tok):
            value = getattr(owner, attr, None)
            if isinstance(value, str) and value:
                return value
    return _config_image_token(model, tok)


def _config_image_token(model: nn.Module, tokenizer) -> str | None:
    cfg = model.config
    for attr in IMAGE_ID_ATTRS:
        value = getattr(cfg, attr, None)
        if isinstance(value, int) and 0 <= value < len(tokenizer):
            return tokenizer.convert_ids_to_tokens(value)
    return None


def injects_between_layers(model: nn.Module) -> bool:
    """The model adds features to the hidden state between decoder layers (DeepStack: Qwen3-VL and the
    models built like it name it so in their decoder's methods or their config), so residual l must be
    read as what decoder layer l receives (``Adapter.residual_at_input``)."""
    dec = model.get_decoder() if hasattr(model, "get_decoder") else None
    if dec is not None and any("deepstack" in name.lower() for name in dir(type(dec))):
        return True
    cfg = model.config
    configs = [cfg] + [getattr(cfg, k) for k in ("vision_config", "text_config") if getattr(cfg, k, None) is not None]
    return any("deepstack" in key.lower() and value for c in configs for key, value in c.to_dict().items())


class GenericAdapter(Adapter):
    """Any decoder-only (V)LM with the standard layout; unverified until ``taskvec check`` passes on it."""

    family = "generic"
    causal_prefix = False  # not declared by a family file: sweeps use the exact per-layer loop
    packed_sweep = False
    verified = False

    def __init__(self, model: nn.Module, processor: Any, model_id: str = "", revision: str | None = None,
                 meaningless_weights: bool = False):
        super().__init__(model, processor, model_id, revision, meaningless_weights)
        placeholder = image_placeholder(model, processor)
        self.image_placeholder = placeholder
        # the tokens that stand for image features: the placeholder, and the token the config names (processors
        # such as Aya Vision's expand the placeholder into other tokens, whose id the model fills with features)
        feature = _config_image_token(model, self.tokenizer) if placeholder else None
        self.image_token_names = tuple(dict.fromkeys(t for t in (placeholder, feature) if t))
        self.family = f"generic:{model.config.model_type}"
        self.residual_at_input = injects_between_layers(model)  # DeepStack-like: what the next layer receives
        try:  # the standard layout, checked now rather than at the first forward
            self.decoder_layers, self.final_norm, self.lm_head
        except TypeError as e:
            from taskvec.errors import ModelLoadError
            from taskvec.models import registry

            raise ModelLoadError(
                f"{model_id or type(model).__name__}: architecture {model.config.model_type!r} has no family file and "
                f"not the standard decoder layout the generic adapter reads ({e}). Supported families: "
                f"{', '.join(registry.supported_families())}.") from None
        if self.lm_head is None:
            from taskvec.errors import ModelLoadError

            raise ModelLoadError(f"{model_id}: architecture {model.config.model_type!r} has no output embeddings "
                                 "(get_output_embeddings() is None), so the logit lens is undefined.")

    def _describe(self) -> dict:
        if self.verified:
            return {**super()._describe(), "verified": True}
        return {**super()._describe(), "verified": False,
                "note": "no family file: generic adapter, exact per-layer sweep; run `python -m taskvec check`"}


class DeclaredAdapter(GenericAdapter):
    """The generic layout reading for a family file that has verified its types on tiny builds and
    declares the capabilities its text model has (causal attention, custom 4-D masks): the fast
    sweeps apply. Its ``family`` is the model type. Two declarative quirks a family may set:

    - ``processor_defaults``: {"images_kwargs": {...}, "text_kwargs": {...}} merged into the
      processor's call defaults at load (e.g. one tile per image, right padding);
    - ``image_end_token``: an image's feature tokens are interrupted by row or tile markers, so one
      image's run is every feature token up to this token (else: consecutive feature tokens).
    """

    causal_prefix = True
    packed_sweep = True
    verified = True
    processor_defaults: dict = {}
    image_end_token: str | None = None

    def __init__(self, model: nn.Module, processor: Any, model_id: str = "", revision: str | None = None,
                 meaningless_weights: bool = False):
        for attr, values in self.processor_defaults.items():
            setattr(processor, attr, {**(getattr(processor, attr, None) or {}), **values})
        super().__init__(model, processor, model_id, revision, meaningless_weights)
        self.family = model.config.model_type

    def image_runs(self, ids):
        if self.image_end_token is None:
            return super().image_runs(ids)
        end = self.tokenizer.get_vocab().get(self.image_end_token)
        runs, cur = [], []
        for i, t in enumerate(ids):
            if int(t) in self.image_token_ids:
                cur.append(i)
            elif int(t) == end and cur:
                runs.append(cur)
                cur = []
        return runs + ([cur] if cur else [])
