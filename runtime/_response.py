"""APIResponse: everything a provider answered to one prompt, normalised."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from cloudburst._conversation import Message, Text, Thinking
from cloudburst._errors import InvalidOutputError, ProviderError
from cloudburst._sampling import ReasoningSetting
from cloudburst._tools import ToolCall

FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "refusal"]
T = TypeVar("T")


@dataclass(slots=True)
class Usage:
    """Tokens as the provider billed them, the same way for every provider: `input_tokens` is the
    whole prompt (cache reads and writes included), `output_tokens` everything generated
    (reasoning included); the other fields say how much of those was what."""

    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    """Part of `cache_write_tokens` written with a 1-hour lifetime (Anthropic)."""


@dataclass(frozen=True, slots=True)
class TokenLogprob:
    """One generated token, its log probability, and the likeliest alternatives (`top`)."""

    token: str
    logprob: float
    top: tuple[TokenLogprob, ...] = ()


@dataclass(slots=True)
class APIResponse:
    """One prompt's outcome: a completion, or `error` saying why there is none."""

    provider: str
    model: str = ""
    """cloudburst's model id (from the registry)."""
    provider_model: str | None = None
    """The model name the provider reported."""
    id: str | None = None
    completion: str | None = None
    """The answer's text: every text part joined, never thinking."""
    thoughts: list[Thinking] = field(default_factory=list)
    """The model's visible thinking blocks, with their signatures."""
    tool_calls: list[ToolCall] = field(default_factory=list)
    """Tools the model asked to call, arguments parsed."""
    refusal: str | None = None
    """The model's refusal message, when it declined (finish_reason `refusal`)."""
    parsed: Any = None
    """With an output_schema: the answer as a model instance (or JSON data for a dict schema);
    `parsed_as(Schema)` gives it typed."""
    logprobs: list[TokenLogprob] | None = None
    """Per output token, when logprobs were asked for."""
    reasoning: ReasoningSetting | None = None
    """The reasoning control the request carried, mapped from what was asked where the model
    takes another (set by the client; None when no reasoning was asked for)."""
    finish_reason: FinishReason | None = None
    raw_finish_reason: str | None = None
    service_tier: str | None = None
    """The processing tier the provider says served the request, in its own words (OpenAI's
    `default`, `flex`, `priority`; Anthropic's `standard`, `priority`, `batch`)."""
    usage: Usage = field(default_factory=Usage)
    cost: float = 0.0
    """USD, from usage and the registry's prices (the service tier's own, where it has them)."""
    status: int | None = None
    request_id: str | None = None
    error: ProviderError | None = None
    raw: Any = None
    """The provider's body as parsed JSON (or text, when it was not JSON)."""
    attempts: int = 1
    """Attempts the client made for this prompt, this one included."""
    failed_usage: Usage = field(default_factory=Usage)
    """Tokens billed for the earlier, failed attempts (an answer that did not parse, say)."""
    failed_cost: float = 0.0
    """USD billed for the earlier, failed attempts."""
    cached: bool = False
    """The answer came without a provider call of its own: from the client's cache, or shared
    with an identical request in flight. Nothing was paid for it, so `cost` is 0; `usage` is
    what the answer took when it was first paid for."""

    @property
    def total_cost(self) -> float:
        """What the prompt cost in all: this answer plus every failed attempt before it."""
        return self.cost + self.failed_cost

    @property
    def ok(self) -> bool:
        return self.error is None

    def parsed_as(self, schema: type[T]) -> T:
        """`parsed` as a `schema` (the output_schema's class, or `dict` for a JSON schema), typed
        for the editor. Raises the response's error when it has one, else InvalidOutputError
        when `parsed` is not a `schema` (no output_schema was given, or another one)."""
        if isinstance(self.parsed, schema):
            return self.parsed
        if self.error is not None:
            raise self.error
        what = "nothing" if self.parsed is None else f"a {type(self.parsed).__name__}"
        raise InvalidOutputError(
            f"{self.model or self.provider}'s answer holds {what}, not a {schema.__name__}: "
            f"was output_schema={schema.__name__} given?",
            status=self.status,
        )

    @property
    def thinking(self) -> str | None:
        """All visible thinking, joined; None when there was none (reasoning items without a
        summary, say)."""
        visible = [t.thinking for t in self.thoughts if t.redacted is None and t.thinking]
        return "".join(visible) if visible else None

    def message(self) -> Message:
        """The answer as an assistant message, to continue the conversation with: thinking
        (signed, so the provider accepts it back), text, then tool calls."""
        text = (Text(self.completion),) if self.completion else ()
        return Message("assistant", (*self.thoughts, *text, *self.tool_calls))
