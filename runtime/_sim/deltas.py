"""How a streamed answer's text is cut into deltas: pieces of varying length, cut anywhere (a
model streams tokens, and a token boundary falls mid-word or mid-JSON), drawn from the answer so
the same answer always streams the same way."""

from __future__ import annotations

import random


def cut(text: str, rng: random.Random, span: tuple[int, int]) -> list[str]:
    """`text` in pieces of `span` characters (low, high), together exactly `text`; none for ""."""
    pieces = []
    start = 0
    while start < len(text):
        end = start + rng.randint(*span)
        pieces.append(text[start:end])
        start = end
    return pieces
