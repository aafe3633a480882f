"""Shared parts of the tiny random-weight builders (``taskvec/models/families/*.py``).

Local tokenizers made with the ``tokenizers`` library (nothing touches a model hub), a small
Llama-like text config, and ``finish`` (eval mode, fp32, CPU, the tiny-random label). The
weights of a tiny model are meaningless: ``model.config._taskvec_tiny_random`` is True.
"""

from __future__ import annotations

from typing import Any

import torch

HIDDEN = 32  # hidden size of every tiny text model and vision tower
HEADS = 2
INTER = 64  # MLP size


def byte_level_tokenizer(
    *,
    bos: str | None,
    eos: str,
    pad: str,
    unk: str | None = None,
    specials: list[str] = (),
    add_bos: bool = False,
    named: dict[str, str] | None = None,
):
    """A GPT-2 style byte-level BPE with no merges: every byte (so ':' and '\\n') is one token.

    ``specials`` are family tokens (image placeholders, ...) added as special tokens after the
    256 byte tokens. ``named`` become tokenizer attributes (e.g. ``boi_token``), the way the
    hub tokenizers of multimodal families expose them.
    """
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    base = [t for t in (pad, bos, eos, unk) if t is not None]
    base = list(dict.fromkeys(base))
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {tok: i for i, tok in enumerate(base)}
    for ch in alphabet:
        vocab.setdefault(ch, len(vocab))
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token=unk))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    extra = [t for t in specials if t not in vocab]
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in base + extra])
    if add_bos and bos is not None:
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, vocab[bos])]
        )
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    kwargs: dict[str, Any] = dict(tokenizer_object=tok, eos_token=eos, pad_token=pad)
    if bos is not None:
        kwargs["bos_token"] = bos
    if unk is not None:
        kwargs["unk_token"] = unk
    if named:
        kwargs["extra_special_tokens"] = dict(named)
    fast = PreTrainedTokenizerFast(**kwargs)
    return fast


def spm_like_tokenizer(*, pieces: list[str], specials: list[str], add_bos: bool):
    """A SentencePiece-like Unigram tokenizer: ``▁`` for spaces and a prepended ``▁``, byte fallback.

    Character-level (every printable ASCII character is a piece, so ':' is its own token);
    ``pieces`` are extra whole pieces of the vocabulary (Fuyu's ``|SPEAKER|``/``|NEWLINE|`` are
    ordinary vocabulary pieces in the hub tokenizer too), so a text starting with them is
    tokenised as ``▁``, ``|SPEAKER|``, ... — FuyuProcessor relies on that leading ``▁`` when it
    strips the first token of the image placeholder. ``specials`` are added special tokens.
    """
    from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, processors
    from transformers import PreTrainedTokenizerFast

    base = ["<unk>", "<s>", "</s>"]
    vocab: list[tuple[str, float]] = [(t, 0.0) for t in base]
    vocab += [(f"<0x{b:02X}>", 0.0) for b in range(256)]
    vocab += [(chr(c), -5.0) for c in range(33, 127)] + [("▁", -5.0)]
    vocab += [(p, -1.0) for p in pieces]
    tok = Tokenizer(models.Unigram(vocab, unk_id=0, byte_fallback=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
    )
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in base + specials])
    if add_bos:
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)]
        )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<unk>"
    )


def vocab_size(tokenizer) -> int:
    """The tokenizer's size rounded up to a multiple of 8 (the model's embedding rows)."""
    n = len(tokenizer)
    return (n + 7) // 8 * 8


def llama_like_text(n_layers: int, vocab: int, tok, **extra) -> dict:
    """Keyword arguments of a tiny Llama-like text config (hidden 32, 2 heads, 1 KV head)."""
    d = dict(
        vocab_size=vocab,
        hidden_size=HIDDEN,
        intermediate_size=INTER,
        num_hidden_layers=n_layers,
        num_attention_heads=HEADS,
        num_key_value_heads=1,
        max_position_embeddings=512,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        tie_word_embeddings=False,
    )
    d.update(extra)
    return d


def finish(model, family: str, seed: int):
    """Eval mode, fp32 on CPU, the tiny-random label in the config, and generation ids from the text config."""
    model.eval()
    model.to(dtype=torch.float32, device="cpu")
    model.config._taskvec_tiny_random = True
    model.config._taskvec_tiny_family = family
    model.config._taskvec_tiny_seed = seed
    gc = getattr(model, "generation_config", None)
    if gc is not None:
        tok_cfg = model.config.get_text_config()
        gc.pad_token_id = getattr(tok_cfg, "pad_token_id", None)
        gc.eos_token_id = getattr(tok_cfg, "eos_token_id", None)
        gc.bos_token_id = getattr(tok_cfg, "bos_token_id", None)
    return model
