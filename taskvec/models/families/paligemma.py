"""PaliGemma (1 and 2): a SigLIP tower, a linear projector and a Gemma / Gemma 2 decoder run as a prefix-LM.

The trap: attention is bidirectional over the prefix (every token with ``token_type_ids == 0``:
the image tokens and the prompt) and causal only over the generated suffix. Patching the
delimiter at layer ``l`` therefore changes the residuals of *earlier* prompt positions from layer
``l + 1`` on, and a prefix's keys/values depend on what follows it in the prefix. So:

- ``causal_prefix`` False: the prefix-cache sweep (and its repeated-cache variant) would reuse a
  prefix cache computed without the suffix, which the model never does; the sweep runs the exact
  per-layer loop (one full forward per layer);
- ``packed_sweep`` False: a packed row would put several copies of the suffix into one
  bidirectional block.

Layout (as the processor writes it): ``<image> x n`` + ``<bos>`` + prompt + ``"\\n"``; the prompt
is the prefix and the answer is generated after the closing ``"\\n"`` (PaliGemma's separator). The
delimiter (the ``:`` of the last ``A:``) lies inside the prefix, one token before the ``"\\n"`` whose
logits give the first answer token. The processor inserts ``<bos>`` after the last image, so a
prompt whose images are interleaved with text (image examples) gets its ``<bos>`` after the last
image; a text-only prompt (the processor requires images) is laid out as ``<bos>`` + prompt +
``"\\n"`` by the adapter, with ``token_type_ids`` 0 (the prefix) like the processor's. Generated
tokens are suffix tokens (``token_type_ids`` 1, as ``generate`` extends them): the patch is written
in the prefill only, and later tokens read the patched prefix through the cache.
"""

from __future__ import annotations

from typing import Any

import torch

from taskvec.models.generic import DeclaredAdapter
from taskvec.models.registry import Family, TinySpec, register_family


class PaliGemmaAdapter(DeclaredAdapter):
    """Prefix-LM: bidirectional prefix, so sweeps use the exact per-layer loop."""

    causal_prefix = False  # bidirectional prefix: a patch at the delimiter changes earlier positions
    packed_sweep = False
    images_nested = True

    def processor_call(self, texts: list[str], images: list[list]) -> dict:
        """One row at a time (the processor wants images in every row; a text row is ``<bos>`` + text +
        ``"\\n"``), then right-padded into one batch; the processor's training ``labels`` are dropped."""
        rows = [self._row(t, ims) for t, ims in zip(texts, images)]
        T = max(r["input_ids"].shape[1] for r in rows)
        pad = {"input_ids": self.tokenizer.pad_token_id, "attention_mask": 0, "token_type_ids": 0}
        out = {k: torch.cat([torch.nn.functional.pad(r[k], (0, T - r[k].shape[1]), value=v) for r in rows])
               for k, v in pad.items()}  # (B, T) each
        pixels = [r["pixel_values"] for r in rows if "pixel_values" in r]
        if pixels:
            out["pixel_values"] = torch.cat(pixels)  # (n_images, 3, H, W), in the order the image tokens appear
        return out

    def _row(self, text: str, images: list) -> dict:
        if images:
            enc = self.processor(text=[text], images=[images], return_tensors="pt")
            return {k: v for k, v in enc.items() if k != "labels"}
        tok = self.tokenizer
        ids = tok(tok.bos_token + text + "\n", add_special_tokens=False, return_tensors="pt")["input_ids"]  # (1, T)
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "token_type_ids": torch.zeros_like(ids)}

    def extend_inputs(self, inputs: dict, new_ids: torch.Tensor) -> dict:
        """The prompt's inputs with ``new_ids`` (B, k) appended as ``generate`` extends them: generated tokens
        are suffix tokens (``token_type_ids`` 1, causal), not part of the bidirectional prefix."""
        out = dict(inputs, input_ids=torch.cat([inputs["input_ids"], new_ids], 1))
        out["attention_mask"] = torch.cat([inputs["attention_mask"], torch.ones_like(new_ids)], 1)
        out["token_type_ids"] = torch.cat([inputs["token_type_ids"], torch.ones_like(new_ids)], 1)
        return out


TINY = {"paligemma": TinySpec(3, (
    "PaliGemma 2 layout: SigLIP tower 28 px / 7 px patches -> 16 <image> tokens, then <bos>, the prompt and '\\n'; "
    "Gemma 2 decoder (final logit softcap 30, sliding window 64 on even layers); token_type_ids 0 = bidirectional "
    "prefix; vocabulary holds the processor's 1024 <locNNNN> and 128 <segNNN> tokens."))}


def build_tiny(model_type: str, seed: int):
    """(tiny random PaliGemma 2 model, its processor)."""
    import transformers as tf

    from taskvec.testing.builders import HEADS, HIDDEN, INTER, byte_level_tokenizer, finish, llama_like_text, vocab_size

    img, patch = 28, 7
    tok = byte_level_tokenizer(bos="<bos>", eos="<eos>", pad="<pad>", unk="<unk>", specials=["<image>"],
                               named={"image_token": "<image>"})
    ip = tf.SiglipImageProcessor(size={"height": img, "width": img})
    ip.image_seq_length = (img // patch) ** 2  # the hub's preprocessor config carries it
    proc = tf.PaliGemmaProcessor(image_processor=ip, tokenizer=tok)  # adds the <loc>/<seg> tokens to tok
    n = TINY[model_type].layers
    text = dict(model_type="gemma2", **llama_like_text(n, vocab_size(tok), tok, head_dim=HIDDEN // HEADS,
                                                       query_pre_attn_scalar=HIDDEN // HEADS, sliding_window=64,
                                                       tie_word_embeddings=True))
    vision = dict(model_type="siglip_vision_model", hidden_size=HIDDEN, intermediate_size=INTER, num_hidden_layers=2,
                  num_attention_heads=HEADS, image_size=img, patch_size=patch, vision_use_head=False)
    cfg = tf.PaliGemmaConfig(vision_config=vision, text_config=text,
                             image_token_index=tok.convert_tokens_to_ids("<image>"),
                             projection_dim=HIDDEN, hidden_size=HIDDEN, vocab_size=text["vocab_size"])
    torch.manual_seed(seed)
    return finish(tf.PaliGemmaForConditionalGeneration(cfg), model_type, seed), proc


FAMILY = register_family(Family(
    name="paligemma",
    model_types=("paligemma",),
    adapter=PaliGemmaAdapter,
    text_only=False,
    build_tiny=build_tiny,
    tiny=TINY,
    suggested={"google/paligemma2-3b-mix-224": "paligemma (PaliGemma 2 3B mix 224)"},
))
