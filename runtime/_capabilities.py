"""Refuse, before anything is sent, what the chosen model cannot do.

The provider's adapter refuses settings its API has no place for; this checks the model: its
capabilities, its reasoning controls and the settings it rejects while it thinks, all read
from the registry.
"""

from __future__ import annotations

from cloudburst._conversation import Conversation, Document, Image, Text, ToolResult
from cloudburst._errors import ConfigurationError, UnsupportedContentError, UnsupportedOptionError
from cloudburst._models import ModelInfo, SamplingBound
from cloudburst._options import RequestOptions
from cloudburst._reasoning import for_model
from cloudburst._sampling import SamplingParams
from cloudburst._tools import Tool
from cloudburst._wire import is_set
from cloudburst.generated import APIS

_SETTING_NEEDS = {
    "logprobs": "logprobs",
    "top_logprobs": "logprobs",
    "json_mode": "json_mode",
    "output_schema": "structured_output",
}
_PART_NEEDS = {Image: "images", Document: "pdfs"}


def check_request(
    model: ModelInfo, conversation: Conversation, sampling: SamplingParams, options: RequestOptions | None = None
) -> None:
    if model.kind != "chat":
        raise UnsupportedOptionError(f"{model.id} is an {model.kind} model, not a chat model")
    for setting, capability in _SETTING_NEEDS.items():
        if is_set(getattr(sampling, setting)) and not model.supports(capability):
            raise UnsupportedOptionError(f"{model.id} does not support {setting} (no {capability} capability)")
    for message in conversation.messages:
        for part in message.parts:
            needed = _PART_NEEDS.get(type(part))
            if needed and not model.supports(needed):
                raise UnsupportedContentError(f"{model.id} cannot take {type(part).__name__.lower()} input")
            if isinstance(part, ToolResult) and not isinstance(part.content, str):
                _check_result_media(model, part)
    if (
        sampling.max_new_tokens is not None
        and model.max_output_tokens is not None
        and sampling.max_new_tokens > model.max_output_tokens
    ):
        raise UnsupportedOptionError(
            f"max_new_tokens={sampling.max_new_tokens} exceeds {model.id}'s limit of {model.max_output_tokens}"
        )
    _check_sampling(model, sampling)
    _check_reasoning(model, sampling)
    if options is not None:
        _check_tools(model, options)


def _check_result_media(model: ModelInfo, result: ToolResult) -> None:
    """Images and documents in a tool result, on an API that takes them from some models only."""
    needed = getattr(APIS.get((model.provider, model.api)), "TOOL_RESULT_MEDIA", None)
    media = sorted({type(part).__name__.lower() for part in result.content if not isinstance(part, Text)})
    if needed and media and not model.supports(needed):
        raise UnsupportedContentError(
            f"{model.id} cannot take {' or '.join(media)} in a tool result (call {result.call_id!r}): "
            f"no {needed} capability"
        )


def _check_tools(model: ModelInfo, options: RequestOptions) -> None:
    if options.tools and not model.supports("tools"):
        raise UnsupportedOptionError(f"{model.id} cannot call tools")
    for tool in options.tools:
        if tool.strict:
            _check_strict(model, tool)
    choice = options.tool_choice
    if choice not in (None, "auto", "none", "required") and choice not in {tool.name for tool in options.tools}:
        raise ConfigurationError(
            f"tool_choice {choice!r} names no tool offered; offered: {[t.name for t in options.tools]}"
        )


def _check_strict(model: ModelInfo, tool: Tool) -> None:
    """A tool that asks for strict gets it, or the reason it cannot."""
    mode = getattr(APIS.get((model.provider, model.api)), "STRICT_TOOLS", None)
    if mode is None:
        raise UnsupportedOptionError(f"tool {tool.name!r} asks for strict, but {model.id}'s API has no strict tools")
    if not model.supports("structured_output"):
        raise UnsupportedOptionError(f"tool {tool.name!r} asks for strict, but {model.id} has no structured_output")
    schema = tool.strict_schema(mode)
    if isinstance(schema, str):
        raise ConfigurationError(f"tool {tool.name!r} cannot be strict on {model.id}: {schema}")


