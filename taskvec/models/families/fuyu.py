"""Fuyu (early fusion, Persimmon LLM): one image before the text; LayerNorm final norm."""

from __future__ import annotations

import torch

from taskvec.core.prompts import Prompt
from taskvec.errors import UnsupportedInputError
from taskvec.models.base import Adapter
from taskvec.models.registry import Family, TinySpec, register_family


class FuyuAdapter(Adapter):
    """Fuyu (early fusion): the processor puts one image before the text; LayerNorm final norm."""

    family = "fuyu"
    norm_paths = ("model.language_model.final_layernorm",)
    image_placeholder = ""  # the image goes first, whatever its place in the prompt
    image_token_names = ("|SPEAKER|",)
    per_position_keys = ("attention_mask", "image_patches_indices")
    image_batch_size = 1  # its processor left-pads batches with images

    def render(self, prompt: Prompt):
        text, images = super().render(prompt)
        if len(images) > 1:
            raise UnsupportedInputError(
                "Fuyu takes one image per prompt (placed before the text), so image-example prompts "
                "cannot be built; use text examples or an instruction with an image query."
            )
        return text, images

    def processor_call(self, texts, images):
        if not any(images):
            return super().processor_call(texts, images)
        if not all(images):
            raise UnsupportedInputError("Fuyu cannot batch prompts with and without images; run them separately.")
        return dict(self.processor(text=texts, images=[row[0] for row in images], return_tensors="pt", padding=True))


TINY = {
    "fuyu": TinySpec(3, (
        "No placeholder text: pass processor(text=..., images=img); the processor puts the image "
        "FIRST (3 rows of 3x|SPEAKER| + |NEWLINE|, then <s>) and appends <0x04> (begin-of-answer) "
        "after the text; exactly one image per prompt (two raise ValueError), batches with images are "
        "always left-padded; pass return_legacy_image_output=False to get pixel_values instead of the "
        "deprecated image_patches. SentencePiece-like tokenizer (▁ for spaces, <0x0A> for newlines)."
    )),
}


def build_tiny(model_type: str, seed: int):
    """(tiny random Fuyu model, its processor)."""
    from transformers import FuyuConfig, FuyuForCausalLM, FuyuImageProcessor, FuyuProcessor

    from taskvec.testing.builders import HEADS, HIDDEN, INTER, finish, spm_like_tokenizer, vocab_size

    side, patch = 30, 10  # 3x3 patches -> 3 rows of (3x|SPEAKER| + |NEWLINE|)
    tok = spm_like_tokenizer(pieces=["|SPEAKER|", "|NEWLINE|"], specials=["<0x04>"], add_bos=True)
    if "token_type_ids" in tok.model_input_names:
        tok.model_input_names.remove("token_type_ids")
    vocab = vocab_size(tok)
    cfg = FuyuConfig(
        text_config=dict(model_type="persimmon", vocab_size=vocab, hidden_size=HIDDEN, intermediate_size=INTER,
                         num_hidden_layers=TINY[model_type].layers, num_attention_heads=HEADS,
                         max_position_embeddings=512, pad_token_id=tok.pad_token_id,
                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id),
        image_size=side,
        patch_size=patch,
        image_token_id=tok.convert_tokens_to_ids("|SPEAKER|"),
        pad_token_id=tok.pad_token_id,
    )
    proc = FuyuProcessor(
        image_processor=FuyuImageProcessor(size={"height": side, "width": side},
                                           patch_size={"height": patch, "width": patch}),
        tokenizer=tok,
    )
    torch.manual_seed(seed)
    return finish(FuyuForCausalLM(cfg), model_type, seed), proc


FAMILY = register_family(Family(
    name="fuyu",
    model_types=("fuyu",),
    adapter=FuyuAdapter,
    text_only=False,
    build_tiny=build_tiny,
    tiny=TINY,
    suggested={"adept/fuyu-8b": "fuyu"},
))
