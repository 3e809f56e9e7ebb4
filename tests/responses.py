"""Two responses compared as a user reads them, so a streamed answer can be held to the
unstreamed one field by field."""

from __future__ import annotations

import dataclasses
from typing import Any

from cloudburst import APIResponse


def fields(response: APIResponse) -> dict[str, Any]:
    """What a user reads of a response; the request id and raw body are the transport's, and the
    error is compared by `same` (exceptions are equal only to themselves)."""
    return {
        f.name: getattr(response, f.name)
        for f in dataclasses.fields(response)
        if f.name not in ("request_id", "raw", "error")
    }


def same(one: APIResponse, other: APIResponse) -> None:
    """Field by field, the error compared by its class and message."""
    assert fields(one) == fields(other)
    assert repr(one.error) == repr(other.error)
