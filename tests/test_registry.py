"""The model registry: lookup, custom models, capability checks, exact cost, dry-run estimates."""

from __future__ import annotations

import json

import pytest

import cloudburst
from cloudburst import (
    Conversation,
    Document,
    Image,
    Prices,
    PriceTier,
    Reasoning,
    SamplingParams,
    ServiceTierPrices,
    UnknownModelError,
    UnsupportedContentError,
    UnsupportedOptionError,
    Usage,
)
from tests.conftest import RECORDED_OPENAI_CHAT

RECORDED = list(RECORDED_OPENAI_CHAT.values())


def test_every_provider_has_models_and_aliases_resolve() -> None:
    providers = {model.provider for model in cloudburst.get_model.__globals__["REGISTRY"]}
    assert providers == {"openai", "anthropic", "gemini", "bedrock", "mistral", "cohere", "deepseek", "xai", "groq"}
    assert cloudburst.get_model("gpt-4o-mini-2024-07-18").id == "gpt-4o-mini"


def test_unknown_model_lists_the_closest_names() -> None:
    with pytest.raises(UnknownModelError) as caught:
        cloudburst.get_model("gpt-4o-mni")
    assert caught.value.suggestions[0] == "gpt-4o-mini"
    assert "closest known: gpt-4o-mini" in str(caught.value)
    with pytest.raises(UnknownModelError, match="unknown model 'claude-haiku-4-6'; closest known: claude-haiku-4-5"):
        cloudburst.render("claude-haiku-4-6", "hi")


def test_register_model_for_a_private_endpoint() -> None:
    model = cloudburst.register_model(
        "test-private-llama",
        provider="openai",
        name="meta-llama/Llama-3.3-70B-Instruct",
        context_window=131072,
        max_output_tokens=4096,
        base_url="http://127.0.0.1:8000/v1/",
        replace=True,
    )
    assert model.api == "chat"
    request = cloudburst.render("test-private-llama", "hi")
    assert request.url == "http://127.0.0.1:8000/v1/chat/completions"
    assert request.body["model"] == "meta-llama/Llama-3.3-70B-Instruct"
    with pytest.raises(cloudburst.ConfigurationError, match="already taken"):
        cloudburst.register_model("test-private-llama", provider="openai", context_window=1)
    with pytest.raises(cloudburst.ConfigurationError, match="unknown provider 'opneai'"):
        cloudburst.register_model("x", provider="opneai", context_window=1)


def priced(**prices: object) -> cloudburst.ModelInfo:
    return cloudburst.register_model(
        "test-priced",
        provider="openai",
        context_window=1_000_000,
        max_output_tokens=10_000,
        prices=Prices(**prices),
        replace=True,  # type: ignore[arg-type]
    )


def test_cost_bills_cache_reads_and_writes_at_their_own_prices() -> None:
    model = priced(input=3.0, cached_input=0.3, cache_write=3.75, cache_write_1h=6.0, output=15.0)
    usage = Usage(
        input_tokens=10_000,
        cache_read_tokens=6_000,
        cache_write_tokens=3_000,
        cache_write_1h_tokens=1_000,
        output_tokens=2_000,
        reasoning_tokens=1_500,
    )
    fresh = 10_000 - 6_000 - 3_000
    expected = (fresh * 3.0 + 6_000 * 0.3 + 2_000 * 3.75 + 1_000 * 6.0 + 2_000 * 15.0) / 1e6
    assert model.cost(usage) == pytest.approx(expected, rel=1e-12)
    assert model.cost(usage) == pytest.approx(0.0483, rel=1e-12)


def test_long_context_tier_moves_cache_writes_too() -> None:
    model = priced(
        input=3.0,
        cached_input=0.3,
        cache_write=3.75,
        cache_write_1h=6.0,
        output=15.0,
        tiers=(PriceTier(above=200_000, input=6.0, output=22.5, cached_input=0.6),),
    )
    usage = Usage(
        input_tokens=300_000,
        cache_read_tokens=100_000,
        cache_write_tokens=100_000,
        cache_write_1h_tokens=50_000,
        output_tokens=1_000,
    )
    expected = (100_000 * 6.0 + 100_000 * 0.6 + 50_000 * 7.5 + 50_000 * 12.0 + 1_000 * 22.5) / 1e6
    assert model.cost(usage) == pytest.approx(expected, rel=1e-12)


