"""Prompt layout: the Q:/A: template, image placement, and locating the delimiter token.

A prompt is a list of segments, each a ``str`` or a ``PIL.Image.Image``; the model
adapter turns segments into its own image placeholders. The delimiter is found by
searching token ids from the end, so that image-token expansion cannot shift it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Union

from PIL import Image

from taskvec.errors import DelimiterError

Segment = Union[str, Image.Image]
Prompt = list  # list[Segment]
Input = Union[str, Image.Image]  # an example's or a query's input


@dataclass(frozen=True)
class Template:
    """Todd et al.'s template, as the paper uses: ``Q:{x}\\nA:{y}\\n\\n`` per example.

    ``query_prefix``/``answer_prefix`` wrap input and answer; ``separator`` follows each
    example; the delimiter is the last character of ``answer_prefix`` (":").
    """

    query_prefix: str = "Q:"
    answer_prefix: str = "\nA:"
    separator: str = "\n\n"

    @property
    def delimiter(self) -> str:
        return self.answer_prefix.rstrip()[-1]

    def example(self, x: Input, y: str) -> Prompt:
        return [self.query_prefix, x, self.answer_prefix + y + self.separator]

    def query(self, x: Input) -> Prompt:
        return [self.query_prefix, x, self.answer_prefix]


PAPER_TEMPLATE = Template()


def merge(segments: Sequence[Segment]) -> Prompt:
    """Concatenate adjacent strings, drop empty ones: a canonical prompt."""
    out: Prompt = []
    for s in segments:
        if isinstance(s, str):
            if not s:
                continue
            if out and isinstance(out[-1], str):
                out[-1] = out[-1] + s
                continue
        out.append(s)
    return out


def icl_prompt(examples: Sequence[tuple[Input, str]], query: Input, template: Template = PAPER_TEMPLATE) -> Prompt:
    """Examples then the query, ending at the delimiter the answer follows."""
    segs: Prompt = []
    for x, y in examples:
        segs += template.example(x, y)
    return merge(segs + template.query(query))


def query_prompt(query: Input, template: Template = PAPER_TEMPLATE) -> Prompt:
    return merge(template.query(query))


def instruction_prompt(instruction: str, query: Input | None = None, template: Template = PAPER_TEMPLATE) -> Prompt:
    """The raw instruction string (no template); with a query, the query follows it."""
    if query is None:
        return [instruction]
    return merge([instruction, "\n"] + template.query(query))


def has_image(prompt: Sequence[Segment]) -> bool:
    return any(isinstance(s, Image.Image) for s in prompt)


def text_of(prompt: Sequence[Segment], image_marker: str = "<image>") -> str:
    """A readable rendering (images as a marker): for display and metadata."""
    return "".join(s if isinstance(s, str) else image_marker for s in prompt)


def find_delimiter(token_ids: Sequence[int], decode, delimiter: str = ":") -> int:
    """Index of the last token whose text ends with ``delimiter`` (after stripping spaces).

    ``decode`` maps one token id to its text. Tokenizers that merge ``A:`` into one token,
    or ``:`` with a following space, are handled; padding is skipped by the caller.
    """
    for i in range(len(token_ids) - 1, -1, -1):
        if decode(int(token_ids[i])).rstrip().endswith(delimiter):
            return i
    tail = "".join(decode(int(t)) for t in token_ids[-12:])
    raise DelimiterError(
        f"Expected the prompt to end with the delimiter {delimiter!r} that the answer follows, but no token "
        f"of it ends with {delimiter!r} (the prompt ends {tail!r}). End the prompt with the delimiter: an "
        f"instruction like 'The capital city of the country{delimiter}', examples in the template "
        f"'Q:France\\nA{delimiter}'."
    )
