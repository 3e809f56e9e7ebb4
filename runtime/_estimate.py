"""A dry run: what a job will cost, as a range, before anything is spent."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from cloudburst._capabilities import check_request
from cloudburst._conversation import Conversation
from cloudburst._errors import ConfigurationError
from cloudburst._models import ModelInfo
from cloudburst._prompt import Prompt
from cloudburst._registry import get_model
from cloudburst._response import Usage
from cloudburst._sampling import SamplingParams
from cloudburst._tokens import prompt_tokens
from cloudburst.generated import PROVIDERS

DEFAULT_TOKEN_RATIO = (0.8, 1.4)
"""Spread of a provider's token counts around cl100k_base when its spec does not say."""


@dataclass(frozen=True, slots=True)
class Estimate:
    """Token and cost ranges for a job; the real figures fall inside unless prompt-cache hits
    make the job cheaper than `cost[0]`."""

    model: str
    prompts: int
    input_tokens: tuple[int, int]
    output_tokens: tuple[int, int]
    cost: tuple[float, float]

    def __str__(self) -> str:
        return (
            f"{self.prompts:,} prompts on {self.model}: input {self.input_tokens[0]:,}-{self.input_tokens[1]:,} tokens, "
            f"output {self.output_tokens[0]:,}-{self.output_tokens[1]:,} tokens, "
            f"cost ${self.cost[0]:,.4f}-${self.cost[1]:,.4f}"
        )


def estimate(
    model: str | ModelInfo,
    prompts: Iterable[str | Conversation | Prompt],
    sampling: SamplingParams | None = None,
    *,
    batch: bool = False,
) -> Estimate:
    """Bracket the tokens and cost of running `prompts` on `model` (a Prompt with its own
    settings is counted with them). Every prompt is checked as it would be when sent, so a job
    that would fail fails here first."""
    info = model if isinstance(model, ModelInfo) else get_model(model)
    sampling = sampling or SamplingParams()
    provider = PROVIDERS.get(info.provider)
    ratio = provider.token_ratio if provider is not None and provider.token_ratio else DEFAULT_TOKEN_RATIO
    count = 0
    low_in = high_in = high_out = 0
    low_cost = high_cost = 0.0
    for prompt in prompts:
        own = sampling
        if isinstance(prompt, Prompt):
            own, prompt = prompt.sampling or sampling, prompt.content
        max_output = own.max_new_tokens or info.max_output_tokens
        if max_output is None:
            raise ConfigurationError(f"{info.id} has no output limit; set SamplingParams.max_new_tokens")
        conversation = Conversation.of(prompt)
        check_request(info, conversation, own)
        text, (extra_low, extra_high) = prompt_tokens(conversation)
        low = math.floor(text * ratio[0]) + extra_low
        high = min(math.ceil(text * ratio[1]) + extra_high, info.context_window)
        if low > info.context_window:
            raise ConfigurationError(f"prompt {count} has at least {low:,} tokens, over {info.id}'s context window")
        count += 1
        low_in += low
        high_in += high
        high_out += max_output
        low_cost += info.cost(Usage(input_tokens=low, output_tokens=1), batch=batch)
        high_cost += info.cost(Usage(input_tokens=high, output_tokens=max_output), batch=batch)
    return Estimate(info.id, count, (low_in, high_in), (count, high_out), (low_cost, high_cost))