def test_cost_applies_the_batch_discount_and_long_context_tier() -> None:
    model = priced(
        input=2.0,
        cached_input=0.2,
        output=10.0,
        batch_discount=0.5,
        tiers=(PriceTier(above=200_000, input=4.0, output=15.0),),
    )
    short = Usage(input_tokens=200_000, output_tokens=1_000)
    long = Usage(input_tokens=200_001, cache_read_tokens=1, output_tokens=1_000)
    assert model.cost(short) == pytest.approx((200_000 * 2.0 + 1_000 * 10.0) / 1e6)
    # past the tier the whole request moves: cache prices scale with the input price (0.2 -> 0.4)
    assert model.cost(long) == pytest.approx((200_000 * 4.0 + 1 * 0.4 + 1_000 * 15.0) / 1e6)
    assert model.cost(short, batch=True) == pytest.approx(model.cost(short) / 2)


def test_a_service_tier_with_prices_of_its_own_bills_at_them() -> None:
    model = priced(
        input=2.5,
        cached_input=0.25,
        output=15.0,
        batch_discount=0.5,
        tiers=(PriceTier(above=272_000, input=5.0, output=22.5, cached_input=0.5),),
        service_tiers=(
            ServiceTierPrices("flex", input=1.25, output=7.5, cached_input=0.125),
            ServiceTierPrices("priority", input=5.0, output=30.0),
        ),
    )
    usage = Usage(input_tokens=10_000, cache_read_tokens=4_000, output_tokens=2_000)
    assert model.cost(usage, service_tier="flex") == pytest.approx((6_000 * 1.25 + 4_000 * 0.125 + 2_000 * 7.5) / 1e6)
    # a tier without its own cached price keeps the base ratio to input (0.25 -> 0.5)
    assert model.cost(usage, service_tier="priority") == pytest.approx((6_000 * 5.0 + 4_000 * 0.5 + 2_000 * 30.0) / 1e6)
    # tiers the registry has no prices for (OpenAI's default, Anthropic's standard) bill the base ones
    for tier in (None, "default", "standard", "scale"):
        assert model.cost(usage, service_tier=tier) == pytest.approx((6_000 * 2.5 + 4_000 * 0.25 + 2_000 * 15.0) / 1e6)
    # past the long-context threshold flex halves the long-context prices, as it halves the base ones
    long = Usage(input_tokens=300_000, cache_read_tokens=100_000, output_tokens=1_000)
    expected = (200_000 * 2.5 + 100_000 * 0.25 + 1_000 * 11.25) / 1e6
    assert model.cost(long, service_tier="flex") == pytest.approx(expected, rel=1e-12)


def test_a_batch_result_is_billed_at_batch_rates_whatever_tier_it_names() -> None:
    model = priced(
        input=2.5,
        output=15.0,
        batch_discount=0.5,
        service_tiers=(ServiceTierPrices("priority", input=5.0, output=30.0),),
    )
    usage = Usage(input_tokens=1_000, output_tokens=100)
    batch = (1_000 * 2.5 + 100 * 15.0) / 1e6 / 2
    assert model.cost(usage, batch=True, service_tier="priority") == pytest.approx(batch, rel=1e-12)
    assert model.cost(usage, batch=True, service_tier="batch") == pytest.approx(batch, rel=1e-12)


def test_the_registry_prices_openai_flex_and_priority() -> None:
    tiers = {t.tier: t for t in cloudburst.get_model("gpt-5.4").prices.service_tiers}
    assert (tiers["flex"].input, tiers["flex"].cached_input, tiers["flex"].output) == (1.25, 0.125, 7.5)
    assert (tiers["priority"].input, tiers["priority"].cached_input, tiers["priority"].output) == (5.0, 0.5, 30.0)
    (priority,) = cloudburst.get_model("gpt-4o-mini").prices.service_tiers  # no flex for gpt-4o-mini
    assert (priority.tier, priority.input, priority.cached_input, priority.output) == ("priority", 0.25, 0.125, 1.0)


@pytest.mark.parametrize("example", RECORDED, ids=[e["title"] for e in RECORDED])
def test_parse_gives_exact_cost_from_recorded_usage(example: dict) -> None:
    body = example["response"]
    response = cloudburst.parse(body["model"], 200, {}, json.dumps(body))
    usage = body["usage"]
    prices = cloudburst.get_model(body["model"]).prices
    cached = usage.get("prompt_tokens_details", {}).get("cached_tokens", 0)
    expected = (
        (usage["prompt_tokens"] - cached) * prices.input
        + cached * prices.cached_input
        + usage["completion_tokens"] * prices.output
    ) / 1e6
    assert response.cost == pytest.approx(expected, rel=1e-12)
    assert response.usage.input_tokens == usage["prompt_tokens"]


def _conversation(request: dict) -> Conversation:
    conversation = Conversation()
    for message in request["messages"]:
        role = "system" if message["role"] == "developer" else message["role"]
        content = message["content"]
        if isinstance(content, list):
            content = [Image(url=p["image_url"]["url"]) if p["type"] == "image_url" else p["text"] for p in content]
        conversation = conversation.add(role, content)
    return conversation


