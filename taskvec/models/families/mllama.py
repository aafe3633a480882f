"""Llama 3.2 Vision (mllama): a Llama decoder with interleaved gated cross-attention layers.

Two traps, and how this family handles them:

- The decoder's ``layers`` interleave self-attention layers with cross-attention layers
  (``text_config.cross_attention_layers``) that ``MllamaTextModel`` *skips* when there is no
  image (nothing to attend to, nothing cached): a hook on a cross-attention layer never fires on
  a text query. The adapter's ``decoder_layers`` are therefore the self-attention layers only, a
  ``ModuleList`` view of the same modules (not registered in the model, so nothing is mutated):
  every listed layer runs on every forward. Residual layer ``l`` is the output of the ``l``-th
  self-attention layer (``l = 0``: its input, the embeddings); a cross-attention layer's
  contribution appears in the next residual. A layout whose first or last decoder layer is a
  cross-attention layer is refused (residual 0 would not be the embeddings, or residual ``L``
  would not be what the final norm reads, so the lens of the last layer would not be the logits).
- Images enter through cross-attention over the vision tower's states, not as tokens in the
  sequence: the prompt holds one ``<|image|>`` marker per image, whose residual is an ordinary
  token's. ``image_runs`` (image-position features, context embeddings of image examples) raises
  ``UnsupportedInputError`` instead of returning marker positions.

Capabilities. ``causal_prefix`` True: self-attention is causal and a text token's
cross-attention reads only the image states and its own ``cross_attention_mask`` row, so a
prefix's cache (self-attention keys/values plus the cross-attention layers' projected image
keys/values) is the same whatever follows; the repeated-cache sweep slices
``cross_attention_mask`` per position and reuses the cached image keys. ``packed_sweep`` False:
the one-row packing repeats per-position inputs as (1, T) rows and crops every cache layer by the
copies' length, which would cut the cross-attention layers' image keys; so no packing.

Processor facts: the real processor inserts ``<|begin_of_text|>`` as text (after any leading
``<|image|>``) and the tokenizer adds none, so text-only prompts go through the processor too
(one BOS either way). A batch mixing prompts with and without images does not run (the vision
tower's aspect-ratio ids are shaped per batch), so prompts with images are encoded one per batch.
Image tiling (``max_image_tiles``) changes only the vision states, never the token layout (one
marker per image), so it is left at the checkpoint's default.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, Sequence

import torch
from torch import nn

from taskvec.errors import ModelLoadError, UnsupportedInputError
from taskvec.models.generic import DeclaredAdapter
from taskvec.models.registry import Family, TinySpec, register_family


class MllamaAdapter(DeclaredAdapter):
    """Self-attention layers only; images by cross-attention (no image tokens)."""

    causal_prefix = True
    packed_sweep = False  # see the module docstring: per-position 4-D cross-attention mask, cross-attention cache
    images_nested = True  # the processor wants one list of images per prompt
    image_batch_size = 1  # a batch mixing rows with and without images does not run
    per_position_keys = (*DeclaredAdapter.per_position_keys, "cross_attention_mask")  # (B, T, images, tiles)
    images_are_tokens = False  # image features are not a run of tokens in the sequence

    def __init__(self, model: nn.Module, processor: Any, model_id: str = "", revision: str | None = None,
                 meaningless_weights: bool = False):
        super().__init__(model, processor, model_id, revision, meaningless_weights)
        self.image_token_names = ()  # <|image|> is a marker; no token carries image features
        n, cross = len(self.all_layers), self.cross_attention_layers
        if not cross or 0 in cross or n - 1 in cross or any(not 0 <= i < n for i in cross):
            raise ModelLoadError(
                f"{model_id or 'mllama'}: cross-attention layers {sorted(cross)} of {n} decoder layers; taskvec "
                "serves Llama 3.2 Vision layouts whose first and last decoder layers are self-attention layers "
                "(residual 0 = the embeddings, residual L = what the final norm reads) and that have cross-attention "
                "layers at all. Use a checkpoint with the standard layout (e.g. cross-attention at 3, 8, 13, ...).")

    @property
    def all_layers(self) -> nn.ModuleList:
        """Every decoder layer, self- and cross-attention, as the model holds them."""
        return self.model.get_decoder().layers

    @property
    def cross_attention_layers(self) -> list[int]:
        return sorted(int(i) for i in (self.text_config.cross_attention_layers or []))

    @cached_property
    def decoder_layers(self) -> nn.ModuleList:
        """The self-attention layers, in order: a view of the model's own modules (hooks land on them)."""
        cross = set(self.cross_attention_layers)
        return nn.ModuleList([m for i, m in enumerate(self.all_layers) if i not in cross])

    @property
    def self_attention_layers(self) -> list[int]:
        """Index in the model's ``layers`` of each listed decoder layer."""
        cross = set(self.cross_attention_layers)
        return [i for i in range(len(self.all_layers)) if i not in cross]

    def processor_call(self, texts: list[str], images: list[list]) -> dict:
        """The processor for every prompt (it writes the BOS as text; the tokenizer adds none)."""
        kwargs = dict(images=images) if any(images) else {}
        return dict(self.processor(text=texts, return_tensors="pt", padding=True, **kwargs))

    def image_runs(self, ids: Sequence[int]) -> list[list[int]]:
        raise UnsupportedInputError(
            f"{self.model_id or self.family}: images enter Llama 3.2 Vision through cross-attention layers, not as "
            "tokens in the sequence (a prompt holds one <|image|> marker per image), so there are no image-token "
            "positions to read (context embeddings of image examples, image-position features). Use text "
            "examples for context embeddings, or a model whose images are tokens (e.g. idefics3, qwen2_vl).")

    def extend_inputs(self, inputs: dict, new_ids: torch.Tensor) -> dict:
        """The prompt's inputs with ``new_ids`` (B, k) appended, as ``generate`` extends them: each new token's
        cross-attention mask row repeats the prompt's last row."""
        k = new_ids.shape[1]
        out = dict(inputs, input_ids=torch.cat([inputs["input_ids"], new_ids], 1))
        out["attention_mask"] = torch.cat([inputs["attention_mask"], torch.ones_like(new_ids)], 1)
        if "cross_attention_mask" in inputs:
            cam = inputs["cross_attention_mask"]  # (B, T, images, tiles)
            out["cross_attention_mask"] = torch.cat([cam, cam[:, -1:].expand(-1, k, *cam.shape[2:])], 1)
        return out

    def _describe(self) -> dict:
        return {**super()._describe(), "cross_attention_layers": self.cross_attention_layers,
                "note": "residual l = output of the l-th self-attention layer; cross-attention layers "
                        f"{self.cross_attention_layers} are not listed (skipped on text queries)"}


