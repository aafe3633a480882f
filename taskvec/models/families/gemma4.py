"""Gemma 4: per-layer embeddings, KV sharing, sliding windows, bidirectional image blocks, softcap.

What transformers 5.23's ``modeling_gemma4.py`` does and what taskvec makes of it:

- Per-layer embeddings (PLE, the E2B/E4B models): a per-token vector from ``embed_tokens_per_layer``
  (and the input embeddings) is gated into the hidden state at the end of every decoder layer.
  Unlike Gemma 3n there is no AltUp: the layers pass one (B, T, D) hidden state, so a decoder
  layer's output is the whole residual state and the default residual sites hold. The per-layer
  inputs come from the tokens, not from the residual, so a patch at layer l is added to exactly as
  the model adds to an unpatched state.
- KV sharing (``num_kv_shared_layers``): the last layers reuse the keys/values of earlier ones, and
  with an *integer* ``logits_to_keep`` the text model slices the hidden state to the kept
  positions before the first sharing layer (``_maybe_slice_kv_shared_inputs``), so those layers see
  (B, k, D), not (B, T, D): a capture or patch at the delimiter of a padded row, or at any position
  but the last, would miss. The model skips that shortcut when router logits are requested, so
  the adapter sets ``output_router_logits`` on the text config of a model with shared layers (it
  records at most a (T, experts) tensor per MoE layer and changes no output).
- Mixture of experts (``enable_moe_block``, 26B-A4B): a router picks top-k experts per token, no
  capacity limit: batching and packing cannot change a token's experts.
- Sliding-window layers build their own masks: ``packed_sweep`` False (a custom 4-D mask would
  replace them), as Gemma 3.
- ``use_bidirectional_attention == "vision"``: on sliding layers the soft tokens of one image attend
  to each other both ways (``mm_token_type_ids`` blocks). A block holds only image tokens and the
  delimiter is a text token, so a block lies wholly before or wholly after it: no prefix token
  ever sees a later token, and ``causal_prefix`` is True. (A custom 4-D mask replaces the blocks, so
  the one-pass sweep, whose mask covers the prefix's image, would lose them: another reason for
  ``packed_sweep`` False; tests/models/test_gemma4_family.py shows both.) ``"all"`` (a fully
  bidirectional text model) is not causal: such a model gets ``causal_prefix`` False (the exact loop).
- Images: the prompt holds the processor's ``image_token``; it expands to ``boi`` + soft tokens +
  ``eoi``, one run per image. The image processor resizes every image, keeping its aspect, to fill
  ``max_soft_tokens`` (280 by default, kept), so an image is one block of nearly that many tokens
  whatever its size: no tiling to turn off.
- Final logit softcapping: ``Gemma4ForConditionalGeneration`` applies the text config's
  ``final_logit_softcapping``; the lens applies it too (``softcap``).
"""

from __future__ import annotations

import torch

from taskvec.models.families.gemma3 import _forward_applies_softcap
from taskvec.models.generic import DeclaredAdapter
from taskvec.models.registry import Family, TinySpec, register_family


class Gemma4Adapter(DeclaredAdapter):
    """Gemma 4: full-length hidden states through KV-shared layers; no packed sweep; softcap in the lens."""

    packed_sweep = False  # sliding-window masks and bidirectional image blocks are built by the model
    images_nested = True

    def __init__(self, model, processor, model_id: str = "", revision: str | None = None,
                 meaningless_weights: bool = False):
        super().__init__(model, processor, model_id, revision, meaningless_weights)
        text = self.text_config
        if getattr(text, "use_bidirectional_attention", None) == "all":
            self.causal_prefix = False  # every token sees every other: no prefix cache is valid
        if getattr(text, "num_kv_shared_layers", 0):
            text_model = model.get_decoder()
            text_model.config.output_router_logits = True  # keeps (B, T, D) through the KV-shared layers

    def softcap(self) -> float | None:
        cap = super().softcap()
        return cap if cap and _forward_applies_softcap(type(self.model)) else None


