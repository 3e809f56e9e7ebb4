"""Conversations from the two formats users already have: OpenAI chat messages and Anthropic
messages. What cannot be represented raises a ValueError naming the message and the field."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from cloudburst._conversation import Conversation, Document, Image, Message, Part, Role, Text, Thinking, ToolResult
from cloudburst._tools import ToolCall


def _data_url(url: str) -> tuple[bytes, str] | None:
    """(bytes, media type) of a `data:<type>;base64,<data>` URL, else None."""
    if not url.startswith("data:") or ";base64," not in url:
        return None
    head, data = url[5:].split(";base64,", 1)
    return base64.b64decode(data), head


def _text_or_parts(content: Any, convert: Any, where: str) -> list[Part]:
    if content is None:
        return []
    if isinstance(content, str):
        return [Text(content)]
    if isinstance(content, list):
        return [convert(block, f"{where}.content[{i}]") for i, block in enumerate(content)]
    raise ValueError(f"{where}.content: expected a string or a list of parts, got {type(content).__name__}")


def _openai_part(block: Mapping[str, Any], where: str) -> Part:
    kind = block.get("type")
    if kind == "text":
        return Text(block["text"])
    if kind == "image_url":
        url = block["image_url"]["url"]
        inline = _data_url(url)
        return Image(data=inline[0], media_type=inline[1]) if inline else Image(url=url)
    if kind == "file":
        file = block["file"]
        if "file_id" in file:
            return Document(file_id=file["file_id"], filename=file.get("filename", "document.pdf"))
        inline = _data_url(file.get("file_data", ""))
        if inline:
            return Document(data=inline[0], media_type=inline[1], filename=file.get("filename", "document.pdf"))
    raise ValueError(f"{where}: unsupported OpenAI content part {kind!r}")


def from_openai(messages: Iterable[Mapping[str, Any]]) -> Conversation:
    """From OpenAI Chat Completions `messages` (developer counts as system)."""
    out: list[Message] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        role = message.get("role")
        if role == "tool":
            content = message.get("content")
            text = content if isinstance(content, str) else "".join(p.get("text", "") for p in content or [])
            out.append(Message("tool", (ToolResult(message["tool_call_id"], text),)))
            continue
        if role not in ("system", "developer", "user", "assistant"):
            raise ValueError(f"{where}.role: unsupported role {role!r}")
        parts = _text_or_parts(message.get("content"), _openai_part, where)
        for call in message.get("tool_calls") or []:
            arguments = call["function"]["arguments"]
            parsed = orjson.loads(arguments) if arguments else {}
            parts.append(ToolCall(call["id"], call["function"]["name"], parsed, arguments))
        unified: Role = "system" if role == "developer" else role
        out.append(Message(unified, tuple(parts)))
    return Conversation(tuple(out))


def _anthropic_source(source: Mapping[str, Any], document: bool) -> Part:
    kind = source.get("type")
    if kind == "base64":
        data = base64.b64decode(source["data"])
        return (
            Document(data=data, media_type=source["media_type"])
            if document
            else Image(data=data, media_type=source["media_type"])
        )
    if kind == "url":
        return Document(url=source["url"]) if document else Image(url=source["url"])
    if kind == "file" and document:
        return Document(file_id=source["file_id"])
    raise ValueError(f"unsupported Anthropic {'document' if document else 'image'} source {kind!r}")


def _anthropic_part(block: Mapping[str, Any], where: str) -> Part:
    kind = block.get("type")
    if kind == "text":
        return Text(block["text"])
    if kind in ("image", "document"):
        return _anthropic_source(block["source"], kind == "document")
    if kind == "tool_use":
        return ToolCall(block["id"], block["name"], dict(block["input"]), orjson.dumps(block["input"]).decode())
    if kind == "tool_result":
        content = block.get("content", "")
        text = content if isinstance(content, str) else "".join(p.get("text", "") for p in content)
        return ToolResult(block["tool_use_id"], text)
    if kind == "thinking":
        return Thinking(block["thinking"], block.get("signature"))
    raise ValueError(f"{where}: unsupported Anthropic content block {kind!r}")


def from_anthropic(
    messages: Iterable[Mapping[str, Any]], system: str | list[Mapping[str, Any]] | None = None
) -> Conversation:
    """From Anthropic Messages `messages` (and the request's `system`). A user message's
    tool_result blocks become a tool message, as cloudburst keeps them."""
    out: list[Message] = []
    if system:
        out.append(Message("system", tuple(_text_or_parts(system, _anthropic_part, "system"))))
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise ValueError(f"{where}.role: unsupported role {role!r}")
        parts = _text_or_parts(message.get("content"), _anthropic_part, where)
        results = tuple(p for p in parts if isinstance(p, ToolResult))
        if results:
            out.append(Message("tool", results))
        rest = tuple(p for p in parts if not isinstance(p, ToolResult))
        if rest:
            out.append(Message(role, rest))
    return Conversation(tuple(out))
