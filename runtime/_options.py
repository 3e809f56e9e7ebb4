"""RequestOptions: what a request carries besides the prompt and sampling, built once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class RequestOptions(BaseModel):
    """Options passed whole to every request of a job.

    `provider` holds one generated provider options object (`OpenAIOptions`, ...); it applies
    to requests sent to that provider, and choosing a model of another provider with it is an
    error. `extra_body` and `extra_headers` are the escape hatch for fields no spec has yet:
    they are sent as given.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: BaseModel | None = None
    extra_body: Mapping[str, Any] = Field(default_factory=dict)
    extra_headers: Mapping[str, str] = Field(default_factory=dict)
