"""SamplingParams: how to sample, said once for every provider."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"]


class SamplingParams(BaseModel):
    """Unified sampling settings. Unset (None) settings are not sent; a setting the chosen
    provider or model does not accept raises UnsupportedOptionError before anything is sent.
    Each field's note says which providers take it."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    temperature: float | None = Field(default=None, ge=0, le=2)
    """Randomness. OpenAI, Anthropic (0-1), Gemini, Mistral, Cohere, Bedrock."""
    top_p: float | None = Field(default=None, ge=0, le=1)
    """Nucleus sampling. OpenAI, Anthropic, Gemini, Mistral, Cohere, Bedrock."""
    top_k: int | None = Field(default=None, gt=0)
    """Sample from the k likeliest tokens only. Anthropic, Gemini, Cohere, Bedrock's Anthropic
    body, hosts serving open models (Together, Fireworks, OpenRouter, vLLM, llama.cpp)."""
    max_new_tokens: int | None = Field(default=None, gt=0)
    """Most tokens to generate, thinking included where the provider counts it so."""
    stop: list[str] | None = None
    """Stop sequences."""
    seed: int | None = None
    """Best-effort determinism. OpenAI, Gemini, Mistral, Cohere."""
    reasoning_effort: ReasoningEffort | None = None
    """How hard a reasoning model thinks. OpenAI (reasoning_effort), Anthropic (effort, with
    adaptive thinking), Gemini 3 (thinking level). On a model steered by a budget it is sent as
    the registry's budget for it; an effort the model lacks goes as its nearest one."""
    thinking_budget: int | None = Field(default=None, ge=0)
    """Tokens a model may spend thinking; 0 turns thinking off where the model allows it.
    Anthropic (extended thinking), Gemini 2.5, Bedrock's Anthropic models. On a model steered
    by effort or level it is sent as the highest effort whose registry budget it reaches.
    With both set, each model gets its own control. `APIResponse.reasoning` says what went."""
    logprobs: bool | None = None
    """Return the log probability of each output token. OpenAI (non-reasoning models)."""
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    """How many likeliest alternatives to return per token, with logprobs."""
    json_mode: bool | None = None
    """Answer with a JSON object."""
    output_schema: Any = None
    """A pydantic model class or a JSON schema the answer must follow."""


@dataclass(frozen=True, slots=True)
class ReasoningSetting:
    """The reasoning control a request actually carried: the model's own setting, and
    `mapped_from` naming what was asked when the registry translated it."""

    reasoning_effort: ReasoningEffort | None = None
    thinking_budget: int | None = None
    mapped_from: str | None = None
    """E.g. `reasoning_effort='low'` when a budget model got thinking_budget=2048 for it."""
