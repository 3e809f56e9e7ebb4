"""OpenAI Responses (`<model>@responses`): payloads pinned by snapshots and checked against
OpenAI's published schema and SDK types; answers parsed, including `incomplete` ones."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel
from syrupy.assertion import SnapshotAssertion

import cloudburst
from cloudburst import (
    Conversation,
    Document,
    Image,
    Message,
    OpenAIOptions,
    RequestOptions,
    SamplingParams,
    Simulator,
    Text,
    Thinking,
    ToolResult,
)
from cloudburst.generated.openai.models import CreateResponse, Response
from tests.official_types import problems
from tests.tools_fixtures import LookupOrder, get_current_weather

MODEL = "gpt-4o-mini@responses"
REASONING_MODEL = "gpt-5.4@responses"


class Weather(BaseModel):
    city: str
    celsius: float


PAYLOADS: dict[str, tuple[str, str | Conversation, SamplingParams, RequestOptions | None]] = {
    "plain_prompt": (MODEL, "Name three primes.", SamplingParams(), None),
    "system_and_turns": (
        MODEL,
        Conversation.system("Answer in French.").user("Hi").assistant("Bonjour !").user("How are you?"),
        SamplingParams(),
        None,
    ),
    "sampling": (MODEL, "Count to five.", SamplingParams(temperature=0.3, top_p=0.9, max_new_tokens=64), None),
    "logprobs": (MODEL, "Hello!", SamplingParams(logprobs=True, top_logprobs=2), None),
    "json_mode": (MODEL, "Give me a JSON object with a key 'ok'.", SamplingParams(json_mode=True), None),
    "output_schema": (MODEL, "Weather in Oslo?", SamplingParams(output_schema=Weather), None),
    "images": (
        MODEL,
        Conversation.user(
            ["What differs?", Image(url="https://example.com/a.png"), Image(data=b"\x89PNG", media_type="image/png")]
        ),
        SamplingParams(),
        None,
    ),
    "pdf": (
        MODEL,
        Conversation.user(
            ["Compare.", Document(data=b"%PDF-1.4 tiny", filename="a.pdf"), Document(file_id="file-abc123")]
        ),
        SamplingParams(),
        None,
    ),
    "reasoning_with_summary": (
        REASONING_MODEL,
        "Plan a trip.",
        SamplingParams(reasoning_effort="high", max_new_tokens=4000),
        RequestOptions(provider=OpenAIOptions(reasoning_summary="auto", verbosity="low", store=False)),
    ),
    "provider_options": (
        MODEL,
        "Hi",
        SamplingParams(),
        RequestOptions(
            provider=OpenAIOptions(service_tier="flex", metadata={"job": "nightly"}, prompt_cache_key="job-1")
        ),
    ),
    "tools_auto": (
        MODEL,
        "Weather in Boston?",
        SamplingParams(),
        RequestOptions(tools=[get_current_weather, LookupOrder]),
    ),
    "tools_forced": (
        MODEL,
        "Find order A-1",
        SamplingParams(),
        RequestOptions(
            tools=[LookupOrder], tool_choice="LookupOrder", provider=OpenAIOptions(parallel_tool_calls=False)
        ),
    ),
    "tools_required": (
        MODEL,
        "Do something.",
        SamplingParams(),
        RequestOptions(tools=[get_current_weather], tool_choice="required"),
    ),
}


@pytest.mark.parametrize("feature", PAYLOADS)
def test_openai_responses_payload(feature: str, snapshot: SnapshotAssertion) -> None:
    from openai.types.responses.response_create_params import ResponseCreateParamsNonStreaming

    model, prompt, sampling, options = PAYLOADS[feature]
    request = cloudburst.render(model, prompt, sampling, options)
    assert request.url == "https://api.openai.com/v1/responses"
    assert request.body == snapshot
    CreateResponse.model_validate(request.body)  # OpenAI's published schema, unknown fields rejected
    assert problems(request.body, ResponseCreateParamsNonStreaming) == []  # and the official SDK's types


def test_the_same_options_object_serves_both_openai_apis() -> None:
    options = RequestOptions(provider=OpenAIOptions(verbosity="low", service_tier="flex"))
    chat = cloudburst.render("gpt-5.4", "Hi", options=options).body
    responses = cloudburst.render("gpt-5.4@responses", "Hi", options=options).body
    assert (chat["verbosity"], chat["service_tier"]) == ("low", "flex")
    assert (responses["text"], responses["service_tier"]) == ({"verbosity": "low"}, "flex")


def test_what_the_responses_api_lacks_is_refused_before_sending() -> None:
    with pytest.raises(cloudburst.UnsupportedOptionError, match=r"OpenAI responses does not support .*\.stop"):
        cloudburst.render(MODEL, "Hi", SamplingParams(stop=["\n"]))
    with pytest.raises(cloudburst.UnsupportedOptionError, match=r"OpenAI responses does not support .*\.seed"):
        cloudburst.render(MODEL, "Hi", SamplingParams(seed=1))
    with pytest.raises(cloudburst.UnsupportedOptionError, match=r"OpenAI chat has no place for .*reasoning_summary"):
        cloudburst.render("gpt-5.4", "Hi", options=RequestOptions(provider=OpenAIOptions(reasoning_summary="auto")))


def test_an_api_the_provider_lacks_is_a_clear_error() -> None:
    with pytest.raises(cloudburst.ConfigurationError, match="openai has no 'messages' API for gpt-4o-mini"):
        cloudburst.render("gpt-4o-mini@messages", "Hi")
    assert cloudburst.get_model(MODEL).api == "responses"
    from cloudburst._registry import REGISTRY

    assert all("@" not in model.id for model in REGISTRY)  # variants are not listed


def usage(input_tokens: int = 20, output_tokens: int = 10, reasoning: int = 0, cached: int = 0) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": input_tokens + output_tokens,
    }


def response(output: list[dict[str, Any]], status: str = "completed", **fields: Any) -> dict[str, Any]:
    """A Responses answer as OpenAI sends it (every field the SDK's Response model requires)."""
    return {
        "id": "resp_67ccd2bed1ec8190b14f964abc054267",
        "object": "response",
        "created_at": 1741476542,
        "status": status,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "max_output_tokens": None,
        "model": "gpt-5.4-2026-03-05",
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "store": True,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": usage(),
        "user": None,
        "metadata": {},
        **fields,
    }


def message(*content: dict[str, Any]) -> dict[str, Any]:
    return {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant", "content": list(content)}


def output_text(text: str, logprobs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": logprobs or []}


def reasoning(*summaries: str) -> dict[str, Any]:
    return {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": s} for s in summaries]}


FUNCTION_CALL = {
    "type": "function_call",
    "id": "fc_12345xyz",
    "call_id": "call_12345xyz",
    "name": "get_current_weather",
    "arguments": '{"location":"Boston, MA"}',
    "status": "completed",
}


def check_official(body: dict[str, Any]) -> None:
    from openai.types.responses import Response as OfficialResponse

    OfficialResponse.model_validate(body)
    Response.model_validate(body)


def test_text_answer_with_reasoning_summary_and_cached_tokens() -> None:
    body = response(
        [reasoning("Thinking about primes.", " Picking small ones."), message(output_text("2, 3 and 5."))],
        usage=usage(1200, 300, reasoning=256, cached=1024),
    )
    check_official(body)
    answer = cloudburst.parse(REASONING_MODEL, 200, {"x-request-id": "req_9"}, body)
    assert answer.ok and answer.completion == "2, 3 and 5."
    assert answer.thinking == "Thinking about primes. Picking small ones."
    (thought,) = answer.thoughts  # one reasoning item, one Thinking, kept whole to send back
    assert (thought.id, thought.signature) == ("rs_1", None)
    assert (answer.finish_reason, answer.raw_finish_reason) == ("stop", "completed")
    assert answer.usage == cloudburst.Usage(
        input_tokens=1200, output_tokens=300, reasoning_tokens=256, cache_read_tokens=1024
    )
    assert answer.request_id == "req_9" and answer.provider_model == "gpt-5.4-2026-03-05"
    info = cloudburst.get_model("gpt-5.4")
    assert answer.cost == pytest.approx(info.cost(answer.usage)) and answer.cost > 0


def test_every_text_part_of_every_message_is_the_completion() -> None:
    body = response([message(output_text("Part one. ")), message(output_text("Part two."))])
    check_official(body)
    assert cloudburst.parse(MODEL, 200, {}, body).completion == "Part one. Part two."


def test_function_call_answer_is_a_tool_call_finish() -> None:
    body = response([reasoning(), FUNCTION_CALL])
    check_official(body)
    answer = cloudburst.parse(MODEL, 200, {}, body)
    assert answer.finish_reason == "tool_calls" and answer.raw_finish_reason == "completed"
    (call,) = answer.tool_calls
    assert (call.id, call.name, call.arguments) == ("call_12345xyz", "get_current_weather", {"location": "Boston, MA"})


def test_incomplete_at_the_token_limit_is_length_even_with_no_text() -> None:
    body = response(
        [reasoning()],
        status="incomplete",
        incomplete_details={"reason": "max_output_tokens"},
        usage=usage(30, 500, reasoning=500),
    )
    check_official(body)
    answer = cloudburst.parse(REASONING_MODEL, 200, {}, body)
    assert (answer.finish_reason, answer.raw_finish_reason) == ("length", "max_output_tokens")
    assert answer.ok and answer.completion == "" and answer.usage.reasoning_tokens == 500


def test_incomplete_by_the_content_filter() -> None:
    body = response(
        [message(output_text("Here is"))], status="incomplete", incomplete_details={"reason": "content_filter"}
    )
    check_official(body)
    assert cloudburst.parse(MODEL, 200, {}, body).finish_reason == "content_filter"


def test_refusal() -> None:
    body = response([message({"type": "refusal", "refusal": "I can't help with that."})])
    check_official(body)
    answer = cloudburst.parse(MODEL, 200, {}, body)
    assert answer.finish_reason == "refusal" and answer.refusal == "I can't help with that."
    assert answer.completion == ""


def test_logprobs_with_top_alternatives() -> None:
    def token(text: str, logprob: float, *top: tuple[str, float]) -> dict[str, Any]:
        alternatives = [{"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in top]
        return {"token": text, "logprob": logprob, "bytes": list(text.encode()), "top_logprobs": alternatives}

    tokens = [token("Hello", -0.3, ("Hello", -0.3), ("Hi", -1.3)), token("!", -0.01, ("!", -0.01), (".", -4.6))]
    body = response([message(output_text("Hello!", tokens))])
    check_official(body)
    answer = cloudburst.parse(MODEL, 200, {}, body)
    assert answer.logprobs is not None and "".join(t.token for t in answer.logprobs) == answer.completion
    assert [(t.token, t.logprob) for t in answer.logprobs[0].top] == [("Hello", -0.3), ("Hi", -1.3)]


def test_structured_output_is_parsed() -> None:
    body = response([message(output_text('{"city": "Oslo", "celsius": -3.5}'))])
    answer = cloudburst.parse(MODEL, 200, {}, body, output_schema=Weather)
    assert answer.parsed == Weather(city="Oslo", celsius=-3.5)


def test_errors_are_classified_as_for_chat() -> None:
    body = {
        "error": {"message": "Rate limit reached", "type": "requests", "param": None, "code": "rate_limit_exceeded"}
    }
    answer = cloudburst.parse(MODEL, 429, {"retry-after": "2"}, body)
    assert isinstance(answer.error, cloudburst.RateLimitedError) and answer.error.retryable
    assert answer.error.retry_after == 2.0  # the wait the provider asked for, read when classified


def test_tool_call_then_result_then_answer(snapshot: SnapshotAssertion) -> None:
    """The answer's function call and our output become entries of `input`, in order."""
    from openai.types.responses.response_create_params import ResponseCreateParamsNonStreaming

    tools = RequestOptions(tools=[get_current_weather])
    question = Conversation.system("Be brief.").user("What is the weather like in Boston today?")
    answer = cloudburst.parse(MODEL, 200, {}, response([message(output_text("Checking.")), FUNCTION_CALL]))
    results = [ToolResult(call.id, get_current_weather(**(call.arguments or {}))) for call in answer.tool_calls]
    body = cloudburst.render(MODEL, question.add_message(answer.message()).tool(results), options=tools).body
    assert body["input"] == snapshot
    assert [entry.get("type", entry.get("role")) for entry in body["input"]] == [
        "system",
        "user",
        "assistant",
        "function_call",
        "function_call_output",
    ]
    assert body["input"][3]["call_id"] == body["input"][4]["call_id"] == "call_12345xyz"
    CreateResponse.model_validate(body)
    assert problems(body, ResponseCreateParamsNonStreaming) == []


def test_an_assistant_turn_in_parts_is_sent_as_output_text() -> None:
    """OpenAI takes earlier answers back only as `output_text` (input_text is rejected for the
    assistant role), although its published schema lists input parts alone for easy messages."""
    turn = Conversation.user("Hi").add_message(Message("assistant", (Text("Hello. "), Text("How can I help?"))))
    body = cloudburst.render(MODEL, turn).body
    assert body["input"][1] == {
        "role": "assistant",
        "content": [
            {"type": "output_text", "text": "Hello. ", "annotations": []},
            {"type": "output_text", "text": "How can I help?", "annotations": []},
        ],
    }


STATELESS = RequestOptions(provider=OpenAIOptions(store=False, reasoning_summary="auto"))


def test_stateless_reasoning_asks_for_encrypted_content_beside_logprobs() -> None:
    """With store=False nothing stays on OpenAI's side to send reasoning back by id, so a model
    that reasons is asked for its encrypted content; other `include` entries stay."""
    unstored = RequestOptions(provider=OpenAIOptions(store=False))
    cloudburst.register_model(
        "test-reasoning-logprobs",
        provider="openai",
        api="responses",
        context_window=128_000,
        max_output_tokens=8_000,
        capabilities=["logprobs"],
        reasoning=cloudburst.Reasoning(control="effort"),
        replace=True,
    )
    body = cloudburst.render("test-reasoning-logprobs", "Hi", SamplingParams(logprobs=True), unstored).body
    assert body["include"] == ["message.output_text.logprobs", "reasoning.encrypted_content"]
    assert cloudburst.render(REASONING_MODEL, "Hi", options=unstored).body["include"] == ["reasoning.encrypted_content"]
    assert "include" not in cloudburst.render(REASONING_MODEL, "Hi").body  # stored: sent back by id
    stored = RequestOptions(provider=OpenAIOptions(store=True))
    assert "include" not in cloudburst.render(REASONING_MODEL, "Hi", options=stored).body
    # a model that does not reason refuses the ask ("Encrypted content is not supported with this model")
    assert cloudburst.render(MODEL, "Hi", SamplingParams(logprobs=True), unstored).body["include"] == [
        "message.output_text.logprobs"
    ]


def test_encrypted_reasoning_goes_back_as_an_input_item(snapshot: SnapshotAssertion) -> None:
    from openai.types.responses.response_create_params import ResponseCreateParamsNonStreaming

    sealed = {**reasoning("Primes first."), "encrypted_content": "gAAAAABpQ2x1b3VkYnVyc3Q="}
    answer = cloudburst.parse(REASONING_MODEL, 200, {}, response([sealed, message(output_text("2, 3 and 5."))]))
    assert answer.thoughts == [Thinking("Primes first.", "gAAAAABpQ2x1b3VkYnVyc3Q=", id="rs_1")]
    followed = Conversation.user("Name three primes.").add_message(answer.message()).user("And two more?")
    body = cloudburst.render(REASONING_MODEL, followed, options=STATELESS).body
    assert body["input"] == snapshot
    assert body["input"][1] == {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": "Primes first."}],
        "encrypted_content": "gAAAAABpQ2x1b3VkYnVyc3Q=",
    }
    CreateResponse.model_validate(body)
    assert problems(body, ResponseCreateParamsNonStreaming) == []


def test_thinking_from_another_api_is_left_out() -> None:
    """Anthropic's signed thinking (no reasoning item id) would fail OpenAI's verification."""
    claude = Message("assistant", (Thinking("Hmm.", "EqQBCgIYAhIM"), Thinking("", redacted="EmwK"), Text("Hi.")))
    body = cloudburst.render(REASONING_MODEL, Conversation.user("Hi").add_message(claude).user("Go on.")).body
    assert [entry.get("type", entry.get("role")) for entry in body["input"]] == ["user", "assistant", "user"]


def test_two_turns_reason_on_statelessly_against_the_simulator(sim_env: Simulator) -> None:
    client = cloudburst.LLMClient(
        REASONING_MODEL, sampling=SamplingParams(reasoning_effort="low"), options=STATELESS, progress=None
    )
    question = Conversation.user("Name three primes.")
    (first,) = client.run([question])
    assert first.ok and first.thinking
    (thought,) = first.thoughts
    assert thought.id and thought.id.startswith("rs_") and thought.signature and thought.signature.startswith("gAAAAA")
    (second,) = client.run([question.add_message(first.message()).user("And two more?")])
    assert second.ok and second.completion and second.thoughts[0].id != thought.id


def test_reasoning_before_a_tool_call_goes_back_with_the_call_and_its_output(sim_env: Simulator) -> None:
    """The case stateless reasoning is for: the model reasons, calls a tool, and reasons on
    from where it was once the tool's output is back."""
    tools = RequestOptions(tools=[get_current_weather], tool_choice="required", provider=OpenAIOptions(store=False))
    client = cloudburst.LLMClient(
        REASONING_MODEL, sampling=SamplingParams(reasoning_effort="low"), options=tools, progress=None
    )
    question = Conversation.user("What is the weather like in Boston today?")
    (called,) = client.run([question])
    assert called.ok and called.finish_reason == "tool_calls" and called.thoughts[0].signature
    results = [ToolResult(call.id, get_current_weather(**(call.arguments or {}))) for call in called.tool_calls]
    followed = question.add_message(called.message()).tool(results)
    sent = cloudburst.render(REASONING_MODEL, followed, options=tools).body["input"]
    assert [entry.get("type", entry.get("role")) for entry in sent] == [
        "user",
        "reasoning",
        "function_call",
        "function_call_output",
    ]
    answer_client = cloudburst.LLMClient(
        REASONING_MODEL,
        sampling=SamplingParams(reasoning_effort="low"),
        options=RequestOptions(tools=[get_current_weather], provider=OpenAIOptions(store=False)),
        progress=None,
    )
    (answered,) = answer_client.run([followed])
    assert answered.ok and answered.completion


def test_the_simulator_refuses_reasoning_it_did_not_issue(sim_env: Simulator) -> None:
    """As OpenAI does: encrypted content it cannot verify is a 400, an id alone without storing a 404."""
    client = cloudburst.LLMClient(REASONING_MODEL, options=STATELESS, progress=None)
    forged = Message("assistant", (Thinking("", "gAAAAABforged==", id="rs_0"), Text("2, 3 and 5.")))
    unsealed = Message("assistant", (Thinking("", id="rs_0"), Text("2, 3 and 5.")))
    turns = [Conversation.user("Name three primes.").add_message(m).user("More?") for m in (forged, unsealed)]
    bad, missing = client.run(turns)
    assert isinstance(bad.error, cloudburst.InvalidRequestError) and bad.status == 400
    assert "gAAA...ed== could not be verified" in str(bad.error)
    assert missing.status == 404 and "Items are not persisted when `store` is set to false" in str(missing.error)
