"""What goes into a job and what comes out of it, one prompt at a time."""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable
from dataclasses import dataclass

from cloudburst._conversation import Conversation
from cloudburst._errors import InputError
from cloudburst._options import RequestOptions
from cloudburst._response import APIResponse
from cloudburst._sampling import SamplingParams


@dataclass(frozen=True, slots=True)
class Prompt:
    """A prompt with its own id and, when it differs from the client's, its own settings (the
    CLI's per-line settings, say). Plain strings and Conversations need no wrapper."""

    content: str | Conversation
    id: str | None = None
    sampling: SamplingParams | None = None
    """Replaces the client's SamplingParams whole for this prompt."""
    options: RequestOptions | None = None
    """Replaces the client's RequestOptions whole for this prompt."""


@dataclass(frozen=True, slots=True)
class InvalidPrompt:
    """An input that could not become a prompt (a line that is not JSON, say), handed to the job
    in its place: it ends as a result with `error`, nothing is sent for it, and the job goes on."""

    error: InputError
    id: str | None = None


PromptLike = str | Conversation | Prompt | InvalidPrompt
Prompts = Iterable[PromptLike] | AsyncIterable[PromptLike]
"""What a job takes: any iterable of prompts, or an async iterable (read as capacity frees up)."""


@dataclass(frozen=True, slots=True)
class Completed:
    """One prompt's final result, as `LLMClient.as_completed` yields it: `index` is the
    prompt's position in the input, `id` the Prompt's id when it had one, `restored` True when
    the result came from the job's journal (an earlier run), not from a request."""

    index: int
    id: str | None
    response: APIResponse
    restored: bool = False
