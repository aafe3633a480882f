"""The authors' protocol (``--protocol paper``): the facts of their code, in taskvec's terms.

What the official code (github g-luo/task_vectors_are_cross_modal, commit 25c7463) does,
re-implemented from its documented behaviour (no code of it is copied):

- **Sets**: one example set per item of the *validation* split: item ``i`` is the query,
  its ``n`` demonstrations are ``RandomState(seed).permutation([j != i])[:n]``, drawn in item
  order from one generator per (task, seed); seeds are 1, 2, 3.
- **Reading position**: the prompt is ``n`` demonstrations + the query, and the vector is
  read at the ``:`` of the *last demonstration's* ``A:`` (its answer follows), i.e. the
  delimiter before the query's own ones. (Causal attention: the residual there does not
  depend on what follows, so the query's modality does not change the vector.)
- **Vector**: the mean over all validation sets (Table 2); the same validation vector
  patches validation and test queries. An instruction is read at its *last token*.
- **Fig. 6's N**: ``N = 5 r`` is the mean of ``r`` five-shot set vectors chosen by
  ``RandomState(seed).permutation(K)[:r]``; the ensemble is (that + instruction) / 2; every
  Fig. 6 curve is scored case-insensitively.
- **Prompt baseline** ("regular"): ``n`` demonstrations from the query's *own* split (never
  the query itself), drawn by the same generator as the sets of that split.
- **Layer**: fixed per model in its config, counted as the output of decoder layer ``L``
  (``L`` from 0) — taskvec's residual layer ``l = L + 1``. Models without a fixed layer: the
  layer with the best validation accuracy averaged over tasks *and seeds* (one layer).
- **Precision and revisions**: NF4 4-bit, double quantisation, fp16 compute and storage;
  hub revisions pinned in the configs (below).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from taskvec.core.activations import residuals, run_captured
from taskvec.core.prompts import icl_prompt, instruction_prompt, query_prompt
from taskvec.errors import DelimiterError, SpecError, UnsupportedInputError
from taskvec.models.base import Adapter, Encoded

OFFICIAL_COMMIT = "25c7463ceef1602492ed5be0bf12dcf1b7fd3fb6"
FIG6_SET_SIZE = 5


@dataclass(frozen=True)
class OfficialModel:
    """One model of the official configs: hub id, pinned revision, fixed layer (official numbering)."""

    model_id: str
    revision: str
    layer: int | None  # output of decoder layer L, L from 0; None for the base LLMs (vectors only)


OFFICIAL_MODELS = {m.model_id.lower(): m for m in (
    OfficialModel("HuggingFaceM4/idefics2-8b", "2c42686c57fe21cf0348c9ce1077d094b72e7698", 16),
    OfficialModel("llava-hf/llava-1.5-7b-hf", "a272c74b2481d8aff3aa6fc2c4bf891fe57334fb", 15),
    OfficialModel("TIGER-Lab/Mantis-8B-Fuyu", "ea76e7446341b399d9af2d7af390abb83fda6b28", 23),
    OfficialModel("mistralai/Mistral-7B-v0.1", "7231864981174d9bee8c7687c24c8344414eae6b", None),
    OfficialModel("lmsys/vicuna-7b-v1.5", "3321f76e3f527bd14065daf69dad9344000a201d", None),
)}


def official_model(model_id: str | None) -> OfficialModel | None:
    return OFFICIAL_MODELS.get((model_id or "").lower())


def pinned_revision(model_id: str | None) -> str | None:
    """The hub revision the official configs pin for ``model_id`` (None if it is not one of them)."""
    m = official_model(model_id)
    return m.revision if m else None


# ---- layer numbering ------------------------------------------------------------------
def to_taskvec(official: int) -> int:
    """Official layer L (output of decoder layer L, from 0) -> taskvec residual layer l = L + 1."""
    return official + 1


def to_official(layer: int) -> int | None:
    """taskvec residual layer l -> official L = l - 1 (None for l = 0, the embeddings)."""
    return layer - 1 if layer >= 1 else None


def layer_label(layer: int) -> str:
    """'residual layer l (taskvec) = official L' — both numberings, for every printed layer."""
    off = to_official(layer)
    return f"layer {layer} (taskvec residual l) = " + (f"official L={off}" if off is not None else "embeddings (no official L)")


def fixed_layer(model_id: str | None) -> int | None:
    """The official fixed layer of ``model_id`` in taskvec's numbering (None if it has none)."""
    m = official_model(model_id)
    return to_taskvec(m.layer) if m and m.layer is not None else None


def check_mantis(model_id: str | None) -> None:
    """Refuse Mantis-Fuyu: its official rows use the ``mantis`` package's MFuyuProcessor, which
    interleaves images with 'image i:' markers (an extra ':' the official code skips with
    src_match=-4); taskvec's Fuyu path puts one image first and cannot match that layout."""
    if "mantis" in (model_id or "").lower():
        raise UnsupportedInputError(
            f"{model_id}: --protocol paper cannot reproduce the Mantis-Fuyu rows. The official code builds its "
            "prompts with the `mantis` package's MFuyuProcessor (images interleaved with 'image i:' markers, "
            "read 4 delimiters from the end); taskvec's Fuyu path places one image before the text. Use "
            "--protocol taskvec for Fuyu models, or run the Idefics2 / LLaVA-1.5 rows.")


