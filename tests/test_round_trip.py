"""A response's content appended to the conversation renders as a valid next turn:
tool call -> tool result -> answer, and signed thinking sent back, for each provider."""

from __future__ import annotations

from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion

import cloudburst
from cloudburst import Conversation, RequestOptions, SamplingParams, Thinking, ToolResult
from tests.conftest import RECORDED_OPENAI_CHAT
from tests.official_types import problems
from tests.test_anthropic_messages import THINKING_ANSWER
from tests.tools_fixtures import get_current_weather

RECORDED = RECORDED_OPENAI_CHAT
TOOLS = RequestOptions(tools=[get_current_weather])


def next_turn(model: str, answer: dict[str, Any], sampling: SamplingParams | None = None) -> dict[str, Any]:
    question = Conversation.user("What is the weather like in Boston today?")
    response = cloudburst.parse(model, 200, {}, answer)
    results = [ToolResult(call.id, get_current_weather(**(call.arguments or {}))) for call in response.tool_calls]
    conversation = question.add_message(response.message()).tool(results)
    return cloudburst.render(model, conversation, sampling, TOOLS).body


def test_openai_tool_call_then_result(snapshot: SnapshotAssertion) -> None:
    from openai.types.chat.completion_create_params import CompletionCreateParamsNonStreaming

    from cloudburst.generated.openai.models import CreateChatCompletionRequest

    body = next_turn("gpt-4o-mini", RECORDED["Functions"]["response"])
    assert body["messages"][1:] == snapshot
    assert body["messages"][2]["tool_call_id"] == body["messages"][1]["tool_calls"][0]["id"] == "call_abc123"
    assert problems(body, CompletionCreateParamsNonStreaming) == []
    CreateChatCompletionRequest.model_validate(body)


def test_anthropic_tool_use_with_signed_thinking_then_result(snapshot: SnapshotAssertion) -> None:
    from anthropic.types.message_create_params import MessageCreateParamsNonStreaming

    from cloudburst.generated.anthropic.models import MessageCreateParams

    answer = {
        **THINKING_ANSWER,
        "content": [
            {"type": "thinking", "thinking": "I should look it up.", "signature": "EqQBCgIYAhIM"},
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_01A", "name": "get_current_weather", "input": {"location": "Boston, MA"}},
        ],
        "stop_reason": "tool_use",
    }
    body = next_turn("claude-haiku-4-5", answer, SamplingParams(thinking_budget=2048, max_new_tokens=4096))
    assert body["messages"][1:] == snapshot
    assistant, results = body["messages"][1], body["messages"][2]
    assert assistant["content"][0] == {
        "type": "thinking",
        "thinking": "I should look it up.",
        "signature": "EqQBCgIYAhIM",
    }
    assert results["role"] == "user" and results["content"][0]["tool_use_id"] == "toolu_01A"
    assert problems(body, MessageCreateParamsNonStreaming) == []
    MessageCreateParams.model_validate(body)


def test_thinking_from_another_provider_is_left_out_where_the_api_has_no_place() -> None:
    conversation = Conversation.user("hi").assistant([Thinking("hmm", "sig"), "Hello!"]).user("Bye")
    body = cloudburst.render("gpt-4o-mini", conversation).body
    assert body["messages"][1] == {"role": "assistant", "content": "Hello!"}


def test_importers_give_the_same_payloads_back() -> None:
    openai_messages = [
        {"role": "developer", "content": "Be brief."},
        RECORDED["Functions"]["request"]["messages"][0],
        RECORDED["Functions"]["response"]["choices"][0]["message"],
        {"role": "tool", "tool_call_id": "call_abc123", "content": [{"type": "text", "text": "20 degrees"}]},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "And this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw=="}},
            ],
        },
    ]
    conversation = Conversation.from_openai(openai_messages)
    assert [m.role for m in conversation.messages] == ["system", "user", "assistant", "tool", "user"]
    body = cloudburst.render("gpt-4o-mini", conversation, options=TOOLS).body
    expected = [{"role": "system", "content": "Be brief."}, *openai_messages[1:]]
    expected[2] = {k: v for k, v in expected[2].items() if k == "role" or k == "tool_calls"}
    assert body["messages"] == expected

    anthropic_messages = [
        {"role": "user", "content": "What is the weather like in Boston today?"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "Look it up.", "signature": "sig"},
                {"type": "tool_use", "id": "toolu_1", "name": "get_current_weather", "input": {"location": "Boston"}},
            ],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "20 degrees"}]},
    ]
    conversation = Conversation.from_anthropic(anthropic_messages, system="Be brief.")
    assert [m.role for m in conversation.messages] == ["system", "user", "assistant", "tool"]
    body = cloudburst.render(
        "claude-haiku-4-5", conversation, SamplingParams(thinking_budget=1024, max_new_tokens=2048), TOOLS
    ).body
    assert body["system"] == [{"type": "text", "text": "Be brief."}]
    assert body["messages"] == anthropic_messages


