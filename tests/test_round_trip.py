"""A response's content appended to the conversation renders as a valid next turn:
tool call -> tool result -> answer, and signed thinking sent back, for each provider."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from syrupy.assertion import SnapshotAssertion

import cloudburst
from cloudburst import Conversation, RequestOptions, SamplingParams, Thinking, ToolResult
from tests.official_types import problems
from tests.test_anthropic_messages import THINKING_ANSWER
from tests.tools_fixtures import get_current_weather

RECORDED = {
    e["title"]: e
    for e in json.loads((Path(__file__).parent / "fixtures" / "openai_chat_recorded.json").read_text())["examples"]
}
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