# ---- sampling ---------------------------------------------------------------------------
def demo_indices(n_items: int, n: int, seed: int) -> list[list[int]]:
    """Per item ``i`` of a split, its ``n`` demonstrations: ``permutation([j != i])[:n]`` from one
    ``RandomState(seed)`` advanced in item order (the official dataset's sampling)."""
    rng = np.random.RandomState(seed)
    return [rng.permutation([j for j in range(n_items) if j != i])[:n].tolist() for i in range(n_items)]


def fig6_rows(n_sets: int, n: int, seed: int) -> list[int]:
    """Fig. 6: which of the ``n_sets`` five-shot vectors make up ``N = n`` (``n / 5`` of them)."""
    if n % FIG6_SET_SIZE or not FIG6_SET_SIZE <= n <= FIG6_SET_SIZE * n_sets:
        raise SpecError(f"Under --protocol paper, Fig. 6's N is a multiple of {FIG6_SET_SIZE} from {FIG6_SET_SIZE} to "
                        f"{FIG6_SET_SIZE * n_sets} (the mean of N/{FIG6_SET_SIZE} five-shot vectors of the "
                        f"{n_sets} validation sets); got {n}. Use e.g. --ensemble-sweep 5,10,15,20,25,30.")
    return np.random.RandomState(seed).permutation(n_sets)[: n // FIG6_SET_SIZE].tolist()


# ---- reading positions ------------------------------------------------------------------
def delimiter_positions(adapter: Adapter, prompt, delimiter: str = ":") -> tuple[list[int], int]:
    """Token indices whose text ends with ``delimiter`` in ``prompt``, and its length in tokens."""
    enc = adapter.encode([prompt])
    n = int(enc.lengths[0])
    ids = enc.input_ids[0, :n].tolist()
    return [i for i, t in enumerate(ids) if adapter.decode_token(int(t)).rstrip().endswith(delimiter)], n


def last_demo_position(adapter: Adapter, prompt, query) -> int:
    """The ``:`` of the last demonstration's ``A:`` in ``prompt`` (demonstrations + ``query``):
    the delimiter just before the query's own delimiters (the official src_match = -3)."""
    pos, _ = delimiter_positions(adapter, prompt)
    q, _ = delimiter_positions(adapter, query_prompt(query))
    k = len(q) + 1
    if len(pos) < k:
        raise SpecError(f"Expected a demonstration's 'A:' before the query in {prompt!r}; found {len(pos)} delimiters.")
    return pos[-k]


# ---- vectors ----------------------------------------------------------------------------
def set_vectors(adapter: Adapter, pairs: Sequence, n: int, seed: int, batch_size: int = 8) -> torch.Tensor:
    """(K, L+1, D): one vector per item of ``pairs`` (the query of its set), read at the last
    demonstration's ``:`` of ``n`` demonstrations drawn by ``demo_indices``."""
    if len(pairs) < 2:
        raise SpecError(f"The official sets need at least 2 items (one query, one demonstration); got {len(pairs)}.")
    prompts = [icl_prompt([pairs[j] for j in demos], pairs[i][0]) for i, demos in enumerate(demo_indices(len(pairs), n, seed))]
    positions = [[last_demo_position(adapter, p, pairs[i][0])] for i, p in enumerate(prompts)]
    return residuals(adapter, prompts, positions, batch_size=batch_size).at_delimiter  # (K, L+1, D)


def instruction_vector(adapter: Adapter, instruction: str) -> torch.Tensor:
    """(L+1, D): the raw instruction read at its last token (the official embed_prompt), so an
    instruction that does not end in ':' is read where it ends instead of raising."""
    prompt = instruction_prompt(instruction)
    try:
        enc = adapter.encode([prompt])
    except DelimiterError:  # no ':' token: the official code still reads the last token
        text, images = adapter.render(prompt)
        inputs = adapter.processor_call([text], [images])
        ids = inputs["input_ids"]  # (1, T)
        lengths = inputs.get("attention_mask", torch.ones_like(ids)).sum(-1)  # (1,)
        inputs = {k: (v.to(adapter.device) if torch.is_tensor(v) else v) for k, v in inputs.items()}
        enc = Encoded(inputs, ids.to(adapter.device), lengths.to(adapter.device), (lengths - 1).to(adapter.device), [text])
    last = (enc.lengths - 1)[:, None]  # (1, 1)
    return run_captured(adapter, enc, last)[0, :, -1]  # (L+1, D)


def task_vector(adapter: Adapter, kind: str, pairs: Sequence, n_examples: int, seed: int, instruction: str = "",
                fig6: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(vector (L+1, D), per_set (K, L+1, D)) of a specification ``kind`` under the official rules.

    ``pairs``: the validation items as (input, answer). ``fig6``: ``n_examples`` is Fig. 6's N
    (the mean of N/5 five-shot vectors); else the mean over all sets of ``n_examples`` demonstrations.
    """
    if kind == "instruction":
        v = instruction_vector(adapter, instruction)
        return v, v[None]
    per_set = set_vectors(adapter, pairs, FIG6_SET_SIZE if fig6 else n_examples, seed)
    rows = fig6_rows(len(per_set), n_examples, seed) if fig6 else list(range(len(per_set)))
    vec = per_set[rows].mean(0)  # (L+1, D)
    if kind == "ensemble":
        vec = (vec + instruction_vector(adapter, instruction)) / 2
    return vec, per_set
