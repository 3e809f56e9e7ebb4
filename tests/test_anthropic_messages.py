"""Anthropic Messages: payloads pinned by snapshots, content blocks and cache usage parsed."""

from __future__ import annotations

import json

import pytest
from syrupy.assertion import SnapshotAssertion

import cloudburst
from cloudburst import AnthropicOptions, Conversation, Document, Image, RequestOptions, SamplingParams
from cloudburst._sim import Simulator
from cloudburst.generated.anthropic.models import Message, MessageCreateParams
from tests.tools_fixtures import LookupOrder, get_current_weather

HAIKU = "claude-haiku-4-5"  # thinking by budget, off unless asked
OPUS = "claude-opus-5-5"  # adaptive thinking steered by effort, always on

PAYLOADS = {
    "plain_prompt": (HAIKU, "Name three primes.", SamplingParams(), None),
    "system_and_turns": (
        HAIKU,
        Conversation.system("Answer in French.").user("Hi").assistant("Bonjour !").user("How are you?"),
        SamplingParams(max_new_tokens=200, stop=["\n\n"]),
        None,
    ),
    "sampling": (HAIKU, "Name a colour.", SamplingParams(temperature=0.2, top_k=40), None),
    "thinking_budget": (HAIKU, "Prove it.", SamplingParams(thinking_budget=2048, max_new_tokens=8000), None),
    "thinking_off": (HAIKU, "Quick answer.", SamplingParams(thinking_budget=0), None),
    "effort": (OPUS, "Plan a trip.", SamplingParams(reasoning_effort="xhigh", max_new_tokens=32000), None),
    "images_and_pdf": (
        HAIKU,
        Conversation.user(
            [
                "Compare.",
                Image(url="https://example.com/a.png"),
                Image(data=b"\x89PNG", media_type="image/png"),
                Document(data=b"%PDF-1.4 tiny"),
                Document(data=b"Plain notes, as text.", media_type="text/plain", filename="notes.txt"),
                Document(file_id="file_011"),
            ]
        ),
        SamplingParams(),
        None,
    ),
    "tools_auto": (
        HAIKU,
        "Weather in Boston?",
        SamplingParams(),
        RequestOptions(tools=[get_current_weather, LookupOrder]),
    ),
    "tools_forced": (
        HAIKU,
        "Find order A-1",
        SamplingParams(),
        RequestOptions(tools=[LookupOrder], tool_choice="LookupOrder"),
    ),
    "tools_none": (
        HAIKU,
        "Just talk.",
        SamplingParams(),
        RequestOptions(tools=[get_current_weather], tool_choice="none"),
    ),
    "cache_system_and_tools": (
        HAIKU,
        Conversation.system("A long, stable system prompt.").user("Weather?"),
        SamplingParams(),
        RequestOptions(tools=[get_current_weather, LookupOrder], cache="system_and_tools", cache_ttl="1h"),
    ),
    "cache_last_2_user_messages": (
        HAIKU,
        Conversation.user("First question").assistant("First answer").user(["Second", "question"]),
        SamplingParams(),
        RequestOptions(cache="last_2_user_messages"),
    ),
    "provider_options": (
        HAIKU,
        "Hi",
        SamplingParams(),
        RequestOptions(
            provider=AnthropicOptions(
                metadata={"user_id": "u-42"},
                service_tier="standard_only",
                cache_control={"type": "ephemeral", "ttl": "1h"},
            )
        ),
    ),
}


@pytest.mark.parametrize("feature", PAYLOADS)
def test_anthropic_messages_payload(feature: str, snapshot: SnapshotAssertion) -> None:
    model, prompt, sampling, options = PAYLOADS[feature]
    request = cloudburst.render(model, prompt, sampling, options)
    assert request.headers["x-api-key"] == "<redacted>" and request.headers["anthropic-version"] == "2023-06-01"
    assert {"method": request.method, "url": request.url, "headers": request.headers, "body": request.body} == snapshot
    MessageCreateParams.model_validate(request.body)