def _check_sampling(model: ModelInfo, sampling: SamplingParams) -> None:
    """The sampling settings the model refuses always, together, or outside its bounds."""
    for setting in model.refuses:
        if is_set(getattr(sampling, setting)):
            raise UnsupportedOptionError(f"{model.id} refuses {setting} on every request")
    for group in model.refuses_together:
        if all(is_set(getattr(sampling, setting)) for setting in group):
            raise UnsupportedOptionError(f"{model.id} takes one of {' and '.join(group)}, not both")
    _check_bounds(model, sampling, model.bounds, "")


def _check_bounds(model: ModelInfo, sampling: SamplingParams, bounds: tuple[SamplingBound, ...], when: str) -> None:
    for bound in bounds:
        value = getattr(sampling, bound.setting)
        if value is not None and not bound.min <= value <= bound.max:
            raise UnsupportedOptionError(
                f"{model.id} takes {bound.setting} from {bound.min} to {bound.max}{when}, not {value}"
            )


def _default_max_new_tokens(model: ModelInfo) -> int | None:
    """What the model's API sends when max_new_tokens is unset (Anthropic: a fixed default)."""
    adapter = APIS.get((model.provider, model.api))
    return getattr(adapter, "DEFAULT_MAX_NEW_TOKENS", None)


def _check_reasoning(model: ModelInfo, sampling: SamplingParams) -> None:
    """Checks the reasoning intent as the model gets it (see `_reasoning`)."""
    sampling, sent = for_model(model, sampling)
    effort, budget = sampling.reasoning_effort, sampling.thinking_budget
    reasoning = model.reasoning
    if reasoning is None:
        if effort not in (None, "none") or budget not in (None, 0):
            raise UnsupportedOptionError(f"{model.id} is not a reasoning model; drop reasoning_effort/thinking_budget")
        return
    asked = f" ({sent.mapped_from} as the registry maps it)" if sent is not None and sent.mapped_from else ""
    if (effort == "none" or budget == 0) and not reasoning.can_disable:
        raise UnsupportedOptionError(f"{model.id} cannot turn thinking off{asked}")
    if effort is not None and reasoning.values is not None and effort not in reasoning.values:
        raise UnsupportedOptionError(
            f"{model.id} accepts reasoning_effort in {', '.join(reasoning.values)}, not {effort!r}"
        )
    if budget:
        if reasoning.budget_min is not None and budget < reasoning.budget_min:
            raise UnsupportedOptionError(f"{model.id} needs thinking_budget >= {reasoning.budget_min}, got {budget}")
        if reasoning.budget_max is not None and budget > reasoning.budget_max:
            raise UnsupportedOptionError(f"{model.id} allows thinking_budget <= {reasoning.budget_max}, got {budget}")
        limit = sampling.max_new_tokens or _default_max_new_tokens(model) or model.max_output_tokens
        if limit is not None and limit <= budget:
            where = "max_new_tokens" if sampling.max_new_tokens else f"the default max_new_tokens of {model.id}"
            raise UnsupportedOptionError(
                f"{where} ({limit}) must exceed thinking_budget ({budget}){asked}: the budget is part of the output"
            )
    disabled = effort == "none" or budget == 0
    thinking = not disabled and (reasoning.default_on or effort is not None or bool(budget))
    if thinking:
        cause = (
            f"with reasoning_effort={effort!r}"
            if effort is not None
            else f"with thinking_budget={budget}"
            if budget
            else "by default"
        )
        for setting in reasoning.rejects:
            if is_set(getattr(sampling, setting, None)):
                raise UnsupportedOptionError(f"{model.id} rejects {setting} while it thinks, and it thinks {cause}")
        _check_bounds(model, sampling, reasoning.bounds, f" while it thinks (it thinks {cause})")