TINY = {
    "gemma4": TinySpec(4, (
        "Prompt text <|image|> (the processor's image_token); it expands to <|image> + 56-70 x <|image|> + "
        "<image|> (max_soft_tokens 70, the smallest Gemma 4 supports; 4-px patches pooled 3x3); the processor "
        "returns mm_token_type_ids (image blocks attend bidirectionally on sliding layers, "
        "use_bidirectional_attention 'vision'); layers sliding, sliding, full, full (window 128); per-layer "
        "embeddings (8 per layer); the last layer reuses layer 2's keys/values (num_kv_shared_layers 1); "
        "every layer has a 4-expert top-2 MoE block beside its MLP; final logit softcap 30; tokenizer "
        "prepends <bos>."
    )),
}


def build_tiny(model_type: str, seed: int):
    """(tiny random Gemma 4 model, its processor)."""
    import transformers as tf

    from taskvec.testing.builders import HEADS, HIDDEN, INTER, byte_level_tokenizer, finish, llama_like_text, vocab_size

    named = {"boi_token": "<|image>", "image_token": "<|image|>", "eoi_token": "<image|>",
             "boa_token": "<|audio>", "audio_token": "<|audio|>", "eoa_token": "<audio|>"}
    tok = byte_level_tokenizer(bos="<bos>", eos="<eos>", pad="<pad>", unk="<unk>", add_bos=True,
                               specials=[*named.values(), "<|video|>"], named=named)
    vocab = vocab_size(tok)
    n = TINY[model_type].layers
    head_dim = HIDDEN // HEADS
    text = llama_like_text(n, vocab, tok, head_dim=head_dim, global_head_dim=head_dim, tie_word_embeddings=True,
                           layer_types=["sliding_attention"] * (n - 2) + ["full_attention"] * 2, sliding_window=128,
                           final_logit_softcapping=30.0, use_bidirectional_attention="vision",
                           vocab_size_per_layer_input=vocab, hidden_size_per_layer_input=8, num_kv_shared_layers=1,
                           enable_moe_block=True, num_experts=4, top_k_experts=2, moe_intermediate_size=16)
    patch, pool, soft = 4, 3, 70
    vision = dict(hidden_size=HIDDEN, intermediate_size=INTER, num_hidden_layers=2, num_attention_heads=HEADS,
                  num_key_value_heads=HEADS, head_dim=head_dim, patch_size=patch, pooling_kernel_size=pool,
                  position_embedding_size=64)
    ids = {k: tok.convert_tokens_to_ids(named[t]) for k, t in (
        ("boi_token_id", "boi_token"), ("eoi_token_id", "eoi_token"), ("image_token_id", "image_token"),
        ("boa_token_id", "boa_token"), ("eoa_token_index", "eoa_token"), ("audio_token_id", "audio_token"))}
    cfg = tf.Gemma4Config(text_config=text, vision_config=vision, audio_config=None,
                          video_token_id=tok.convert_tokens_to_ids("<|video|>"), **ids)
    sizes = dict(patch_size=patch, max_soft_tokens=soft, pooling_kernel_size=pool)
    proc = tf.Gemma4Processor(
        feature_extractor=tf.Gemma4AudioFeatureExtractor(),  # the processor requires one; no audio tower is built
        image_processor=tf.Gemma4ImageProcessor(**sizes),
        tokenizer=tok,
        video_processor=tf.Gemma4VideoProcessor(**sizes),
        image_seq_length=soft,
    )
    torch.manual_seed(seed)
    return finish(tf.Gemma4ForConditionalGeneration(cfg), model_type, seed), proc


FAMILY = register_family(Family(
    name="gemma4",
    model_types=("gemma4",),
    adapter=Gemma4Adapter,
    text_only=False,
    build_tiny=build_tiny,
    tiny=TINY,
    suggested={"google/gemma-4-e2b-it": "gemma4 (E2B: per-layer embeddings, KV sharing)"},
))
