"""One reasoning intent for a whole spray (issue [11]): a reasoning_effort or a thinking_budget
goes to each model as its own control, by the registry's table, and the response says what went."""

from __future__ import annotations

import pytest

import cloudburst
from cloudburst import (
    AnthropicOptions,
    GeminiOptions,
    LLMClient,
    OpenAIOptions,
    Prompt,
    ReasoningSetting,
    RequestOptions,
    SamplingParams,
)
from cloudburst._sim import Simulator
from cloudburst.generated.registry import EFFORT_BUDGETS

SPRAY = ["gpt-5-mini", "claude-sonnet-4-5", "gemini-2.5-flash", "gemini-3.8-flash"]


def _reasoning_fields(model: str, sampling: SamplingParams) -> object:
    body = cloudburst.render(model, "Why is the sky blue?", sampling).body
    return (
        body.get("reasoning_effort"),
        body.get("thinking"),
        body.get("generationConfig", {}).get("thinkingConfig"),
    )


def test_one_effort_is_each_models_own_control() -> None:
    low = SamplingParams(reasoning_effort="low")
    assert _reasoning_fields("gpt-5-mini", low) == ("low", None, None)
    assert _reasoning_fields("claude-sonnet-4-5", low) == (None, {"type": "enabled", "budget_tokens": 2048}, None)
    assert _reasoning_fields("gemini-2.5-flash", low) == (None, None, {"thinkingBudget": 2048})
    assert _reasoning_fields("gemini-3.8-flash", low) == (None, None, {"thinkingLevel": "low"})
    # an effort Gemini 3 has no level for goes as its nearest level
    assert _reasoning_fields("gemini-3.8-flash", SamplingParams(reasoning_effort="xhigh"))[2] == {
        "thinkingLevel": "high"
    }


def test_one_budget_is_each_models_own_control() -> None:
    budget = SamplingParams(thinking_budget=2048, max_new_tokens=8000)
    assert _reasoning_fields("gpt-5-mini", budget) == ("low", None, None)
    assert _reasoning_fields("claude-sonnet-4-5", budget)[1] == {"type": "enabled", "budget_tokens": 2048}
    assert _reasoning_fields("gemini-2.5-flash", budget)[2] == {"thinkingBudget": 2048}
    assert _reasoning_fields("gemini-3.8-flash", budget)[2] == {"thinkingLevel": "low"}
    # the highest effort whose budget the given one reaches; below the least, the least
    big = SamplingParams(thinking_budget=EFFORT_BUDGETS["high"] + 1, max_new_tokens=30_000)
    assert _reasoning_fields("gpt-5-mini", big)[0] == "high"
    assert _reasoning_fields("gemini-3.8-flash", SamplingParams(thinking_budget=10))[2] == {"thinkingLevel": "low"}


