"""One reasoning intent for every model of a spray: a reasoning_effort or a thinking_budget,
said once, sent as each model's own control (an effort, a thinking level or a token budget).

The translation is data: the registry's `effort_budgets` table (specs/models.yaml) gives the
budget an effort stands for, and the model's accepted values the nearest effort it has.
"""

from __future__ import annotations

from typing import get_args

from cloudburst._models import ModelInfo, Reasoning
from cloudburst._sampling import ReasoningEffort, ReasoningSetting, SamplingParams
from cloudburst.generated.registry import EFFORT_BUDGETS

EFFORTS: tuple[ReasoningEffort, ...] = get_args(ReasoningEffort)
"""Every effort, least first."""


def for_model(model: ModelInfo, sampling: SamplingParams) -> tuple[SamplingParams, ReasoningSetting | None]:
    """`sampling` with its reasoning intent in the model's own control, and what that is (None
    when no reasoning was asked for or the model does not reason: the checks refuse that)."""
    effort, budget = sampling.reasoning_effort, sampling.thinking_budget
    reasoning = model.reasoning
    if reasoning is None or (effort is None and budget is None):
        return sampling, None
    takes_effort = reasoning.control != "budget"
    takes_budget = reasoning.control == "budget" or reasoning.takes_budget
    sent_effort = effort if takes_effort else None
    sent_budget = budget if takes_budget else None
    mapped_from = None
    if takes_budget and sent_budget is None and sent_effort is None and effort is not None:
        sent_budget, mapped_from = _budget_for(effort, reasoning), f"reasoning_effort={effort!r}"
    if takes_effort and sent_effort is None and sent_budget is None and budget is not None:
        sent_effort, mapped_from = _effort_for(budget, reasoning), f"thinking_budget={budget}"
    if sent_effort is not None:
        nearest = _nearest(sent_effort, reasoning)
        if nearest != sent_effort:
            sent_effort, mapped_from = nearest, mapped_from or f"reasoning_effort={sent_effort!r}"
    sent = ReasoningSetting(sent_effort, sent_budget, mapped_from)
    if (sent_effort, sent_budget) == (effort, budget):
        return sampling, sent
    return sampling.model_copy(update={"reasoning_effort": sent_effort, "thinking_budget": sent_budget}), sent


def _budget_for(effort: ReasoningEffort, reasoning: Reasoning) -> int:
    """The registry's budget for `effort`, within the model's bounds; "none" is 0 (off)."""
    if effort == "none":
        return 0
    budget = EFFORT_BUDGETS[effort]
    if reasoning.budget_max is not None:
        budget = min(budget, reasoning.budget_max)
    if reasoning.budget_min is not None:
        budget = max(budget, reasoning.budget_min)
    return budget


def _effort_for(budget: int, reasoning: Reasoning) -> ReasoningEffort:
    """The highest effort the model takes whose budget `budget` reaches, else its lowest; 0 is "none"."""
    if budget == 0:
        return "none"
    accepted = [e for e in EFFORTS[1:] if reasoning.values is None or e in reasoning.values]
    reached = [e for e in accepted if EFFORT_BUDGETS[e] <= budget]
    return reached[-1] if reached else (accepted or ["none"])[0]


def _nearest(effort: ReasoningEffort, reasoning: Reasoning) -> ReasoningEffort:
    """`effort`, or the model's accepted effort nearest to it (the lower one on a tie). "none"
    stays: thinking off is never turned into some thinking."""
    values = reasoning.values
    if values is None or effort in values or effort == "none":
        return effort
    rank = EFFORTS.index(effort)
    accepted = [e for e in EFFORTS[1:] if e in values]
    return min(accepted, key=lambda e: (abs(EFFORTS.index(e) - rank), EFFORTS.index(e))) if accepted else effort
