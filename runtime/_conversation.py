"""What is said: a Conversation of Messages, each a sequence of content Parts.

Parts are small immutable values. Each tells the adapters what it is on the wire through
`wire()`: a part kind (`text`, `image_url`, `image_base64`, ...) and the values the provider's
part template needs. The generated adapters hold the templates; nothing here knows a provider.
"""

from __future__ import annotations

import base64
import functools
import mimetypes
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from cloudburst._constants import FROM_PATH_CACHE
from cloudburst._tools import ToolCall
from cloudburst._wire import json_text

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True, slots=True)
class Text:
    text: str
    kind: Literal["text"] = "text"

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):  # one check on the hot path, the message from the shared helper
            _check_types(self, text=str)

    def wire(self) -> tuple[str, dict[str, Any]]:
        return "text", {"text": self.text}


@dataclass(frozen=True, slots=True)
class Image:
    """An image by URL (sent as a link), by content (sent inline as base64, or uploaded: see
    FileUploadStrategy), as a `data:` URL (sent inline, as the content it carries), or by the
    id of a file already uploaded to the provider."""

    url: str | None = None
    data: bytes | None = None
    media_type: str = "image/png"
    file_id: str | None = None
    encoded: str | None = field(default=None, repr=False, compare=False)
    """`data` as base64, when already computed (off the event loop, once for every prompt)."""
    detail: Literal["low", "high", "auto"] | None = None
    """OpenAI's resolution hint (`image_url.detail`); the other providers have no such setting."""
    kind: Literal["image"] = "image"

    def __post_init__(self) -> None:
        _check_types(self, url=(str, type(None)), data=(bytes, type(None)), file_id=(str, type(None)))

    @classmethod
    def from_path(cls, path: str | Path) -> Image:
        """The image in a file; the same object for the same unchanged file (`_same_file`)."""
        found = _same_file("image", Path(path))
        assert isinstance(found, Image)
        return found

    def wire(self) -> tuple[str, dict[str, Any]]:
        if self.file_id is not None:
            return "image_file_id", {"file_id": self.file_id, "media_type": self.media_type, **self._detail()}
        if self.data is not None:
            data = self.encoded or base64.b64encode(self.data).decode()
            return "image_base64", {
                "data": data,
                "media_type": self.media_type,
                "format": _format(self.media_type),
                **self._detail(),
            }
        if self.url is None:
            raise ValueError("an Image needs a url or data")
        if self.url.startswith("data:"):
            header, _, payload = self.url.partition(",")
            if not header.endswith(";base64"):
                raise ValueError(f"an image data URL must be base64-encoded: {self.url[:40]}...")
            media_type = header[5:].split(";")[0] or self.media_type
            return "image_base64", {
                "data": payload,
                "media_type": media_type,
                "format": _format(media_type),
                **self._detail(),
            }
        return "image_url", {"url": self.url, "media_type": self.media_type, **self._detail()}

    def _detail(self) -> dict[str, str | None]:
        return {"detail": self.detail, "detail_or_auto": self.detail or "auto"}


