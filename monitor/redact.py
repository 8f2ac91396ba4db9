"""Masking personal data before any text is written or sent (DESIGN.md: at the analyzer/rule boundary)."""

from __future__ import annotations

from .pii import digit_runs
from .text import mask_spans, normalize

__all__ = ["mask_numbers", "mask_spans"]

# Numbers this long are identifiers far more often than prices or times: masked in every
# transcript line, even where no rule recognised them (half a card number in a partial commit).
MIN_DIGITS = 4


def mask_numbers(text: str, min_digits: int = MIN_DIGITS) -> str:
    """text with every number of at least `min_digits` digits, in any spoken form, masked."""
    norm, starts, ends = normalize(text)
    spans = []
    for run in digit_runs(norm):
        if len(run.digits) >= min_digits:
            spans.extend((starts[a], ends[b - 1]) for a, b in run.units)
    return mask_spans(text, spans)