def test_an_effort_is_kept_within_the_models_budget_bounds() -> None:
    # gemini-2.5-flash allows at most 24,576 thinking tokens; "max" stands for more
    body = cloudburst.render("gemini-2.5-flash", "hi", SamplingParams(reasoning_effort="max", max_new_tokens=60_000))
    assert body.body["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 24576}
    # "none" is thinking off where the model can turn it off, and refused where it cannot
    off = cloudburst.render("gemini-2.5-flash", "hi", SamplingParams(reasoning_effort="none")).body
    assert off["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 0}
    with pytest.raises(cloudburst.UnsupportedOptionError, match=r"gemini-3\.8-flash cannot turn thinking off"):
        cloudburst.render("gemini-3.8-flash", "hi", SamplingParams(thinking_budget=0))


def test_with_both_set_each_model_gets_its_own() -> None:
    both = SamplingParams(reasoning_effort="medium", thinking_budget=3000, max_new_tokens=8000)
    assert _reasoning_fields("gpt-5-mini", both)[0] == "medium"
    assert _reasoning_fields("claude-sonnet-4-5", both)[1] == {"type": "enabled", "budget_tokens": 3000}


def test_a_spray_with_one_effort_runs_and_says_what_each_model_got(sim_env: Simulator) -> None:
    client = LLMClient(SPRAY, sampling=SamplingParams(reasoning_effort="low"), progress=None, seed=3)
    results = client.run([f"Explain tides, take {i}." for i in range(24)])
    assert all(r.ok for r in results), [str(r.error) for r in results if not r.ok][:3]
    sent = {r.model: r.reasoning for r in results}
    assert sent == {
        "gpt-5-mini": ReasoningSetting(reasoning_effort="low"),
        "claude-sonnet-4-5": ReasoningSetting(thinking_budget=2048, mapped_from="reasoning_effort='low'"),
        "gemini-2.5-flash": ReasoningSetting(thinking_budget=2048, mapped_from="reasoning_effort='low'"),
        "gemini-3.8-flash": ReasoningSetting(reasoning_effort="low"),
    }


def test_a_spray_with_one_budget_runs(sim_env: Simulator) -> None:
    client = LLMClient(SPRAY, sampling=SamplingParams(thinking_budget=2048), progress=None, seed=4)
    results = client.run([f"Explain eclipses, take {i}." for i in range(24)])
    assert all(r.ok for r in results), [str(r.error) for r in results if not r.ok][:3]
    by_model = {r.model: r.reasoning for r in results}
    assert by_model["gpt-5-mini"] == ReasoningSetting(reasoning_effort="low", mapped_from="thinking_budget=2048")
    assert by_model["claude-sonnet-4-5"] == ReasoningSetting(thinking_budget=2048)


def test_provider_options_for_several_providers_each_go_to_their_own(sim_env: Simulator) -> None:
    options = RequestOptions(
        provider=[OpenAIOptions(service_tier="flex"), AnthropicOptions(service_tier="standard_only")]
    )
    gpt = cloudburst.render("gpt-5-mini", "hi", options=options).body
    claude = cloudburst.render("claude-sonnet-4-5", "hi", options=options).body
    assert gpt["service_tier"] == "flex" and claude["service_tier"] == "standard_only"
    # a gpt + claude spray with OpenAI's options alone: Claude's requests go without them
    client = LLMClient(
        ["gpt-5-mini", "claude-sonnet-4-5"],
        options=RequestOptions(provider=OpenAIOptions(service_tier="flex")),
        progress=None,
        seed=5,
    )
    results = client.run([f"Hello {i}" for i in range(12)])
    assert all(r.ok for r in results), [str(r.error) for r in results if not r.ok][:3]
    assert {r.model for r in results} == {"gpt-5-mini", "claude-sonnet-4-5"}
    # a Prompt may carry its own, for several providers too
    own = Prompt("Hi", options=RequestOptions(provider=[OpenAIOptions(), AnthropicOptions()]))
    assert client.run([own])[0].ok
    # and one for none of the job's models is that prompt's InputError, nothing sent
    stray = client.run([Prompt("Hi", options=RequestOptions(provider=GeminiOptions()))])[0]
    assert isinstance(stray.error, cloudburst.InputError) and "GeminiOptions applies to none" in str(stray.error)


def test_provider_options_that_apply_to_no_model_are_refused() -> None:
    with pytest.raises(
        cloudburst.UnsupportedOptionError, match="GeminiOptions applies to none of gpt-5-mini, claude-sonnet-4-5"
    ):
        LLMClient(
            ["gpt-5-mini", "claude-sonnet-4-5"],
            options=RequestOptions(provider=[OpenAIOptions(), GeminiOptions()]),
            progress=None,
            api_keys={"openai": "sk-test", "anthropic": "sk-ant-test"},
        )
    with pytest.raises(ValueError, match="name OpenAIOptions more than once"):
        RequestOptions(provider=[OpenAIOptions(), OpenAIOptions(service_tier="flex")])