@pytest.mark.parametrize("example", [e for e in RECORDED if "tools" not in e["request"]], ids=lambda e: e["title"])
def test_dry_run_estimate_brackets_recorded_usage_and_cost(example: dict) -> None:
    body = example["response"]
    sampling = SamplingParams(max_new_tokens=300)
    estimate = cloudburst.estimate(body["model"], [_conversation(example["request"])], sampling)
    actual = cloudburst.parse(body["model"], 200, {}, body)
    assert estimate.input_tokens[0] <= actual.usage.input_tokens <= estimate.input_tokens[1]
    assert estimate.output_tokens[0] <= actual.usage.output_tokens <= estimate.output_tokens[1]
    assert estimate.cost[0] <= actual.cost <= estimate.cost[1]


def test_estimate_checks_every_prompt_before_anything_is_spent() -> None:
    with pytest.raises(UnsupportedOptionError, match=r"gpt-5\.4 does not support logprobs"):
        cloudburst.estimate("gpt-5.4", ["a", "b"], SamplingParams(logprobs=True))
    estimate = cloudburst.estimate(
        "gpt-4o-mini", (f"prompt {i}" for i in range(100)), SamplingParams(max_new_tokens=10)
    )
    assert estimate.prompts == 100 and estimate.output_tokens == (100, 1000)


def test_capabilities_are_checked_before_sending() -> None:
    with pytest.raises(UnsupportedOptionError, match="does not support logprobs"):
        cloudburst.render("gpt-5.4", "hi", SamplingParams(logprobs=True))
    cloudburst.register_model(
        "test-text-only", provider="openai", context_window=8192, max_output_tokens=1024, replace=True
    )
    with pytest.raises(UnsupportedContentError, match="test-text-only cannot take image input"):
        cloudburst.render("test-text-only", Conversation.user(["look", Image(url="https://example.com/a.png")]))
    with pytest.raises(UnsupportedContentError, match="cannot take document input"):
        cloudburst.render("test-text-only", Conversation.user(Document(data=b"%PDF-1.4")))
    with pytest.raises(UnsupportedOptionError, match="exceeds gpt-4o-mini's limit of 16384"):
        cloudburst.render("gpt-4o-mini", "hi", SamplingParams(max_new_tokens=20_000))


def test_reasoning_rules_come_from_the_registry() -> None:
    cloudburst.register_model(
        "test-thinker",
        provider="openai",
        context_window=100_000,
        max_output_tokens=50_000,
        replace=True,
        reasoning=Reasoning(
            control="effort", values=("none", "low", "high"), can_disable=True, rejects=("temperature",)
        ),
    )
    with pytest.raises(UnsupportedOptionError, match="test-thinker rejects temperature while it thinks"):
        cloudburst.render("test-thinker", "hi", SamplingParams(temperature=0.2))
    # an effort the model lacks goes as its nearest (the lower on a tie); a budget as an effort
    assert (
        cloudburst.render("test-thinker", "hi", SamplingParams(reasoning_effort="medium")).body["reasoning_effort"]
        == "low"
    )
    assert (
        cloudburst.render("test-thinker", "hi", SamplingParams(thinking_budget=20_000)).body["reasoning_effort"]
        == "high"
    )
    assert cloudburst.render("test-thinker", "hi", SamplingParams(thinking_budget=0)).body["reasoning_effort"] == "none"
    # with reasoning switched off the model takes a temperature again
    body = cloudburst.render("test-thinker", "hi", SamplingParams(temperature=0.2, reasoning_effort="none")).body
    assert body["temperature"] == 0.2 and body["reasoning_effort"] == "none"
    with pytest.raises(UnsupportedOptionError, match="gpt-4o-mini is not a reasoning model"):
        cloudburst.render("gpt-4o-mini", "hi", SamplingParams(reasoning_effort="high"))


def test_budget_models_check_the_budget_against_max_tokens() -> None:
    model = cloudburst.register_model(
        "test-budget",
        provider="openai",
        context_window=100_000,
        max_output_tokens=50_000,
        replace=True,
        reasoning=Reasoning(control="budget", budget_min=1024, can_disable=True, default_on=False),
    )
    from cloudburst._capabilities import check_request

    hi = Conversation.of("hi")
    check_request(model, hi, SamplingParams(temperature=1.0))  # thinking is off by default
    with pytest.raises(UnsupportedOptionError, match="needs thinking_budget >= 1024"):
        check_request(model, hi, SamplingParams(thinking_budget=100))
    with pytest.raises(UnsupportedOptionError, match=r"max_new_tokens \(2000\) must exceed thinking_budget \(4000\)"):
        check_request(model, hi, SamplingParams(thinking_budget=4000, max_new_tokens=2000))
