"""Molmo2: a SigLIP tower pooled by an attention adapter, in a Qwen3-style decoder.

What transformers 5.23's ``modeling_molmo2.py`` / ``processing_molmo2.py`` do and what taskvec makes of it:

- Image layout: the processor expands ``<|image|>`` into a low-resolution view
  (``<low_res_im_start>``, rows of ``<im_patch>`` each closed by ``<im_col>``, ``<im_end>``) followed
  by the high-resolution crops (``<im_start>`` ... ``<im_end>``); the image features are *added* to
  the ``<im_patch>`` embeddings. One image is therefore one contiguous block of structure tokens
  whose feature tokens are interrupted by column markers and the view boundary: ``image_runs``
  returns, per image, every ``<im_patch>`` position from its ``<low_res_im_start>`` to the end of
  its block. The crop count follows the image's shape (``max_crops``, default 8); at the paper's
  224-px width an image is a small, fixed layout per aspect ratio.
- Bidirectional attention: in a prefill, *every* image token of a row (all images, both views)
  shares one attention block (``block_sequence_ids`` from ``mm_token_type_ids``), text stays
  causal. In a taskvec prompt every image comes before the delimiter (the prompt ends with it), so
  the tokens from the delimiter on are text: no prefix token attends to them, and the prefix cache is
  the same whatever follows (``causal_prefix`` True; the sweep's prefix pass sees the images, its
  suffix steps are plain causal text). The one-pass sweep's custom 4-D mask would replace the image
  block over the prefix (``create_causal_mask`` returns a 4-D mask as is): ``packed_sweep`` False.
  (Packing copies over a cached prefix would be exact; the declared flag covers both.)
- The processor prepends ``bos_token or eos_token`` (``<|endoftext|>``: the Qwen tokenizer has no
  BOS) to every prompt it sees, but only image prompts go through it: text-only prompts are
  tokenised by the bare tokenizer, and so are the text spans that context embeddings locate. So
  that a prompt encodes the same alone or batched with others, and text positions match what
  the tokenizer says, the adapter drops that prepended token: every prompt is the raw template.
"""

from __future__ import annotations

import torch

from taskvec.models.generic import DeclaredAdapter
from taskvec.models.registry import Family, TinySpec, register_family

STRUCTURE = ("<im_patch>", "<im_col>", "<im_start>", "<low_res_im_start>", "<im_end>", "<im_low>")


class Molmo2Adapter(DeclaredAdapter):
    """Molmo2: per-image runs over both views; no packed sweep; the raw template (no prepended BOS)."""

    packed_sweep = False  # the one-pass sweep's 4-D mask would drop the image attention block

    def __init__(self, model, processor, model_id: str = "", revision: str | None = None,
                 meaningless_weights: bool = False):
        super().__init__(model, processor, model_id, revision, meaningless_weights)
        vocab = self.tokenizer.get_vocab()
        self.image_token_names = ("<im_patch>",)
        self._structure = {vocab[t] for t in STRUCTURE if t in vocab}
        self._image_start = vocab.get("<low_res_im_start>")

    def processor_call(self, texts: list[str], images: list[list]) -> dict:
        out = super().processor_call(texts, images)
        if not any(images):
            return out  # the bare tokenizer: no prepended token
        tok = self.tokenizer
        bos = tok.convert_tokens_to_ids(tok.bos_token or tok.eos_token)
        ids = out["input_ids"]  # (B, T)
        if not bool((ids[:, 0] == bos).all()):
            raise RuntimeError(f"molmo2: expected the processor to start every prompt with token {bos}, "
                               f"got {ids[:, 0].tolist()}; encode these prompts with the processor's own layout.")
        for k in ("input_ids", "attention_mask", "mm_token_type_ids", "token_type_ids"):
            if k in out:
                out[k] = out[k][:, 1:]  # the prepended token only; image tensors index patches, not positions
        return out

    def image_runs(self, ids) -> list[list[int]]:
        """Per image, its ``<im_patch>`` positions over both views; an image starts at ``<low_res_im_start>``."""
        runs: list[list[int]] = []
        inside = False
        for i, t in enumerate(int(t) for t in ids):
            if t == self._image_start or (t in self._structure and not inside):
                runs.append([])
                inside = True
            elif t not in self._structure:
                inside = False
            if inside and t in self.image_token_ids:
                runs[-1].append(i)
        return [r for r in runs if r]