def test_sampling_rules_are_the_models_own() -> None:
    """The SDK's MessageCreateParams lost temperature, top_p and top_k, but the wire takes them
    where the model does (200 from the real API for this request on claude-haiku-4-5)."""
    body = cloudburst.render(HAIKU, "hi", SamplingParams(temperature=0.2, top_k=40)).body
    assert (body["temperature"], body["top_k"]) == (0.2, 40)
    MessageCreateParams.model_validate(body)
    with pytest.raises(cloudburst.UnsupportedOptionError, match="claude-haiku-4-5 takes one of temperature and top_p"):
        cloudburst.render(HAIKU, "hi", SamplingParams(temperature=0.2, top_p=0.9))
    with pytest.raises(cloudburst.UnsupportedOptionError, match=r"takes temperature from 0(\.0)? to 1(\.0)?, not 1\.5"):
        cloudburst.render(HAIKU, "hi", SamplingParams(temperature=1.5))
    with pytest.raises(cloudburst.UnsupportedOptionError, match="claude-opus-5-5 refuses top_k on every request"):
        cloudburst.render(OPUS, "hi", SamplingParams(top_k=40))
    thinking = SamplingParams(thinking_budget=2048, max_new_tokens=8000)
    with pytest.raises(
        cloudburst.UnsupportedOptionError,
        match="rejects top_k while it thinks, and it thinks with thinking_budget=2048",
    ):
        cloudburst.render(HAIKU, "hi", thinking.model_copy(update={"top_k": 40}))
    with pytest.raises(cloudburst.UnsupportedOptionError, match=r"takes top_p from 0\.95 to 1(\.0)? while it thinks"):
        cloudburst.render(HAIKU, "hi", thinking.model_copy(update={"top_p": 0.5}))
    assert cloudburst.render(HAIKU, "hi", thinking.model_copy(update={"top_p": 0.97})).body["top_p"] == 0.97


def test_top_k_reaches_claude_on_bedrock_both_ways() -> None:
    sampling = SamplingParams(temperature=0.2, top_k=40)
    assert cloudburst.render("bedrock-claude-haiku-4-5", "hi", sampling).body["top_k"] == 40
    converse = cloudburst.render("bedrock-claude-haiku-4-5@converse", "hi", sampling).body
    assert converse["additionalModelRequestFields"] == {"top_k": 40}
    assert converse["inferenceConfig"]["temperature"] == 0.2


def test_sampling_settings_are_answered_by_the_simulator(sim_env: Simulator) -> None:
    client = cloudburst.LLMClient(HAIKU, sampling=SamplingParams(temperature=0.2, top_k=40), progress=None)
    (response,) = client.run(["Name a colour."])
    assert response.ok and response.completion


SONNET_46 = "claude-sonnet-4-6"  # adaptive thinking steered by effort, off unless asked; budgets still taken


def test_claude_4_6_takes_a_budget_and_thinks_adaptively_for_an_effort() -> None:
    budget = cloudburst.render(SONNET_46, "Prove it.", SamplingParams(thinking_budget=2048, max_new_tokens=8000)).body
    assert budget["thinking"] == {"type": "enabled", "budget_tokens": 2048} and "output_config" not in budget
    effort = cloudburst.render(SONNET_46, "Plan a trip.", SamplingParams(reasoning_effort="low")).body
    assert (effort["thinking"], effort["output_config"]) == ({"type": "adaptive"}, {"effort": "low"})
    off = cloudburst.render(SONNET_46, "Quick.", SamplingParams(reasoning_effort="low", thinking_budget=0)).body
    assert (off["thinking"], off["output_config"]) == ({"type": "disabled"}, {"effort": "low"})
    for body in (budget, effort, off):
        MessageCreateParams.model_validate(body)
    # thinking is off until asked for, so a temperature is taken; with an effort it thinks, and refuses it
    assert cloudburst.render(SONNET_46, "hi", SamplingParams(temperature=0.2)).body["temperature"] == 0.2
    with pytest.raises(
        cloudburst.UnsupportedOptionError,
        match="claude-sonnet-4-6 rejects temperature while it thinks, and it thinks with reasoning_effort='low'",
    ):
        cloudburst.render(SONNET_46, "hi", SamplingParams(reasoning_effort="low", temperature=0.2))


