"""Task specifications: text examples, image examples, instruction, ensemble; parsing.

A specification says *what task* to do, in one of four ways (paper Sec. 3.1). It is
turned into prompts by ``example_sets`` / ``spec_prompts`` and into a task vector by
``taskvec.vectors.extract``.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Sequence, Union

from PIL import Image

from taskvec.errors import SpecError
from taskvec.core.prompts import PAPER_TEMPLATE, Input, Prompt, Template, icl_prompt, instruction_prompt


@dataclass(frozen=True)
class TextExamples:
    """Text input -> answer pairs, e.g. (("France", "Paris"), ("Italy", "Rome"))."""

    pairs: tuple[tuple[str, str], ...]
    modality: str = field(default="text", init=False)

    def __post_init__(self) -> None:
        _check_pairs(self.pairs, str, "text examples")


@dataclass(frozen=True)
class ImageExamples:
    """Image input -> answer pairs (a flag image labelled "Paris")."""

    pairs: tuple[tuple[Image.Image, str], ...]
    modality: str = field(default="image", init=False)

    def __post_init__(self) -> None:
        _check_pairs(self.pairs, Image.Image, "image examples")


@dataclass(frozen=True)
class Instruction:
    """A raw instruction string, used as is (no template), e.g. 'The capital city of the country:'."""

    text: str
    modality: str = field(default="instruction", init=False)

    def __post_init__(self) -> None:
        if not isinstance(self.text, str) or not self.text.strip():
            raise SpecError("The instruction is empty: type an instruction such as 'The capital city of the country:'.")


@dataclass(frozen=True)
class Ensemble:
    """A weighted mean of the task vectors of several specifications (paper: Ensemble Patch)."""

    parts: tuple[Union[TextExamples, ImageExamples, Instruction], ...]
    weights: tuple[float, ...]
    modality: str = field(default="ensemble", init=False)

    def __post_init__(self) -> None:
        if not self.parts:
            raise SpecError("An ensemble needs at least one specification; add examples or an instruction.")
        if len(self.weights) != len(self.parts):
            raise SpecError(f"An ensemble needs one weight per part: {len(self.parts)} parts, {len(self.weights)} weights.")
        if any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
            raise SpecError(f"Ensemble weights must be >= 0 with a positive sum; got {list(self.weights)}.")
        if any(isinstance(p, Ensemble) for p in self.parts):
            raise SpecError("Ensembles cannot be nested; list their parts in one ensemble.")


Spec = Union[TextExamples, ImageExamples, Instruction, Ensemble]


def _check_pairs(pairs, input_type, what: str) -> None:
    if not pairs:
        raise SpecError(f"No {what} given: add at least two 'input : answer' pairs.")
    for i, pair in enumerate(pairs, 1):
        if len(pair) != 2:
            raise SpecError(f"Example {i} of the {what} is not an (input, answer) pair: {pair!r}.")
        x, y = pair
        if not isinstance(x, input_type):
            raise SpecError(f"Example {i} of the {what}: expected {'an image' if input_type is Image.Image else 'a text'} input, got {type(x).__name__}.")
        if not isinstance(y, str) or not y.strip():
            raise SpecError(f"Example {i} of the {what} has no answer; give each input its answer.")
        if isinstance(x, str) and not x.strip():
            raise SpecError(f"Example {i} of the {what} has an empty input.")


_SEPARATORS = ("\t", "->", ":")


def parse_examples(text: str, allow_semicolons: bool = False) -> TextExamples:
    """Parse one example per line: ``x : y``, ``x -> y`` or ``x<TAB>y``.

    Blank lines and lines starting with ``#`` are skipped. Every bad line is reported
    with its line number in one ``SpecError``. With ``allow_semicolons``, ``;`` also
    separates examples (the CLI's ``--examples "France:Paris; Italy:Rome"``).
    """
    lines = re.split(r"\n|;", text) if allow_semicolons else text.split("\n")
    pairs, bad = [], []
    for n, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        sep = next((s for s in _SEPARATORS if s in line), None)
        if sep is None:
            bad.append(f"line {n}: {line!r} has no separator (use 'input : answer')")
            continue
        x, y = (part.strip() for part in line.split(sep, 1))
        if re.search(r"[,;]\s*[^,;]+(\t|->|:)", y):  # "France:Paris,Italy:Rome": several pairs on one line
            split = "newlines or ';'" if allow_semicolons else "one per line"
            bad.append(f"line {n}: {line!r} holds several examples; separate them with {split}, not ','")
            continue
        if not x or not y:
            bad.append(f"line {n}: {line!r} is missing its {'input' if not x else 'answer'}")
            continue
        pairs.append((x, y))
    if bad:
        raise SpecError("Malformed examples — " + "; ".join(bad) + ".")
    if not pairs:
        raise SpecError("No examples found: type one 'input : answer' pair per line, e.g. 'France : Paris'.")
    return TextExamples(tuple(pairs))


@dataclass(frozen=True)
class ExampleSet:
    """One prompt for extraction: demonstrations then a query whose answer is withheld."""

    demos: tuple[tuple[Input, str], ...]
    query: Input
    answer: str | None


def example_sets(
    pairs: Sequence[tuple[Input, str]],
    n_examples: int,
    n_sets: int,
    seed: int = 0,
    queries: Sequence[tuple[Input, str]] | None = None,
) -> list[ExampleSet]:
    """Sample ``n_sets`` example sets of ``n_examples`` demos + one query, never overlapping.

    Queries come from ``queries`` when given (e.g. another split), else from ``pairs``
    itself. When ``pairs`` is too small for ``n_examples`` + 1, each set leaves one pair
    out as its query and uses up to ``n_examples`` of the rest (leave-one-out).
    """
    if len(pairs) < 2 and queries is None:
        raise SpecError(f"Give at least 2 examples to build a task vector; got {len(pairs)}.")
    if n_examples < 1 or n_sets < 1:
        raise SpecError(f"n_examples and n_sets must be >= 1; got {n_examples} and {n_sets}.")
    rng = random.Random(seed)
    out = []
    for k in range(n_sets):
        if queries is not None:
            q = queries[rng.randrange(len(queries))]
            pool = [p for p in pairs if p[0] != q[0]]
        else:
            idx = k % len(pairs) if len(pairs) <= n_examples else rng.randrange(len(pairs))
            q = pairs[idx]
            pool = [p for i, p in enumerate(pairs) if i != idx]
        demos = rng.sample(pool, min(n_examples, len(pool)))
        out.append(ExampleSet(tuple(demos), q[0], q[1]))
    return out


def spec_prompts(spec: Spec, n_examples: int = 5, n_sets: int = 10, seed: int = 0,
                 template: Template = PAPER_TEMPLATE, queries=None) -> list[Prompt]:
    """The extraction prompts of a (non-ensemble) specification."""
    if isinstance(spec, Instruction):
        return [instruction_prompt(spec.text)]
    if isinstance(spec, (TextExamples, ImageExamples)):
        sets = example_sets(spec.pairs, n_examples, n_sets, seed, queries)
        return [icl_prompt(s.demos, s.query, template) for s in sets]
    raise SpecError(f"spec_prompts takes examples or an instruction, got {type(spec).__name__}; "
                    "an ensemble's vector is the weighted mean of its parts' vectors.")


def describe(spec: Spec) -> str:
    """A one-line description for plots, metadata and exports."""
    if isinstance(spec, Instruction):
        return f"instruction: {spec.text}"
    if isinstance(spec, TextExamples):
        return "text examples: " + "; ".join(f"{x} : {y}" for x, y in spec.pairs[:6]) + (" ..." if len(spec.pairs) > 6 else "")
    if isinstance(spec, ImageExamples):
        return "image examples: " + "; ".join(f"<image> : {y}" for _, y in spec.pairs[:6])
    return "ensemble: " + " + ".join(f"{w:g} x [{describe(p)}]" for p, w in zip(spec.parts, spec.weights))


def majority_answer(spec: Spec) -> str | None:
    """The Random baseline: the most frequent answer among the examples (ties: first seen)."""
    parts = spec.parts if isinstance(spec, Ensemble) else (spec,)
    answers = [y for p in parts if isinstance(p, (TextExamples, ImageExamples)) for _, y in p.pairs]
    if not answers:
        return None
    counts: dict[str, int] = {}
    for y in answers:
        counts[y] = counts.get(y, 0) + 1
    return max(counts, key=lambda y: counts[y])