TINY = {
    "molmo2": TinySpec(2, (
        "Prompt text <|image|> (the processor's image_token); it expands to <low_res_im_start> + 2 rows of "
        "2 <im_patch> + <im_col> + <im_end>, then the crops as <im_start> + rows of <im_patch>/<im_col> + "
        "<im_end> (56-px crops of 14-px patches, 2x2 pooling, 1-patch overlap margins, at most 4 crops); "
        "mm_token_type_ids mark every image token (one bidirectional block); the processor's prepended "
        "<|endoftext|> is dropped by the adapter; "
        "vision tower and adapter initialised at std 0.1 (at 0.02 the added image features barely depend on the "
        "image, and image prompts would test little)."
    )),
}


def build_tiny(model_type: str, seed: int):
    """(tiny random Molmo2 model, its processor)."""
    import transformers as tf

    from taskvec.testing.builders import HEADS, HIDDEN, INTER, byte_level_tokenizer, finish, llama_like_text, vocab_size

    specials = [*STRUCTURE, "<frame_start>", "<frame_end>", "<|image|>", "<|video|>", "<|im_start|>", "<|im_end|>"]
    tok = byte_level_tokenizer(bos=None, eos="<|endoftext|>", pad="<|endoftext|>", specials=specials,
                               named={"image_token": "<|image|>", "video_token": "<|video|>"})
    ids = {k: tok.convert_tokens_to_ids(t) for k, t in (
        ("image_start_token_id", "<im_start>"), ("low_res_image_start_token_id", "<low_res_im_start>"),
        ("image_end_token_id", "<im_end>"), ("image_patch_id", "<im_patch>"),
        ("frame_start_token_id", "<frame_start>"), ("frame_end_token_id", "<frame_end>"))}
    head_dim = HIDDEN // HEADS
    text = llama_like_text(TINY[model_type].layers, vocab_size(tok), tok, head_dim=head_dim, additional_vocab_size=0)
    crop, patch = 56, 14
    vision = dict(hidden_size=HIDDEN, intermediate_size=INTER, num_hidden_layers=2, num_attention_heads=HEADS,
                  num_key_value_heads=HEADS, head_dim=head_dim, image_size=[crop, crop], patch_size=patch,
                  num_position_embeddings=(crop // patch) ** 2, initializer_range=0.1)
    adapter = dict(vision_feature_layer=[-1], hidden_size=HIDDEN, num_attention_heads=HEADS, num_key_value_heads=HEADS,
                   head_dim=head_dim, intermediate_size=INTER, text_hidden_size=HIDDEN, initializer_range=0.1)
    cfg = tf.Molmo2Config(text_config=text, vision_config=vision, adapter_config=adapter, **ids)
    sizes = dict(size={"height": crop, "width": crop}, patch_size=patch, pooling_size=[2, 2])
    proc = tf.Molmo2Processor(
        image_processor=tf.Molmo2ImageProcessor(**sizes, overlap_margins=[1, 1], max_crops=4),
        video_processor=tf.Molmo2VideoProcessor(**sizes),
        tokenizer=tok,
    )
    torch.manual_seed(seed)
    return finish(tf.Molmo2ForConditionalGeneration(cfg), model_type, seed), proc


FAMILY = register_family(Family(
    name="molmo2",
    model_types=("molmo2",),
    adapter=Molmo2Adapter,
    text_only=False,
    build_tiny=build_tiny,
    tiny=TINY,
    suggested={"allenai/Molmo2-8B": "molmo2"},
))