@dataclass(frozen=True, slots=True)
class Document:
    """A file such as a PDF: inline bytes, a URL, or the id of a file already uploaded."""

    data: bytes | None = None
    url: str | None = None
    file_id: str | None = None
    media_type: str = "application/pdf"
    filename: str = "document.pdf"
    encoded: str | None = field(default=None, repr=False, compare=False)
    """`data` as base64, when already computed (off the event loop, once for every prompt)."""
    kind: Literal["document"] = "document"

    def __post_init__(self) -> None:
        _check_types(self, url=(str, type(None)), data=(bytes, type(None)), file_id=(str, type(None)))

    @classmethod
    def from_path(cls, path: str | Path) -> Document:
        """The file's content; the same object for the same unchanged file (`_same_file`)."""
        found = _same_file("document", Path(path))
        assert isinstance(found, Document)
        return found

    def wire(self) -> tuple[str, dict[str, Any]]:
        common = {"media_type": self.media_type, "filename": self.filename}
        if self.file_id is not None:
            return "file_id", {"file_id": self.file_id, **common}
        if self.data is not None:
            data = self.encoded or base64.b64encode(self.data).decode()
            title = re.sub(r"[^A-Za-z0-9 ()\[\]-]+", " ", Path(self.filename).stem).strip() or "document"
            fields = {"data": data, "format": _format(self.media_type), "title": title, **common}
            if self.media_type.startswith("text/"):
                try:
                    return "document_text", {"text": self.data.decode(), **fields}
                except UnicodeDecodeError:
                    pass  # not UTF-8 text whatever its type says: sent as its bytes
            return "document_base64", fields
        if self.url is None:
            raise ValueError("a Document needs data, a url or a file_id")
        return "document_url", {"url": self.url, **common}


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What a tool returned, answering the call with id `call_id`: text, JSON data (sent as
    JSON text), or parts such as a text and an image (for providers that take them). `name`
    is the tool's; a conversation fills it in from the call it answers."""

    call_id: str
    content: str | tuple[Text | Image | Document, ...]
    name: str | None = None
    is_error: bool = False
    """The tool failed and `content` says how (Anthropic's `is_error`, Converse's error status)."""
    kind: Literal["tool_result"] = "tool_result"

    def __init__(self, call_id: str, content: Any, name: str | None = None, is_error: bool = False) -> None:
        object.__setattr__(self, "call_id", call_id)
        object.__setattr__(self, "content", _result_content(content))
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "is_error", is_error)
        object.__setattr__(self, "kind", "tool_result")

    def wire(self) -> tuple[str, dict[str, Any]]:
        return "tool_result", {
            "call_id": self.call_id,
            "content": self.content,
            "parts": None,
            "name": self.name,
            "is_error": True if self.is_error else None,
            "status": "error" if self.is_error else None,
        }


def _result_content(content: Any) -> str | tuple[Text | Image | Document, ...]:
    if isinstance(content, str):
        return content
    if isinstance(content, (Text, Image, Document)):
        content = [content]
    if (
        isinstance(content, (list, tuple))
        and content
        and all(isinstance(p, (str, Text, Image, Document)) for p in content)
    ):
        parts = tuple(Text(p) if isinstance(p, str) else p for p in content)
        return parts[0].text if len(parts) == 1 and isinstance(parts[0], Text) else parts
    if isinstance(content, BaseModel):
        return content.model_dump_json()
    return json_text(content)


@dataclass(frozen=True, slots=True)
class Thinking:
    """A model's thinking, with the provider's signature so it can be sent back next turn."""

    thinking: str
    signature: str | None = None
    """What lets the provider take it back: Anthropic's signature, Gemini's thought signature, or
    an OpenAI Responses reasoning item's encrypted content."""
    redacted: str | None = None
    """Thinking the provider encrypted (Anthropic's redacted_thinking): opaque data to send back."""
    id: str | None = None
    """The provider's id of this thinking (an OpenAI Responses reasoning item), which an API that
    sends thinking back by id needs; thinking without one came from another API."""
    kind: Literal["thinking"] = "thinking"

    def wire(self) -> tuple[str, dict[str, Any]]:
        if self.redacted is not None:
            return "redacted_thinking", {"data": self.redacted}
        # `summary`: the visible text as a list of summary parts, empty when there is none
        summary = [{"type": "summary_text", "text": self.thinking}] if self.thinking else []
        return "thinking", {"thinking": self.thinking, "signature": self.signature, "id": self.id, "summary": summary}


Part = Text | Image | Document | ToolCall | ToolResult | Thinking


def _check_types(part: object, **fields: type | tuple[type, ...]) -> None:
    """A part built with a value of the wrong type fails where it is built, saying which field
    (`Image(b"...")` passes bytes as the URL: `Image(data=...)` is meant), not at send time."""
    for name, kind in fields.items():
        value = getattr(part, name)
        if not isinstance(value, kind):
            hint = (
                f"; give bytes as {type(part).__name__}(data=...)" if name == "url" and isinstance(value, bytes) else ""
            )
            raise TypeError(f"{type(part).__name__}.{name} cannot be a {type(value).__name__}{hint}")


