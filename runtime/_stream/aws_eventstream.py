"""AWS's binary event stream (`application/vnd.amazon.eventstream`), as Bedrock's streaming APIs
answer, cut into `(event name, JSON payload)` by botocore's own `EventStreamBuffer`, which checks
each frame's lengths and CRC32s.

A frame is an event (`:message-type: event`, named by `:event-type`) or an exception
(`:message-type: exception`, named by `:exception-type` as the stream's union names it:
`throttlingException`), which ends the stream. An exception is yielded as its event with the
name it has online (`ThrottlingException`); `failure` gives the status and body it answers with
when it is not streamed, so it is classified as that answer is. A frame that does not decode (a
bad length or CRC, a payload that is not JSON) raises `BrokenFrame`: the stream is broken there.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import orjson
from botocore.eventstream import EventStreamBuffer, ParserError

from cloudburst._stream import BrokenFrame

EXCEPTION_STATUS = MappingProxyType(
    {
        "ValidationException": 400,
        "ServiceQuotaExceededException": 400,
        "AccessDeniedException": 403,
        "ResourceNotFoundException": 404,
        "ModelTimeoutException": 408,
        "ModelStreamErrorException": 424,
        "ModelErrorException": 424,
        "ThrottlingException": 429,
        "ModelNotReadyException": 429,
        "InternalServerException": 500,
        "ServiceUnavailableException": 503,
    }
)
"""Each Bedrock runtime exception's `httpStatusCode` in botocore's service model."""


class Decoder:
    """Bytes in as they arrive, whole frames out as events (the `aws_eventstream` framing)."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = EventStreamBuffer()

    def feed(self, data: bytes) -> list[tuple[str | None, Any]]:
        """The frames `data` completes; a frame cut in two waits for the rest."""
        self._buffer.add_data(data)
        events: list[tuple[str | None, Any]] = []
        try:
            for message in self._buffer:
                events.append(_event(message.headers, message.payload))
        except (ParserError, ValueError) as error:
            raise BrokenFrame(f"a broken event-stream frame ({type(error).__name__}: {error})", events) from None
        return events


def failure(event: str, data: Any) -> tuple[int, dict[str, Any]] | None:
    """The status and body of an exception event, as the same exception answers online (one the
    service model does not name is a 500); None for an event that is not one."""
    status = EXCEPTION_STATUS.get(event, 500 if event.endswith("Exception") else None)
    if status is None:
        return None
    return status, data if isinstance(data, dict) else {"message": str(data)}


def _event(headers: dict[str, Any], payload: bytes) -> tuple[str, Any]:
    kind = headers.get(":message-type")
    if kind == "error":  # the event-stream protocol's own error: no payload, a code and a message
        return "InternalServerException", {"message": f"{headers.get(':error-code')}: {headers.get(':error-message')}"}
    name = headers.get(":exception-type" if kind == "exception" else ":event-type")
    if not isinstance(name, str):
        raise ValueError(f"a {kind!r} frame without its name: {headers}")
    data = orjson.loads(payload) if payload else {}  # orjson's JSONDecodeError is a ValueError
    return (name[:1].upper() + name[1:] if kind == "exception" else name), data
