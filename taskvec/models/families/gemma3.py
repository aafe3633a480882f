"""Gemma 3: scaled embeddings, optional final logit softcapping, sliding-window layers."""

from __future__ import annotations

import inspect
from functools import lru_cache

import torch

from taskvec.models.base import Adapter
from taskvec.models.registry import Family, TinySpec, register_family


class Gemma3Adapter(Adapter):
    """Gemma 3: scaled embeddings (inside embed_tokens) and optional final logit softcapping."""

    family = "gemma3"
    packed_sweep = False  # sliding-window layers build their own masks; a custom 4-D mask would bypass them
    image_placeholder = "<start_of_image>"
    image_token_names = ("<image_soft_token>",)
    images_nested = True

    def softcap(self) -> float | None:
        """The final-logit softcap exactly when the model's own forward applies it: transformers 5.23's
        Gemma3ForCausalLM does, Gemma3ForConditionalGeneration ignores ``final_logit_softcapping``."""
        cap = super().softcap()
        return cap if cap and _forward_applies_softcap(type(self.model)) else None


@lru_cache(maxsize=None)
def _forward_applies_softcap(cls: type) -> bool:
    """Whether ``cls.forward`` reads ``final_logit_softcapping`` (read from its source, so a transformers
    release that adds or drops the cap in one class is followed without a version table)."""
    try:
        return "final_logit_softcapping" in inspect.getsource(cls.forward)
    except (OSError, TypeError):  # no source (a frozen build): assume the config's cap is applied
        return True


TINY = {
    "gemma3": TinySpec(4, (
        "Prompt text <start_of_image>; it expands to '\\n\\n<start_of_image>' + 4x<image_soft_token> + "
        "'<end_of_image>\\n\\n'; the processor returns token_type_ids (image tokens attend "
        "bidirectionally: pass them to the model); processor.image_token_id is the BOI id, the "
        "config's image_token_index is <image_soft_token>; tokenizer prepends <bos>; last layer full "
        "attention, others sliding (window 64)."
    )),
}


def build_tiny(model_type: str, seed: int):
    """(tiny random Gemma 3 model, its processor)."""
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration, Gemma3ImageProcessor, Gemma3Processor

    from taskvec.testing.builders import HEADS, HIDDEN, INTER, byte_level_tokenizer, finish, llama_like_text, vocab_size

    img, patch, mm_tokens = 32, 8, 4  # 4x4 patches, avg-pooled to 2x2 = 4 image tokens
    named = {"boi_token": "<start_of_image>", "eoi_token": "<end_of_image>", "image_token": "<image_soft_token>"}
    tok = byte_level_tokenizer(bos="<bos>", eos="<eos>", pad="<pad>", unk="<unk>", add_bos=True,
                               specials=["<start_of_image>", "<end_of_image>", "<image_soft_token>",
                                         "<start_of_turn>", "<end_of_turn>"], named=named)
    vocab = vocab_size(tok)
    n = TINY[model_type].layers
    text = llama_like_text(n, vocab, tok, head_dim=16, query_pre_attn_scalar=16, sliding_window=64,
                           layer_types=["sliding_attention"] * (n - 1) + ["full_attention"],
                           tie_word_embeddings=True)
    cfg = Gemma3Config(
        text_config=text,
        vision_config=dict(model_type="siglip_vision_model", hidden_size=HIDDEN, intermediate_size=INTER,
                           num_hidden_layers=2, num_attention_heads=HEADS, image_size=img, patch_size=patch),
        mm_tokens_per_image=mm_tokens,
        boi_token_index=tok.convert_tokens_to_ids("<start_of_image>"),
        eoi_token_index=tok.convert_tokens_to_ids("<end_of_image>"),
        image_token_index=tok.convert_tokens_to_ids("<image_soft_token>"),
    )
    proc = Gemma3Processor(
        image_processor=Gemma3ImageProcessor(size={"height": img, "width": img}, do_pan_and_scan=False),
        tokenizer=tok,
        image_seq_length=mm_tokens,
    )
    torch.manual_seed(seed)
    return finish(Gemma3ForConditionalGeneration(cfg), model_type, seed), proc


FAMILY = register_family(Family(
    name="gemma3",
    model_types=("gemma3",),
    adapter=Gemma3Adapter,
    text_only=False,
    build_tiny=build_tiny,
    tiny=TINY,
    suggested={"google/gemma-3-4b-it": "gemma3"},
))
