"""lm-deluge's Conversation and Message: mutable builders that become cloudburst's immutable
Conversation when sent (`to_cloudburst`).

lm-deluge builds in place (`Conversation().system(...).add(Message.user(...).with_image(...))`,
`conversation.messages[0].parts.append(file)`), so these keep lists; the parts in them are
cloudburst's own (Text, Image, Document, ...). A builder whose name or keyword differs from
cloudburst's warns once per call, naming what to write instead.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from cloudburst import _conversation as typed
from cloudburst._conversation import Document, Image, Part, Role, Text, ToolResult
from cloudburst._errors import InputError
from cloudburst._prompt import InvalidPrompt, Prompt, PromptLike
from cloudburst._response import APIResponse

ImageLike = bytes | str | Path | io.BytesIO | Image
FileLike = bytes | str | Path | io.BytesIO | Document
Detail = Literal["low", "high", "auto"]

_MAGIC = ((b"\x89PNG", "image/png"), (b"\xff\xd8", "image/jpeg"), (b"GIF8", "image/gif"), (b"RIFF", "image/webp"))


def deprecated(old: str, new: str, stacklevel: int = 3) -> None:
    """One DeprecationWarning: `old` (lm-deluge's way) is written `new` in cloudburst."""
    warnings.warn(f"{old} is lm-deluge's; in cloudburst write {new}", DeprecationWarning, stacklevel=stacklevel)


def as_image(data: ImageLike, media_type: str | None = None, detail: Detail = "auto") -> Image:
    """An Image from what lm-deluge takes: a path, an http(s) or data URL, bytes, a BytesIO."""
    if isinstance(data, io.BytesIO):
        data = data.getvalue()
    if isinstance(data, bytes):
        image = Image(data=data, media_type=media_type or _sniff(data))
    elif isinstance(data, Image):
        image = data
    elif isinstance(data, str) and data.startswith(("http://", "https://", "data:")):
        image = Image(url=data, media_type=media_type or "image/png")
    else:
        image = Image.from_path(data)
    if (media_type and media_type != image.media_type) or detail in ("low", "high"):
        chosen = image.detail if detail == "auto" else detail
        image = dataclasses.replace(image, media_type=media_type or image.media_type, detail=chosen)
    return image


def File(
    data: FileLike | None = None,
    media_type: str | None = None,
    filename: str | None = None,
    file_id: str | None = None,
) -> Document:
    """lm-deluge's File, as cloudburst's Document: a path, a URL, a data URL, bytes, or a file
    already uploaded (`file_id`)."""
    if isinstance(data, Document):
        document = data
    elif file_id is not None:
        document = Document(file_id=file_id)
    elif isinstance(data, (bytes, io.BytesIO)):
        document = Document(data=data.getvalue() if isinstance(data, io.BytesIO) else data)
    elif isinstance(data, str) and data.startswith("data:"):
        header, _, payload = data.partition(",")
        document = Document(data=base64.b64decode(payload), media_type=header[5:].split(";")[0] or "application/pdf")
    elif isinstance(data, str) and data.startswith(("http://", "https://")):
        document = Document(url=data)
    elif data is not None:
        document = Document.from_path(data)
    else:
        raise ValueError("File needs data (a path, URL, data URL or bytes) or a file_id")
    if media_type or filename:
        document = dataclasses.replace(
            document, media_type=media_type or document.media_type, filename=filename or document.filename
        )
    return document


def _sniff(data: bytes) -> str:
    """The image type bytes say they are (lm-deluge infers it the same way); PNG by default."""
    return next((kind for magic, kind in _MAGIC if data.startswith(magic)), "image/png")


class Message:
    """lm-deluge's Message: a role and a list of parts, built in place. In cloudburst a message
    is `cloudburst.Message(role, parts)`, usually made by the Conversation builders."""

    def __init__(self, role: Role, parts: Iterable[Part] = ()) -> None:
        self.role: Role = role
        self.parts: list[Part] = list(parts)

    @classmethod
    def user(cls, text: str | None = None, *, image: ImageLike | None = None, file: FileLike | None = None) -> Message:
        deprecated("Message.user(text, image=...)", "Conversation.user([text, Image.from_path(path)])")
        return cls._of("user", text, image, file)

    @classmethod
    def system(cls, text: str | None = None) -> Message:
        deprecated("Message.system(text)", "Conversation.system(text)")
        return cls._of("system", text, None, None)

    @classmethod
    def ai(cls, text: str | None = None) -> Message:
        deprecated("Message.ai(text)", "Conversation.assistant(text)")
        return cls._of("assistant", text, None, None)

    @classmethod
    def _of(cls, role: Role, text: str | None, image: ImageLike | None, file: FileLike | None) -> Message:
        parts: list[Part] = [] if text is None else [Text(text)]
        if image is not None:
            parts.append(as_image(image))
        if file is not None:
            parts.append(File(file))
        return cls(role, parts)

    def with_text(self, content: str) -> Message:
        self.parts.append(Text(content))
        return self

    def with_image(
        self,
        data: ImageLike,
        *,
        media_type: str | None = None,
        detail: Detail = "auto",
    ) -> Message:
        deprecated("Message.with_image(...)", "an Image part: Image.from_path(path), Image(url=...), Image(data=...)")
        self.parts.append(as_image(data, media_type, detail))
        return self

    def with_file(self, data: FileLike, *, media_type: str | None = None, filename: str | None = None) -> Message:
        deprecated("Message.with_file(...)", "a Document part: Document.from_path(path), Document(url=...)")
        self.parts.append(File(data, media_type, filename))
        return self

    add_text = with_text
    add_image = with_image
    add_file = with_file

    def to_cloudburst(self) -> typed.Message:
        return typed.Message(self.role, tuple(self.parts))


class _Start:
    """A builder on the class starts a conversation (lm-deluge's older `Conversation.user(...)`),
    on an instance it appends to that one (its newer `Conversation().user(...)`)."""

    def __init__(self, build: Callable[..., Conversation]) -> None:
        self.build = build

    def __get__(self, instance: Conversation | None, owner: type[Conversation]) -> Callable[..., Conversation]:
        target = instance if instance is not None else owner()
        return lambda *args, **kwargs: self.build(target, *args, **kwargs)


class Conversation:
    """lm-deluge's Conversation: a list of Messages built in place; each builder returns the
    conversation, so calls chain. cloudburst's own `cloudburst.Conversation` is immutable and
    is what `to_cloudburst()` returns and what is sent."""

    def __init__(self, messages: Iterable[Message] = ()) -> None:
        self.messages: list[Message] = list(messages)

    def _system(self, text: str) -> Conversation:
        self.messages.append(Message("system", [Text(text)]))
        return self

    def _user(self, text: str, *, image: ImageLike | None = None, file: FileLike | None = None) -> Conversation:
        if image is not None or file is not None:
            deprecated("Conversation.user(text, image=/file=)", "Conversation.user([text, Image.from_path(path)])", 4)
        self.messages.append(Message._of("user", text, image, file))
        return self

    def _ai(self, text: str, *, image: ImageLike | None = None, file: FileLike | None = None) -> Conversation:
        deprecated("Conversation.ai(text)", "Conversation.assistant(text)", 4)
        self.messages.append(Message._of("assistant", text, image, file))
        return self

    system = _Start(_system)
    user = _Start(_user)
    ai = _Start(_ai)

    def add(self, message: Message | typed.Message) -> Conversation:
        deprecated("Conversation.add(message)", "Conversation.add_message(message)")
        return self._append(message)

    def with_message(self, message: Message | typed.Message) -> Conversation:
        deprecated("Conversation.with_message(message)", "Conversation.add_message(message)")
        return self._append(message)

    def with_response(self, response: APIResponse) -> Conversation:
        """The response's answer appended, to continue the conversation after it."""
        deprecated("Conversation.with_response(response)", "Conversation.add_message(response.message())")
        return self._append(response.message())

    def with_tool_result(self, tool_call_id: str, result: Any) -> Conversation:
        """A tool's result; results of calls made together go in one tool message."""
        deprecated("Conversation.with_tool_result(id, result)", "Conversation.tool([ToolResult(id, result)])")
        if not (self.messages and self.messages[-1].role == "tool"):
            self.messages.append(Message("tool"))
        self.messages[-1].parts.append(ToolResult(tool_call_id, result))
        return self

    def _append(self, message: Message | typed.Message) -> Conversation:
        self.messages.append(message if isinstance(message, Message) else Message(message.role, message.parts))
        return self

    @classmethod
    def from_openai_chat(cls, messages: Iterable[Mapping[str, Any]]) -> Conversation:
        deprecated("Conversation.from_openai_chat(messages)", "Conversation.from_openai(messages)")
        return cls.of(typed.Conversation.from_openai(messages))

    @classmethod
    def from_anthropic(
        cls, messages: Iterable[Mapping[str, Any]], system: str | list[Mapping[str, Any]] | None = None
    ) -> Conversation:
        return cls.of(typed.Conversation.from_anthropic(messages, system))

    @classmethod
    def of(cls, conversation: typed.Conversation) -> Conversation:
        return cls(Message(m.role, m.parts) for m in conversation.messages)

    def to_cloudburst(self) -> typed.Conversation:
        """This conversation as cloudburst's (immutable) Conversation; tool results named by the
        calls they answer, as `add_message` names them."""
        out = typed.Conversation()
        for message in self.messages:
            out = out.add_message(message.to_cloudburst())
        return out


def to_prompt(prompt: object) -> PromptLike:
    """What lm-deluge takes as a prompt (a string, a Conversation, a Message, or OpenAI-style
    message dicts) as cloudburst takes it (cloudburst's own prompts pass as they are); anything
    else is that prompt's InputError result."""
    if isinstance(prompt, (str, typed.Conversation, Prompt, InvalidPrompt)):
        return prompt
    if isinstance(prompt, Conversation):
        return prompt.to_cloudburst()
    if isinstance(prompt, Message):
        return typed.Conversation((prompt.to_cloudburst(),))
    if isinstance(prompt, list):
        try:
            return typed.Conversation.from_openai(prompt)
        except (TypeError, ValueError, KeyError) as exc:
            return InvalidPrompt(InputError(f"a list of message dicts that is not OpenAI's shape: {exc}"))
    kind = type(prompt).__name__
    return InvalidPrompt(InputError(f"a prompt is a str, Conversation, Message or list of message dicts, not {kind}"))
