"""Qwen3.5 / Qwen3.5-MoE (qwen3_5, qwen3_5_moe): hybrid Gated DeltaNet + attention decoders.

What transformers 5.23's ``modeling_qwen3_5.py`` does and what taskvec makes of it:

- Three of every four decoder layers are Gated DeltaNet linear attention (a short causal
  convolution, then a gated delta-rule recurrence); the others are full softmax attention. Both
  are causal, and every layer returns one (B, T, D) hidden state: the default residual sites hold.
  No DeepStack: unlike Qwen3-VL, nothing is added to the hidden state between decoder layers
  (the Qwen3-VL ``deepstack_*`` attributes are deleted in ``modular_qwen3_5.py``).
- Linear-attention layers ignore a 4-D attention mask (``create_recurrent_attention_mask`` returns
  None for one) and their recurrence would run across packed copies: ``packed_sweep`` False.
- The prefix cache holds the conv and recurrent states. The state after a prefix is mathematically
  the same whatever follows, but transformers' ``LinearAttentionLayer`` cache has no
  ``batch_repeat_interleave`` (the repeated-cache sweep cannot copy it along the batch) and no
  crop once a recurrent state exists, so no prefix-cache sweep is exact here: ``causal_prefix``
  False, and sweeps run the exact per-layer loop.
- Right padding: a padded position only comes after a row's real tokens, and both the
  convolution and the recurrence are causal, so padding never reaches a real token (the model
  also zeroes padded inputs): batched extraction equals one prompt at a time (the invariant suite
  checks it on the tiny builds, with images of two sizes).
- 3-D rotary positions (interleaved M-RoPE over part of each head) as Qwen2-VL:
  ``position_ids`` computes them once per prompt with the model's own ``get_rope_index``.
- qwen3_5_moe: top-k softmax routing per token plus a gated shared expert, no capacity limit, so
  batching cannot change a token's experts.
- An image is ``<|vision_start|><|image_pad|><|vision_end|>`` (the chat template's layout); the
  processor (Qwen3VLProcessor) expands ``<|image_pad|>`` to one token per 2x2 merged patch. Images
  arrive resized to the paper's 224-px width, well inside the processor's min/max pixels, so an image
  is one run whose length follows its aspect ratio (no tiling exists to turn off).

tests/models/test_recurrent_families.py shows the packed and repeated-cache sweeps failing on these
layers and right padding staying out of real tokens, with the token mixers scaled up.
"""

from __future__ import annotations

import torch

from taskvec.models.families.qwen2_vl import Qwen2VLAdapter
from taskvec.models.generic import DeclaredAdapter
from taskvec.models.registry import Family, TinySpec, register_family


class Qwen3_5Adapter(DeclaredAdapter):
    """Qwen3.5: exact per-layer sweeps (recurrent layers), explicit 3-D rope positions."""

    causal_prefix = False  # the recurrent/conv prefix cache cannot be repeated or cropped (see the module docstring)
    packed_sweep = False  # linear-attention layers ignore a 4-D mask
    image_placeholder = "<|vision_start|><|image_pad|><|vision_end|>"
    position_ids = Qwen2VLAdapter.position_ids  # (3, B, T) from the model's own get_rope_index

    def __init__(self, model, processor, model_id: str = "", revision: str | None = None,
                 meaningless_weights: bool = False):
        super().__init__(model, processor, model_id, revision, meaningless_weights)
        self.image_placeholder = type(self).image_placeholder  # the template's block, not the bare pad token
        self.image_token_names = (processor.image_token,)


TINY = {
    "qwen3_5": TinySpec(4, (
        "Prompt text <|vision_start|><|image_pad|><|vision_end|>; <|image_pad|> expands to 2-4 tokens (at most "
        "64x64 px after smart resize, 16-px patches, 2x2 merge); the processor (Qwen3VLProcessor) returns "
        "mm_token_type_ids; layers linear, linear, linear, full attention (Gated DeltaNet, conv kernel 4); "
        "interleaved M-RoPE on half of each 16-dim head."
    )),
    "qwen3_5_moe": TinySpec(4, (
        "Like qwen3_5 (3 Gated DeltaNet layers, then full attention); every MLP a MoE of 4 experts (top 2) "
        "plus a gated shared expert."
    )),
}


def build_tiny(model_type: str, seed: int):
    """(tiny random Qwen3.5 / Qwen3.5-MoE model, its processor)."""
    import transformers as tf

    from taskvec.models.families.qwen3_vl import tiny_parts
    from taskvec.testing.builders import HEADS, HIDDEN, INTER, finish, llama_like_text, vocab_size

    tok, ids, proc, patch, merge = tiny_parts()  # the Qwen3-VL tokenizer, token ids and processor
    n = TINY[model_type].layers
    rope = {"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.5, "mrope_section": [2, 1, 1],
            "mrope_interleaved": True}
    text = llama_like_text(n, vocab_size(tok), tok, head_dim=HIDDEN // HEADS, rope_parameters=rope,
                           layer_types=["linear_attention"] * (n - 1) + ["full_attention"], linear_conv_kernel_dim=4,
                           linear_key_head_dim=8, linear_value_head_dim=8, linear_num_key_heads=2,
                           linear_num_value_heads=4)
    vision = dict(depth=2, hidden_size=HIDDEN, intermediate_size=INTER, num_heads=HEADS, patch_size=patch,
                  spatial_merge_size=merge, out_hidden_size=HIDDEN, num_position_embeddings=64)
    if model_type == "qwen3_5":
        cfg, cls = tf.Qwen3_5Config(text_config=text, vision_config=vision, **ids), tf.Qwen3_5ForConditionalGeneration
    else:
        text.update(moe_intermediate_size=16, shared_expert_intermediate_size=16, num_experts=4, num_experts_per_tok=2)
        text.pop("intermediate_size")
        cfg = tf.Qwen3_5MoeConfig(text_config=text, vision_config=vision, **ids)
        cls = tf.Qwen3_5MoeForConditionalGeneration
    torch.manual_seed(seed)
    return finish(cls(cfg), model_type, seed), proc


FAMILY = register_family(Family(
    name="qwen3_5",
    model_types=("qwen3_5", "qwen3_5_moe"),
    adapter=Qwen3_5Adapter,
    text_only=False,
    build_tiny=build_tiny,
    tiny=TINY,
    suggested={"Qwen/Qwen3.5-27B": "qwen3_5", "Qwen/Qwen3.5-35B-A3B": "qwen3_5_moe"},
))