def test_importers_name_what_they_cannot_read() -> None:
    import pytest

    with pytest.raises(ValueError, match=r"messages\[0\]\.role: unsupported role 'function'"):
        Conversation.from_openai([{"role": "function", "content": "x"}])
    with pytest.raises(
        cloudburst.InputError,
        match=r"messages\[0\]\.content\[0\]: Anthropic content block 'search_result' has no place",
    ):
        Conversation.from_anthropic([{"role": "user", "content": [{"type": "search_result"}]}])
    malformed: list[tuple[Any, str]] = [
        ([None], r"messages\[0\]: expected an object, got NoneType"),
        ([{"role": "tool"}], r"messages\[0\]: missing 'tool_call_id'"),
        ([{"role": "user", "content": ["hi"]}], r"messages\[0\]\.content\[0\]: expected an object, got str"),
        ([{"role": "user", "content": [{"type": "text", "text": None}]}], r"content\[0\]\.text: expected str"),
        (
            [{"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{oops"}}]}],
            r"messages\[0\]\.tool_calls\[0\]\.function\.arguments: the arguments are not JSON",
        ),
        (
            [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,%%"}}]}],
            r"image_url\.url: not valid base64",
        ),
    ]
    for messages, message in malformed:
        with pytest.raises(cloudburst.InputError, match=message):
            Conversation.from_openai(messages)


def test_importers_keep_everything_a_conversation_can_hold() -> None:
    png = "iVBORw=="
    anthropic_messages = [
        {"role": "user", "content": "Radar?"},
        {
            "role": "assistant",
            "content": [
                {"type": "redacted_thinking", "data": "EmwKAhgB"},
                {"type": "tool_use", "id": "toolu_1", "name": "radar", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "is_error": True,
                    "content": [
                        {"type": "text", "text": "Partial map:"},
                        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}},
                        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "log"}},
                    ],
                }
            ],
        },
    ]
    conversation = Conversation.from_anthropic(anthropic_messages)
    result = conversation.messages[-1].parts[0]
    assert isinstance(result, ToolResult) and result.is_error
    assert [type(part).__name__ for part in result.content] == ["Text", "Image", "Document"]
    thinking = conversation.messages[1].parts[0]
    assert isinstance(thinking, Thinking) and thinking.redacted == "EmwKAhgB"
    body = cloudburst.render("claude-haiku-4-5", conversation, options=TOOLS).body
    assert body["messages"] == anthropic_messages

    openai_messages = [
        {
            "role": "user",
            "content": [{"type": "image_url", "image_url": {"url": "https://x.test/a.png", "detail": "low"}}],
        }
    ]
    imported = Conversation.from_openai(openai_messages)
    assert cloudburst.render("gpt-4o-mini", imported).body["messages"] == openai_messages


