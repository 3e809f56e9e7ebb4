"""RequestOptions: what a request carries besides the prompt and sampling, built once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cloudburst._tools import Tool


class RequestOptions(BaseModel):
    """Options passed whole to every request of a job.

    `provider` holds one generated provider options object (`OpenAIOptions`, ...); it applies
    to requests sent to that provider, and choosing a model of another provider with it is an
    error. `extra_body` and `extra_headers` are the escape hatch for fields no spec has yet:
    they are sent as given.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    tools: tuple[Tool, ...] = ()
    """Tools the model may call: Tool values, plain functions or pydantic model classes."""
    tool_choice: str | None = None
    """`auto`, `none`, `required` (some tool), or the name of the one tool to call."""
    provider: BaseModel | None = None
    extra_body: Mapping[str, Any] = Field(default_factory=dict)
    extra_headers: Mapping[str, str] = Field(default_factory=dict)

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