def test_an_effort_on_claude_4_6_brings_thinking_back(sim_env: Simulator) -> None:
    client = cloudburst.LLMClient(SONNET_46, sampling=SamplingParams(reasoning_effort="medium"), progress=None)
    (response,) = client.run(["Why do tides happen twice a day?"])
    assert response.ok and response.thinking and response.thoughts[0].signature
    assert response.reasoning == cloudburst.ReasoningSetting(reasoning_effort="medium")


def test_sampling_the_api_lacks_is_refused_before_sending() -> None:
    with pytest.raises(cloudburst.UnsupportedOptionError, match="does not support logprobs"):
        cloudburst.render(HAIKU, "hi", SamplingParams(logprobs=True))
    with pytest.raises(cloudburst.UnsupportedOptionError, match="claude-opus-5-5 cannot turn thinking off"):
        cloudburst.render(OPUS, "hi", SamplingParams(reasoning_effort="none"))
    with pytest.raises(
        cloudburst.UnsupportedOptionError,
        match=r"must exceed thinking_budget \(16384\) \(reasoning_effort='high' as the registry maps it\)",
    ):
        cloudburst.render(HAIKU, "hi", SamplingParams(reasoning_effort="high"))
    with pytest.raises(
        cloudburst.UnsupportedOptionError, match=r"max_new_tokens \(1500\) must exceed thinking_budget \(2048\)"
    ):
        cloudburst.render(HAIKU, "hi", SamplingParams(thinking_budget=2048, max_new_tokens=1500))
    with pytest.raises(
        cloudburst.UnsupportedOptionError,
        match=r"the default max_new_tokens of claude-haiku-4-5 \(4096\) must exceed thinking_budget \(8192\)",
    ):
        cloudburst.render(HAIKU, "hi", SamplingParams(thinking_budget=8192))
    assert cloudburst.render(HAIKU, "hi", SamplingParams(thinking_budget=2048)).body["max_tokens"] == 4096
    with pytest.raises(cloudburst.UnsupportedOptionError, match="OpenAIOptions applies to none of claude-haiku-4-5"):
        cloudburst.render(HAIKU, "hi", options=RequestOptions(provider=cloudburst.OpenAIOptions()))


THINKING_ANSWER = {
    "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
    "type": "message",
    "role": "assistant",
    "model": "claude-haiku-4-5-20251001",
    "content": [
        {"type": "thinking", "thinking": "Two is prime; so are 3 and 5.", "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3h"},
        {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"},
        {"type": "text", "text": "2, 3"},
        {"type": "text", "text": " and 5."},
    ],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 20,
        "cache_read_input_tokens": 3000,
        "cache_creation_input_tokens": 1000,
        "cache_creation": {"ephemeral_5m_input_tokens": 600, "ephemeral_1h_input_tokens": 400},
        "output_tokens": 150,
        "output_tokens_details": {"thinking_tokens": 120},
    },
}


def test_parse_separates_thinking_from_the_answer_and_joins_every_text_block() -> None:
    Message.model_validate(THINKING_ANSWER)
    response = cloudburst.parse(HAIKU, 200, {"request-id": "req_011"}, json.dumps(THINKING_ANSWER))
    assert response.completion == "2, 3 and 5."
    assert response.thinking == "Two is prime; so are 3 and 5."
    assert (response.finish_reason, response.raw_finish_reason) == ("stop", "end_turn")
    assert response.request_id == "req_011" and response.provider_model == "claude-haiku-4-5-20251001"
    assert response.usage == cloudburst.Usage(
        input_tokens=4020,
        output_tokens=150,
        reasoning_tokens=120,
        cache_read_tokens=3000,
        cache_write_tokens=1000,
        cache_write_1h_tokens=400,
    )
    prices = cloudburst.get_model(HAIKU).prices
    expected = (
        20 * prices.input
        + 3000 * prices.cached_input
        + 600 * prices.cache_write
        + 400 * prices.cache_write_1h
        + 150 * prices.output
    ) / 1e6
    assert response.cost == pytest.approx(expected, rel=1e-12)


def test_max_tokens_spent_thinking_is_length_not_an_empty_success() -> None:
    body = {**THINKING_ANSWER, "content": [THINKING_ANSWER["content"][0]], "stop_reason": "max_tokens"}
    response = cloudburst.parse(HAIKU, 200, {}, body)
    assert response.ok and response.completion == "" and response.finish_reason == "length"