def test_redacted_thinking_is_kept_and_sent_back_unchanged() -> None:
    from anthropic.types.message_create_params import MessageCreateParamsNonStreaming

    response = cloudburst.parse("claude-haiku-4-5", 200, {}, THINKING_ANSWER)
    assert response.thinking == "Two is prime; so are 3 and 5."  # the redacted block is not readable text
    body = cloudburst.render(
        "claude-haiku-4-5",
        Conversation.user("Primes?").add_message(response.message()).user("More?"),
        SamplingParams(thinking_budget=1024, max_new_tokens=2048),
    ).body
    assert body["messages"][1]["content"][:2] == [
        {"type": "thinking", "thinking": "Two is prime; so are 3 and 5.", "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3h"},
        {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"},
    ]
    assert problems(body, MessageCreateParamsNonStreaming) == []


def test_tool_results_carry_json_or_images_where_the_provider_takes_them() -> None:
    from anthropic.types.message_create_params import MessageCreateParamsNonStreaming
    from openai.types.responses.response_create_params import ResponseCreateParamsNonStreaming

    png = cloudburst.Image(data=b"\x89PNG", media_type="image/png")
    call = cloudburst.ToolCall("call_1", "get_current_weather", {"location": "Oslo"}, '{"location": "Oslo"}')
    asked = Conversation.user("Weather in Oslo?").add_message(cloudburst.Message("assistant", (call,)))

    as_json = asked.tool([ToolResult("call_1", {"celsius": -3, "sky": "clear"})])
    assert cloudburst.render("gpt-4o-mini", as_json, options=TOOLS).body["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": [{"type": "text", "text": '{"celsius":-3,"sky":"clear"}'}],
    }

    with_image = asked.tool([ToolResult("call_1", ["Radar map:", png])])
    with pytest.raises(cloudburst.UnsupportedContentError, match="OpenAI chat takes only text in a tool result"):
        cloudburst.render("gpt-4o-mini", with_image, options=TOOLS)

    anthropic = cloudburst.render("claude-haiku-4-5", with_image, options=TOOLS).body
    assert anthropic["messages"][-1]["content"][0]["content"] == [
        {"type": "text", "text": "Radar map:"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw=="}},
    ]
    assert problems(anthropic, MessageCreateParamsNonStreaming) == []

    responses = cloudburst.render("gpt-4o-mini@responses", with_image, options=TOOLS).body
    assert responses["input"][-1] == {
        "type": "function_call_output",
        "call_id": "call_1",
        "output": [
            {"type": "input_text", "text": "Radar map:"},
            {"type": "input_image", "image_url": "data:image/png;base64,iVBORw==", "detail": "auto"},
        ],
    }
    assert problems(responses, ResponseCreateParamsNonStreaming) == []


def test_an_image_data_url_is_sent_inline() -> None:
    image = cloudburst.Image(url="data:image/jpeg;base64,/9j/4AAQ")
    body = cloudburst.render("claude-haiku-4-5", Conversation.user(["What is this?", image])).body
    assert body["messages"][0]["content"][1]["source"] == {
        "type": "base64",
        "media_type": "image/jpeg",
        "data": "/9j/4AAQ",
    }
    with pytest.raises(ValueError, match="base64"):
        cloudburst.Image(url="data:image/png,rawbytes").wire()


def test_a_tool_result_of_several_texts_keeps_them_apart() -> None:
    """["Paris", "London"] is two values: separate parts where the API takes parts, else lines."""
    call = cloudburst.ToolCall("call_1", "get_current_weather", {"location": "Oslo"}, '{"location": "Oslo"}')
    asked = Conversation.user("Which cities?").add_message(cloudburst.Message("assistant", (call,)))
    answered = asked.tool([ToolResult("call_1", ["Paris", "London"])])
    anthropic = cloudburst.render("claude-haiku-4-5", answered, options=TOOLS).body
    assert anthropic["messages"][-1]["content"][0]["content"] == [
        {"type": "text", "text": "Paris"},
        {"type": "text", "text": "London"},
    ]
    openai = cloudburst.render("gpt-4o-mini", answered, options=TOOLS).body
    assert openai["messages"][-1]["content"] == [{"type": "text", "text": "Paris\nLondon"}]
    gemini = cloudburst.render("gemini-2.5-flash", answered, options=TOOLS).body
    assert gemini["contents"][-1]["parts"][0]["functionResponse"]["response"] == {"output": "Paris\nLondon"}
    assert ToolResult("call_1", ["only one"]).content == "only one"


def test_a_tool_error_is_flagged_where_the_api_has_a_flag() -> None:
    call = cloudburst.ToolCall("call_1", "get_current_weather", {"location": "Oslo"}, '{"location": "Oslo"}')
    asked = Conversation.user("Weather?").add_message(cloudburst.Message("assistant", (call,)))
    failed = asked.tool([ToolResult("call_1", "the weather service timed out", is_error=True)])
    anthropic = cloudburst.render("claude-haiku-4-5", failed, options=TOOLS).body
    assert anthropic["messages"][-1]["content"][0]["is_error"] is True
    converse = cloudburst.render("bedrock-claude-haiku-4-5@converse", failed, options=TOOLS).body
    assert converse["messages"][-1]["content"][0]["toolResult"]["status"] == "error"
    fine = cloudburst.render("claude-haiku-4-5", asked.tool([ToolResult("call_1", "3 C")]), options=TOOLS).body
    assert "is_error" not in fine["messages"][-1]["content"][0]
