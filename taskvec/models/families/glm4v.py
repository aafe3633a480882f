"""GLM-4.1V / GLM-4.5V / GLM-4.6V (glm4v, glm4v_moe, glm46v): a Qwen2-VL-style layout in a GLM decoder.

(glm46v is transformers' Glm4v model with its text and vision sub-models built from their own configs:
the same facts hold.)

What differs from the generic layout reading:

- 3-D rotary positions (M-RoPE with ``mrope_section``, over the rotary half of each head): the
  model derives them from ``input_ids``, ``mm_token_type_ids`` and ``image_grid_thw`` only when
  it sees the whole prompt; a sweep step that starts after the prefix would get plain 1-D
  positions. ``position_ids`` computes them once per prompt (``get_rope_index``, as Qwen2-VL) and
  the sweeps pass slices of them, so every copy of the suffix has the positions of the full run.
- An image is ``<|begin_of_image|>`` + n x ``<|image|>`` + ``<|end_of_image|>`` (the layout of
  the GLM-4.1V chat template); the processor expands ``<|image|>`` to one token per 2x2 merged
  patch, one consecutive run per image; at the paper's 224-px width an image is well inside the
  processor's min/max pixels, so its length follows its aspect ratio only.

Capabilities: ``causal_prefix`` True (every decoder layer is causal self-attention; image tokens
attend causally too, so a prefix's cache does not depend on what follows); ``packed_sweep`` True
(the text model builds its mask with ``create_causal_mask``, which passes a custom 4-D mask
through, and has no sliding windows). glm4v_moe's mixture-of-experts MLPs route each token
alone (top-k over a softmax/sigmoid score, no capacity limit, no batch-level balancing at
inference), so packing or padding other tokens beside a token cannot change its experts.
"""

from __future__ import annotations

import torch

from taskvec.models.families.qwen2_vl import Qwen2VLAdapter
from taskvec.models.generic import DeclaredAdapter
from taskvec.models.registry import Family, TinySpec, register_family


class Glm4vAdapter(DeclaredAdapter):
    """GLM-4V: explicit 3-D rope positions for every forward (``get_rope_index`` has Qwen2-VL's signature)."""

    image_placeholder = "<|begin_of_image|><|image|><|end_of_image|>"
    position_ids = Qwen2VLAdapter.position_ids  # (3, B, T) from the model's own get_rope_index

    def __init__(self, model, processor, model_id: str = "", revision: str | None = None,
                 meaningless_weights: bool = False):
        super().__init__(model, processor, model_id, revision, meaningless_weights)
        self.image_placeholder = type(self).image_placeholder  # the template's block, not the bare <|image|>
        self.image_token_names = (processor.image_token,)


TINY = {
    "glm4v": TinySpec(3, (
        "Prompt text <|begin_of_image|><|image|><|end_of_image|>; <|image|> expands to 2-4 tokens (at most 56x56 "
        "px after smart resize, 14-px patches, 2x2 merge); the processor returns mm_token_type_ids; M-RoPE on half "
        "of each 16-dim head (partial_rotary_factor 0.5, mrope_section [2, 1, 1])."
    )),
    "glm4v_moe": TinySpec(2, (
        "Like glm4v; text layer 0 dense (first_k_dense_replace 1), layer 1 a MoE of 4 routed experts (top 2) "
        "plus 1 shared expert."
    )),
    "glm46v": TinySpec(2, "Like glm4v (Glm46VConfig over a glm4v_text text config and a glm4v_vision tower)."),
}


def build_tiny(model_type: str, seed: int):
    """(tiny random GLM-4.1V / 4.5V (MoE) / 4.6V model, its processor)."""
    import transformers as tf

    from taskvec.testing.builders import HEADS, HIDDEN, INTER, byte_level_tokenizer, finish, llama_like_text, vocab_size

    patch, merge = 14, 2
    side = patch * merge * 2  # at most 56x56 px -> 4x4 patches -> 2x2 merged = 4 image tokens
    specials = ["[gMASK]", "<sop>", "<|user|>", "<|assistant|>", "<|begin_of_image|>", "<|image|>",
                "<|end_of_image|>", "<|begin_of_video|>", "<|video|>", "<|end_of_video|>"]
    tok = byte_level_tokenizer(bos=None, eos="<|endoftext|>", pad="<|endoftext|>", specials=specials)
    ids = {name: tok.convert_tokens_to_ids(t) for name, t in (
        ("image_token_id", "<|image|>"), ("video_token_id", "<|video|>"),
        ("image_start_token_id", "<|begin_of_image|>"), ("image_end_token_id", "<|end_of_image|>"),
        ("video_start_token_id", "<|begin_of_video|>"), ("video_end_token_id", "<|end_of_video|>"))}
    rope = {"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.5, "mrope_section": [2, 1, 1]}
    text = llama_like_text(TINY[model_type].layers, vocab_size(tok), tok, head_dim=HIDDEN // HEADS,
                           rope_parameters=rope)
    vision = dict(depth=2, hidden_size=HIDDEN, intermediate_size=INTER, num_heads=HEADS, out_hidden_size=HIDDEN,
                  image_size=side, patch_size=patch, spatial_merge_size=merge)
    if model_type == "glm4v":
        cfg = tf.Glm4vConfig(text_config=text, vision_config=vision, **ids)
        cls = tf.Glm4vForConditionalGeneration
    elif model_type == "glm46v":
        cfg = tf.Glm46VConfig(text_config=dict(model_type="glm4v_text", **text),
                              vision_config=dict(model_type="glm4v_vision", **vision), **ids)
        cls = tf.Glm46VForConditionalGeneration
    else:
        text.update(moe_intermediate_size=16, n_routed_experts=4, num_experts_per_tok=2, n_shared_experts=1,
                    first_k_dense_replace=1, n_group=1, topk_group=1)
        cfg = tf.Glm4vMoeConfig(text_config=text, vision_config=vision, **ids)
        cls = tf.Glm4vMoeForConditionalGeneration
    pixels = 2 * side * side  # smart_resize counts the 2 temporal frames an image is repeated into
    size = {"shortest_edge": pixels, "longest_edge": pixels}
    proc_cls = tf.Glm46VProcessor if model_type == "glm46v" else tf.Glm4vProcessor  # 4.6V: its own video text
    proc = proc_cls(
        image_processor=tf.Glm4vImageProcessor(size=size, patch_size=patch, merge_size=merge),
        tokenizer=tok,
        video_processor=tf.Glm4vVideoProcessor(size=size, patch_size=patch, merge_size=merge),
    )
    torch.manual_seed(seed)
    return finish(cls(cfg), model_type, seed), proc


FAMILY = register_family(Family(
    name="glm4v",
    model_types=("glm4v", "glm4v_moe", "glm46v"),
    adapter=Glm4vAdapter,
    text_only=False,
    build_tiny=build_tiny,
    tiny=TINY,
    suggested={"zai-org/GLM-4.1V-9B-Thinking": "glm4v (GLM-4.1V)", "zai-org/GLM-4.5V": "glm4v_moe (GLM-4.5V)"},
))
