"""RequestOptions: what a request carries besides the prompt and sampling, built once."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cloudburst._tools import Tool

CachePattern = Literal[
    "system", "tools", "system_and_tools", "last_user_message", "last_2_user_messages", "last_3_user_messages"
]


class RequestOptions(BaseModel):
    """Options passed whole to every request of a job.

    `provider` holds generated provider options objects (`OpenAIOptions`, ...), one or a list
    with one of each class: each applies to the requests of the APIs that take its class, so one
    RequestOptions serves a spray over several providers. An object that applies to none of a
    job's models is an error. `extra_body` and `extra_headers` are the escape hatch for fields
    no spec has yet: they are sent as given.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    tools: tuple[Tool, ...] = ()
    """Tools the model may call: Tool values, plain functions or pydantic model classes."""
    tool_choice: str | None = None
    """`auto`, `none`, `required` (some tool), or the name of the one tool to call."""
    cache: CachePattern | None = None
    """Where to put prompt-cache breakpoints, on providers that need them (Anthropic):
    `system`, `tools`, `system_and_tools`, or the last 1-3 user messages. Providers that cache
    by themselves (OpenAI) need none."""
    cache_ttl: Literal["5m", "1h"] = "5m"
    provider: BaseModel | tuple[BaseModel, ...] | None = None
    extra_body: Mapping[str, Any] = Field(default_factory=dict)
    extra_headers: Mapping[str, str] = Field(default_factory=dict)

    if TYPE_CHECKING:  # what the validators below take, for type checkers (defaults: the fields')

        def __init__(
            self,
            *,
            tools: Iterable[Tool | Callable[..., Any] | type[BaseModel]] = ...,
            tool_choice: str | None = ...,
            cache: CachePattern | None = ...,
            cache_ttl: Literal["5m", "1h"] = ...,
            provider: BaseModel | Sequence[BaseModel] | None = ...,
            extra_body: Mapping[str, Any] = ...,
            extra_headers: Mapping[str, str] = ...,
        ) -> None: ...

    @field_validator("tools", mode="before")
    @classmethod
    def _as_tools(cls, tools: Any) -> tuple[Tool, ...]:
        out = []
        for tool in tools:
            if isinstance(tool, type) and issubclass(tool, BaseModel):
                tool = Tool.from_model(tool)
            elif callable(tool) and not isinstance(tool, Tool):
                tool = Tool.from_function(tool)
            out.append(tool)
        return tuple(out)

    @field_validator("provider", mode="before")
    @classmethod
    def _as_providers(cls, provider: Any) -> Any:
        if not isinstance(provider, (list, tuple)):
            return provider
        kinds = [type(given).__name__ for given in provider]
        twice = sorted({kind for kind in kinds if kinds.count(kind) > 1})
        if twice:
            raise ValueError(f"provider options name {', '.join(twice)} more than once; give one of each class")
        return tuple(provider)

    def providers(self) -> tuple[BaseModel, ...]:
        """The provider options objects given, as a tuple."""
        given = self.provider
        return given if isinstance(given, tuple) else () if given is None else (given,)

    def for_api(self, options_class: type[BaseModel] | None, *, strict_tools: bool = True) -> RequestOptions:
        """These options as an API taking `options_class` gets them: `provider` is the one
        object of that class, or None. `strict_tools=False` (a model without strict schemas):
        tools left to the default are sent non-strict."""
        out = self
        given = self.provider
        if isinstance(given, tuple) or not (given is None or (options_class and isinstance(given, options_class))):
            mine = next((p for p in self.providers() if options_class and isinstance(p, options_class)), None)
            out = self.model_copy(update={"provider": mine})
        if not strict_tools and any(tool.strict is None for tool in self.tools):
            tools = tuple(replace(tool, strict=False) if tool.strict is None else tool for tool in self.tools)
            out = out.model_copy(update={"tools": tools})
        return out