def anthropic_error(type_: str, message: str) -> bytes:
    return json.dumps({"type": "error", "error": {"type": type_, "message": message}}).encode()


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (
            429,
            anthropic_error("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"),
            cloudburst.RateLimitedError,
        ),
        (529, anthropic_error("overloaded_error", "Overloaded"), cloudburst.OverloadedError),
        (
            400,
            anthropic_error("invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum"),
            cloudburst.ContextOverflowError,
        ),
        (
            413,
            anthropic_error("request_too_large", "Request exceeds the maximum allowed number of bytes"),
            cloudburst.InvalidRequestError,
        ),
        (401, anthropic_error("authentication_error", "invalid x-api-key"), cloudburst.AuthError),
        (402, anthropic_error("billing_error", "Your credit balance is too low"), cloudburst.QuotaExceededError),
        (500, anthropic_error("api_error", "Internal server error"), cloudburst.ServerError),
    ],
)
def test_anthropic_errors_are_typed(status: int, body: bytes, expected: type[cloudburst.ProviderError]) -> None:
    response = cloudburst.parse(HAIKU, status, {}, body)
    assert type(response.error) is expected and response.error.provider_type == json.loads(body)["error"]["type"]


def test_output_schema_goes_to_output_config_format(snapshot: SnapshotAssertion) -> None:
    from pydantic import BaseModel

    class Answer(BaseModel):
        primes: list[int]

    request = cloudburst.render(
        OPUS, "Three primes?", SamplingParams(output_schema=Answer, reasoning_effort="low", max_new_tokens=500)
    )
    assert request.body["output_config"] == snapshot
    MessageCreateParams.model_validate(request.body)


@pytest.mark.parametrize("feature", PAYLOADS)
def test_payload_conforms_to_the_official_anthropic_types(feature: str) -> None:
    from anthropic.types.message_create_params import MessageCreateParamsNonStreaming

    from tests.official_types import problems

    model, prompt, sampling, options = PAYLOADS[feature]
    body = cloudburst.render(model, prompt, sampling, options).body
    # the SDK's types lag the wire here: the API takes these on the version cloudburst sends
    wire_only = {key: body.pop(key) for key in ("temperature", "top_p", "top_k") if key in body}
    assert problems(body, MessageCreateParamsNonStreaming) == []
    assert all(isinstance(value, (int, float)) for value in wire_only.values())


def test_thinking_answer_parses_as_the_official_anthropic_message() -> None:
    from anthropic.types import Message as OfficialMessage

    OfficialMessage.model_validate(THINKING_ANSWER)


def test_parse_tool_use_blocks() -> None:
    body = {
        **THINKING_ANSWER,
        "content": [
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": "toolu_01A", "name": "get_current_weather", "input": {"location": "Boston, MA"}},
            {"type": "tool_use", "id": "toolu_01B", "name": "LookupOrder", "input": {"order_id": "A-1"}},
        ],
        "stop_reason": "tool_use",
    }
    Message.model_validate(body)
    response = cloudburst.parse(HAIKU, 200, {}, body)
    assert response.finish_reason == "tool_calls" and response.completion == "Let me look."
    assert [(c.id, c.name, c.arguments) for c in response.tool_calls] == [
        ("toolu_01A", "get_current_weather", {"location": "Boston, MA"}),
        ("toolu_01B", "LookupOrder", {"order_id": "A-1"}),
    ]
    assert response.tool_calls[0].raw_arguments == '{"location":"Boston, MA"}'


def test_the_answer_s_service_tier_is_read_and_priority_without_published_prices_bills_base() -> None:
    """Anthropic's Priority Tier is bought by commitment, with no per-token prices published:
    an answer served by it says so, and its cost is the base prices."""
    body = {**THINKING_ANSWER, "usage": {**THINKING_ANSWER["usage"], "service_tier": "priority"}}
    response = cloudburst.parse(HAIKU, 200, {}, body)
    assert response.service_tier == "priority"
    assert response.cost == pytest.approx(cloudburst.get_model(HAIKU).cost(response.usage), rel=1e-12)
