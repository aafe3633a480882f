"""The paper's metric: greedy first-token match."""

from __future__ import annotations


def first_token_match(prediction: str, label: str, case_insensitive: bool = False) -> bool:
    """True if, after stripping, one of prediction and label is a prefix of the other.

    The prediction is the decoded greedy first token (it may be a word piece such as
    'Par' for 'Paris'); an empty prediction never matches.
    """
    p, y = prediction.strip(), label.strip()
    if case_insensitive:
        p, y = p.lower(), y.lower()
    if not p or not y:
        return False
    return p.startswith(y) or y.startswith(p)