def _format(media_type: str) -> str:
    """`png` for image/png: the name some APIs want instead of the media type (Bedrock)."""
    return media_type.rpartition("/")[2].removeprefix("x-")


def _same_file(kind: Literal["image", "document"], path: Path) -> Image | Document:
    """One object per file (by path, size and modification time), so prompts built with
    `from_path` each share it, as if the caller had: the file is read, hashed and uploaded once
    however many prompts carry it."""
    stat = path.stat()
    return _read(kind, str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=FROM_PATH_CACHE)
def _read(kind: str, path: str, size: int, mtime_ns: int) -> Image | Document:
    data = Path(path).read_bytes()
    if kind == "image":
        return Image(data=data, media_type=_media_type(path, "image/png"))
    return Document(data=data, media_type=_media_type(path, "application/pdf"), filename=Path(path).name)


def _media_type(path: str | Path, default: str) -> str:
    guessed, _ = mimetypes.guess_type(str(path))
    return guessed or default


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    parts: tuple[Part, ...]

    @property
    def text(self) -> str:
        """All text parts, joined."""
        return "".join(part.text for part in self.parts if isinstance(part, Text))


_PART_TYPES = (Text, Image, Document, ToolCall, ToolResult, Thinking)
Content = str | Part | Sequence[str | Part]


def _parts(content: Content) -> tuple[Part, ...]:
    items: Iterable[str | Part] = [content] if isinstance(content, (str, *_PART_TYPES)) else content
    return tuple(Text(item) if isinstance(item, str) else item for item in items)


class _Builder:
    """A method that works on the class (starting a conversation) and on an instance (adding
    to it), so `Conversation.system(...).user(...)` reads as it runs."""

    def __init__(self, role: Role) -> None:
        self.role: Role = role

    def __get__(self, instance: Conversation | None, owner: type[Conversation]) -> Callable[[Content], Conversation]:
        base = instance if instance is not None else owner()
        return lambda content: base.add(self.role, content)


@dataclass(frozen=True, slots=True)
class Conversation:
    """An immutable list of messages. Builders return a new conversation:

    Conversation.system("Be brief.").user("What is 2+2?")
    """

    messages: tuple[Message, ...] = ()

    @classmethod
    def of(cls, prompt: str | Conversation) -> Conversation:
        """A plain string is a one-message conversation."""
        return prompt if isinstance(prompt, Conversation) else cls((Message("user", _parts(prompt)),))

    @classmethod
    def from_openai(cls, messages: Iterable[Mapping[str, Any]]) -> Conversation:
        """From OpenAI Chat Completions `messages`."""
        from cloudburst._importers import from_openai

        return from_openai(messages)

    @classmethod
    def from_anthropic(
        cls, messages: Iterable[Mapping[str, Any]], system: str | list[Mapping[str, Any]] | None = None
    ) -> Conversation:
        """From Anthropic Messages `messages` and `system`."""
        from cloudburst._importers import from_anthropic

        return from_anthropic(messages, system)

    def add(self, role: Role, content: Content) -> Conversation:
        return self.add_message(Message(role, _parts(content)))

    def add_message(self, message: Message) -> Conversation:
        """Append a whole message, e.g. `response.message()` to continue after an answer.
        Tool results get the name of the call they answer (Gemini sends names, not ids)."""
        if any(isinstance(part, ToolResult) and part.name is None for part in message.parts):
            names = {part.id: part.name for m in self.messages for part in m.parts if isinstance(part, ToolCall)}
            message = Message(
                message.role,
                tuple(
                    ToolResult(part.call_id, part.content, names.get(part.call_id), part.is_error)
                    if isinstance(part, ToolResult) and part.name is None
                    else part
                    for part in message.parts
                ),
            )
        return Conversation((*self.messages, message))

    system = _Builder("system")
    user = _Builder("user")
    assistant = _Builder("assistant")
    tool = _Builder("tool")
    """Tool results: `.tool([ToolResult(call.id, "..."), ...])`."""