TINY = {"mllama": TinySpec(3, (
    "4 decoder layers, cross-attention at [1]: the adapter lists the 3 self-attention layers [0, 2, 3]. "
    "Vision tower 14 px / 7 px patches (5 patches per tile), max 2 tiles (aspect ratios 1x1, 1x2, 2x1); "
    "one <|image|> marker per image, no image tokens; BOS written by the processor."))}


def build_tiny(model_type: str, seed: int, cross_attention_layers: tuple[int, ...] = (1,)):
    """(tiny random Llama 3.2 Vision model, its processor); ``cross_attention_layers`` of its 4 decoder layers."""
    import transformers as tf

    from taskvec.testing.builders import HEADS, HIDDEN, INTER, byte_level_tokenizer, finish, llama_like_text, vocab_size

    img, patch = 14, 7
    tok = byte_level_tokenizer(bos="<|begin_of_text|>", eos="<|eot_id|>", pad="<|finetune_right_pad_id|>",
                               specials=["<|image|>", "<|python_tag|>"], named={"image_token": "<|image|>"})
    vision = dict(hidden_size=HIDDEN, intermediate_size=INTER, num_hidden_layers=2, num_global_layers=1,
                  attention_heads=HEADS, image_size=img, patch_size=patch, max_num_tiles=2,
                  supported_aspect_ratios=[[1, 1], [1, 2], [2, 1]], intermediate_layers_indices=[0],
                  vision_output_dim=2 * HIDDEN)  # last state + 1 intermediate layer
    text = llama_like_text(4, vocab_size(tok), tok, cross_attention_layers=list(cross_attention_layers))  # 4 in all
    cfg = tf.MllamaConfig(vision_config=vision, text_config=text,
                          image_token_index=tok.convert_tokens_to_ids("<|image|>"))
    proc = tf.MllamaProcessor(image_processor=tf.MllamaImageProcessor(size={"height": img, "width": img},
                                                                      max_image_tiles=2), tokenizer=tok)
    torch.manual_seed(seed)
    model = tf.MllamaForConditionalGeneration(cfg)
    with torch.no_grad():  # the gates start at 0 (tanh 0: images would change nothing); open them, seeded
        for name, p in model.named_parameters():
            if name.endswith(("cross_attn_attn_gate", "cross_attn_mlp_gate")):
                p.uniform_(0.5, 1.5)
    return finish(model, model_type, seed), proc


FAMILY = register_family(Family(
    name="mllama",
    model_types=("mllama",),
    adapter=MllamaAdapter,
    text_only=False,
    build_tiny=build_tiny,
    tiny=TINY,
    suggested={"meta-llama/Llama-3.2-11B-Vision-Instruct": "mllama (Llama 3.2 11B Vision)"},
))
