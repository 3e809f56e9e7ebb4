"""AWS's binary event stream written as Bedrock writes it: each frame a prelude (total and
headers length, their CRC32), string headers, the JSON payload and a CRC32 of all before it.
botocore's `EventStreamBuffer` reads it back (the tests check it does)."""

from __future__ import annotations

import struct
import zlib
from typing import Any

import orjson

CONTENT_TYPE = "application/vnd.amazon.eventstream"
_STRING = 7
"""The header value type of a string (two bytes of length, then UTF-8)."""


def frame(headers: dict[str, str], payload: bytes) -> bytes:
    encoded = b"".join(_header(name, value) for name, value in headers.items())
    prelude = struct.pack(">II", 16 + len(encoded) + len(payload), len(encoded))
    head = prelude + struct.pack(">I", zlib.crc32(prelude))
    body = head + encoded + payload
    return body + struct.pack(">I", zlib.crc32(body))


def event(name: str | None, payload: Any) -> bytes:
    """One event of the stream, named as botocore's shape names its member (`messageStart`)."""
    headers = {":event-type": str(name), ":content-type": "application/json", ":message-type": "event"}
    return frame(headers, orjson.dumps(payload))


def exception(name: str, message: str) -> bytes:
    """The frame that ends a stream in error: `name` is the exception's shape
    (`ThrottlingException`), written as the stream's union names it (`throttlingException`)."""
    headers = {
        ":exception-type": name[:1].lower() + name[1:],
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return frame(headers, orjson.dumps({"message": message}))


def _header(name: str, value: str) -> bytes:
    key, data = name.encode(), value.encode()
    return struct.pack(">B", len(key)) + key + struct.pack(">BH", _STRING, len(data)) + data
