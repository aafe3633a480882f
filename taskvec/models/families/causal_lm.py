"""Text-only decoder LMs (Llama, Mistral, Qwen2, SmolLM2, Vicuna): the base LLMs of VLMs.

Loaded with AutoModelForCausalLM + AutoTokenizer; decoder layers at ``model.layers``.
"""

from __future__ import annotations

import torch

from taskvec.models.base import Adapter
from taskvec.models.registry import Family, TinySpec, register_family


class CausalLMAdapter(Adapter):
    """Text-only decoder LMs (Llama, Mistral, Qwen2, SmolLM2, Vicuna): the base LLMs of VLMs."""

    family = "causal-lm"


TINY = {
    "llama": TinySpec(4, "Text-only LlamaForCausalLM; byte-level tokenizer that prepends <s> (BOS)."),
    "mistral": TinySpec(3, (
        "Text-only MistralForCausalLM (no sliding window); SentencePiece-like tokenizer: prepends <s> "
        "and a '▁' before the text, spaces become '▁', '\\n' is the byte token <0x0A>."
    )),
    "qwen2": TinySpec(2, "Text-only Qwen2ForCausalLM; no BOS (like Qwen), pad = eos = <|endoftext|>."),
}


def build_tiny(model_type: str, seed: int):
    """(tiny random LlamaForCausalLM / MistralForCausalLM / Qwen2ForCausalLM, its tokenizer)."""
    from transformers import (
        LlamaConfig,
        LlamaForCausalLM,
        MistralConfig,
        MistralForCausalLM,
        Qwen2Config,
        Qwen2ForCausalLM,
    )

    from taskvec.testing.builders import (byte_level_tokenizer, finish, llama_like_text, spm_like_tokenizer,
                                          vocab_size)

    n = TINY[model_type].layers
    if model_type == "qwen2":
        tok = byte_level_tokenizer(
            bos=None, eos="<|endoftext|>", pad="<|endoftext|>", specials=["<|im_start|>", "<|im_end|>"]
        )
        cfg = Qwen2Config(**llama_like_text(n, vocab_size(tok), tok))
        cls = Qwen2ForCausalLM
    else:
        if model_type == "llama":
            tok = byte_level_tokenizer(bos="<s>", eos="</s>", pad="<pad>", unk="<unk>", add_bos=True)
            cfg, cls = LlamaConfig(**llama_like_text(n, vocab_size(tok), tok)), LlamaForCausalLM
        else:
            tok = spm_like_tokenizer(pieces=[], specials=[], add_bos=True)
            cfg = MistralConfig(**llama_like_text(n, vocab_size(tok), tok, sliding_window=None))
            cls = MistralForCausalLM
    torch.manual_seed(seed)
    return finish(cls(cfg), model_type, seed), tok


FAMILY = register_family(Family(
    name="causal_lm",
    model_types=("llama", "mistral", "qwen2"),
    adapter=CausalLMAdapter,
    text_only=True,
    build_tiny=build_tiny,
    tiny=TINY,
    suggested={
        "HuggingFaceTB/SmolLM2-135M-Instruct": "llama (base LLM of SmolVLM-256M)",
        "mistralai/Mistral-7B-v0.1": "mistral (base LLM of Idefics2)",
        "lmsys/vicuna-7b-v1.5": "llama (base LLM of LLaVA-1.5)",
        "Qwen/Qwen2-0.5B-Instruct": "qwen2 (base LLM of LLaVA-OneVision 0.5B)",
    },
))
