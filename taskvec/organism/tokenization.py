"""The organism's tokenizer: a word-level ``tokenizers`` model in a ``PreTrainedTokenizerFast``.

Pre-tokenization isolates ':' and '\\n' (each its own token) and splits on spaces. The
decoder joins words with spaces but glues ':' and '\\n' to both neighbours, so the
paper's template round-trips exactly: ``Q:{x}\\nA:{y}\\n\\n``. Unknown words map to
``[UNK]``. No BOS/EOS is added.
"""

from __future__ import annotations

from typing import Iterable

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

PAD, UNK = "[PAD]", "[UNK]"
IMAGE, IMG_START, IMG_END, PATCH = "<image>", "<img>", "</img>", "<imgpatch>"
SPECIAL_TOKENS = [PAD, UNK, IMAGE, IMG_START, IMG_END, PATCH]
DELIMITERS = [":", "\n"]


def split_words(text: str) -> list[str]:
    """The pre-tokenizer in Python: the token strings ``text`` becomes (no special tokens)."""
    out: list[str] = []
    for line_part in _isolate(text):
        if line_part in DELIMITERS:
            out.append(line_part)
        else:
            out.extend(w for w in line_part.split(" ") if w)
    return out


def _isolate(text: str) -> list[str]:
    parts, cur = [], ""
    for ch in text:
        if ch in DELIMITERS:
            if cur:
                parts.append(cur)
            parts.append(ch)
            cur = ""
        else:
            cur += ch
    if cur:
        parts.append(cur)
    return parts


def build_tokenizer(texts: Iterable[str]) -> PreTrainedTokenizerFast:
    """A tokenizer whose vocabulary holds every word of ``texts`` (sorted, deterministic)."""
    words = sorted({w for t in texts for w in split_words(t)} - set(DELIMITERS) - set(SPECIAL_TOKENS))
    vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS + DELIMITERS + words)}
    tk = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    tk.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex(r"[:\n]"), "isolated"), pre_tokenizers.Split(" ", "removed")]
    )
    tk.decoder = decoders.Sequence(
        [
            decoders.Replace(Regex(r"\z"), " "),  # every token + one space
            decoders.Fuse(),
            decoders.Replace(" \n", "\n"),
            decoders.Replace("\n ", "\n"),
            decoders.Replace(" :", ":"),
            decoders.Replace(": ", ":"),
            decoders.Strip(" ", 0, 1),
        ]
    )
    tk.add_special_tokens(SPECIAL_TOKENS)
    return PreTrainedTokenizerFast(
        tokenizer_object=tk,
        pad_token=PAD,
        unk_token=UNK,
        extra_special_tokens={"image_token": IMAGE},
        additional_special_tokens=[IMAGE, IMG_START, IMG_END, PATCH],
        padding_side="right",
        clean_up_tokenization_spaces=False,
        model_input_names=["input_ids", "attention_mask"],
    )
