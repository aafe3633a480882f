"""The vocabulary check: words the loaded model cannot represent, named before a run.

A word-level tokenizer (the organism's) turns every word outside its vocabulary into its
unknown token, so a task of the user's silently becomes ``[UNK] : [UNK]``. Subword
tokenizers (every real model) represent any text and never trigger the check. No gradio here.
"""

from __future__ import annotations

import json
import random

from taskvec.data.resources import organism_dir

MAX_NAMED = 12  # unknown words named in one warning
PLURAL = {"country": "countries", "animal": "animals", "food": "foods"}


def unknown_words(adapter, *texts: str) -> list[str]:
    """Distinct words of ``texts`` that the model's tokenizer maps to its unknown token (in order)."""
    tok = getattr(adapter, "tokenizer", None)
    unk = getattr(tok, "unk_token_id", None)
    if tok is None or unk is None:
        return []
    out: list[str] = []
    for text in texts:
        for line in str(text or "").splitlines():
            for part in line.replace(":", " ").split():
                ids = tok(part, add_special_tokens=False)["input_ids"]
                if unk in ids and part not in out:
                    out.append(part)
    return out


def known_sample(k: int = 6, seed: int = 0) -> dict[str, list[str]]:
    """A few entities per domain the organism knows (from its shipped world file)."""
    try:
        ent = json.loads((organism_dir() / "world.json").read_text())["entities"]
    except (OSError, ValueError, KeyError):
        return {}
    rng = random.Random(seed)
    return {d: rng.sample(list(v), min(k, len(v))) for d, v in ent.items()}


def warning(adapter, *texts: str) -> str:
    """A one-paragraph warning naming the unknown words and what the model does know ('' if none)."""
    words = unknown_words(adapter, *texts)
    if not words:
        return ""
    shown = ", ".join(f"'{w}'" for w in words[:MAX_NAMED]) + (f" and {len(words) - MAX_NAMED} more" if len(words) > MAX_NAMED else "")
    unk = getattr(adapter.tokenizer, "unk_token", "[UNK]")
    msg = (f"⚠️ {adapter.model_id} cannot represent {shown}: outside its vocabulary, each becomes {unk}, "
           "so the answers, sweeps and lens for this input mean nothing.")
    if adapter.family == "organism":
        known = known_sample()
        msg += (" The organism knows only the paper's six tasks over its own world: "
                + "; ".join(f"{PLURAL.get(d, d)} such as {', '.join(v)}" for d, v in known.items())
                + ". For your own words, load a real model (e.g. HuggingFaceTB/SmolVLM-256M-Instruct).")
    else:
        msg += " Use words this model's tokenizer knows."
    return msg
