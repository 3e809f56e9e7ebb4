"""Conversations from the two formats users already have: OpenAI chat messages and Anthropic
messages. Everything the unified model can hold is imported (images and documents inside tool
results, tool errors, redacted thinking, an image's detail); anything else, and anything
malformed, is an InputError (a ValueError) naming the message, the block and the field: an
importer never drops a part silently."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson

from cloudburst._conversation import Conversation, Document, Image, Message, Part, Role, Text, Thinking, ToolResult
from cloudburst._errors import InputError
from cloudburst._tools import ToolCall

Convert = Callable[[Any, str], Part]


def _field(block: Any, name: str, where: str, kind: type | tuple[type, ...] = str) -> Any:
    """`block[name]`, of type `kind`, or an InputError saying what is wrong where."""
    if not isinstance(block, Mapping):
        raise InputError(f"{where}: expected an object, got {type(block).__name__}")
    if name not in block:
        raise InputError(f"{where}: missing {name!r}")
    value = block[name]
    if not isinstance(value, kind):
        wanted = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise InputError(f"{where}.{name}: expected {wanted}, got {type(value).__name__}")
    return value


def _data_url(url: str, where: str) -> tuple[bytes, str] | None:
    """(bytes, media type) of a `data:<type>;base64,<data>` URL, else None."""
    if not url.startswith("data:") or ";base64," not in url:
        return None
    head, data = url[5:].split(";base64,", 1)
    return _base64(data, where), head


def _base64(data: str, where: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"{where}: not valid base64") from None


def _parts(content: Any, convert: Convert, where: str) -> list[Part]:
    if content is None:
        return []
    if isinstance(content, str):
        return [Text(content)]
    if isinstance(content, list):
        return [convert(block, f"{where}.content[{i}]") for i, block in enumerate(content)]
    raise InputError(f"{where}.content: expected a string or a list of parts, got {type(content).__name__}")


def _arguments(text: Any, where: str) -> dict[str, Any]:
    if not isinstance(text, str):
        raise InputError(f"{where}: expected the arguments as JSON text, got {type(text).__name__}")
    try:
        parsed = orjson.loads(text) if text else {}
    except orjson.JSONDecodeError:
        raise InputError(f"{where}: the arguments are not JSON") from None
    if not isinstance(parsed, dict):
        raise InputError(f"{where}: the arguments are not a JSON object")
    return parsed


# OpenAI chat ------------------------------------------------------------------------------------


def _openai_part(block: Any, where: str) -> Part:
    kind = _field(block, "type", where)
    if kind == "text":
        return Text(_field(block, "text", where))
    if kind == "image_url":
        image = _field(block, "image_url", where, Mapping)
        url = _field(image, "url", f"{where}.image_url")
        detail = image.get("detail")
        if detail not in (None, "low", "high", "auto"):
            raise InputError(f"{where}.image_url.detail: expected low, high or auto, got {detail!r}")
        inline = _data_url(url, f"{where}.image_url.url")
        if inline:
            return Image(data=inline[0], media_type=inline[1], detail=detail)
        return Image(url=url, detail=detail)
    if kind == "file":
        file = _field(block, "file", where, Mapping)
        filename = file.get("filename") or "document.pdf"
        if "file_id" in file:
            return Document(file_id=_field(file, "file_id", f"{where}.file"), filename=filename)
        inline = _data_url(_field(file, "file_data", f"{where}.file"), f"{where}.file.file_data")
        if inline:
            return Document(data=inline[0], media_type=inline[1], filename=filename)
        raise InputError(f"{where}.file.file_data: expected a base64 data URL")
    raise InputError(f"{where}: OpenAI content part {kind!r} has no place in a cloudburst conversation")


def from_openai(messages: Iterable[Mapping[str, Any]]) -> Conversation:
    """From OpenAI Chat Completions `messages` (developer counts as system)."""
    out: list[Message] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        role = _field(message, "role", where)
        if role == "tool":
            parts = _parts(message.get("content"), _openai_part, where)
            result = ToolResult(_field(message, "tool_call_id", where), parts or "")
            out.append(Message("tool", (result,)))
            continue
        if role not in ("system", "developer", "user", "assistant"):
            raise InputError(f"{where}.role: unsupported role {role!r}")
        parts = _parts(message.get("content"), _openai_part, where)
        for number, call in enumerate(message.get("tool_calls") or []):
            at = f"{where}.tool_calls[{number}]"
            function = _field(call, "function", at, Mapping)
            arguments = function.get("arguments") or ""
            parts.append(
                ToolCall(
                    _field(call, "id", at),
                    _field(function, "name", f"{at}.function"),
                    _arguments(arguments, f"{at}.function.arguments"),
                    arguments,
                )
            )
        unified: Role = "system" if role == "developer" else role
        out.append(Message(unified, tuple(parts)))
    return Conversation(tuple(out))


# Anthropic messages -----------------------------------------------------------------------------


def _anthropic_source(block: Mapping[str, Any], document: bool, where: str) -> Part:
    source = _field(block, "source", where, Mapping)
    kind = _field(source, "type", f"{where}.source")
    at = f"{where}.source"
    if kind == "base64":
        data = _base64(_field(source, "data", at), f"{at}.data")
        media_type = _field(source, "media_type", at)
        return Document(data=data, media_type=media_type) if document else Image(data=data, media_type=media_type)
    if kind == "text" and document:
        return Document(data=_field(source, "data", at).encode(), media_type="text/plain", filename="document.txt")
    if kind == "url":
        url = _field(source, "url", at)
        return Document(url=url) if document else Image(url=url)
    if kind == "file":
        file_id = _field(source, "file_id", at)
        return Document(file_id=file_id) if document else Image(file_id=file_id)
    what = "document" if document else "image"
    raise InputError(f"{at}: an Anthropic {what} source of type {kind!r} has no place in a cloudburst conversation")


def _anthropic_part(block: Any, where: str) -> Part:
    kind = _field(block, "type", where)
    if kind == "text":
        return Text(_field(block, "text", where))
    if kind in ("image", "document"):
        return _anthropic_source(block, kind == "document", where)
    if kind == "tool_use":
        arguments = _field(block, "input", where, Mapping)
        return ToolCall(
            _field(block, "id", where), _field(block, "name", where), dict(arguments), orjson.dumps(arguments).decode()
        )
    if kind == "tool_result":
        content = _parts(block.get("content"), _anthropic_part, where)
        is_error = block.get("is_error") or False
        if not isinstance(is_error, bool):
            raise InputError(f"{where}.is_error: expected a boolean, got {type(is_error).__name__}")
        return ToolResult(_field(block, "tool_use_id", where), content or "", is_error=is_error)
    if kind == "thinking":
        return Thinking(_field(block, "thinking", where), block.get("signature"))
    if kind == "redacted_thinking":
        return Thinking("", redacted=_field(block, "data", where))
    raise InputError(f"{where}: Anthropic content block {kind!r} has no place in a cloudburst conversation")


def from_anthropic(
    messages: Iterable[Mapping[str, Any]], system: str | list[Mapping[str, Any]] | None = None
) -> Conversation:
    """From Anthropic Messages `messages` (and the request's `system`). A user message's
    tool_result blocks become a tool message, as cloudburst keeps them."""
    out: list[Message] = []
    if system:
        out.append(Message("system", tuple(_parts(system, _anthropic_part, "system"))))
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        role = _field(message, "role", where)
        if role not in ("user", "assistant"):
            raise InputError(f"{where}.role: unsupported role {role!r}")
        parts = _parts(message.get("content"), _anthropic_part, where)
        results = tuple(p for p in parts if isinstance(p, ToolResult))
        if results:
            out.append(Message("tool", results))
        rest = tuple(p for p in parts if not isinstance(p, ToolResult))
        if rest:
            out.append(Message(role, rest))
    return Conversation(tuple(out))
