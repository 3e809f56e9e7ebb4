"""Amazon Bedrock: InvokeModel with Anthropic's body and the Converse API, checked against
botocore's bedrock-runtime service model and Anthropic's SDK types; SigV4 signing; errors
typed by `x-amzn-ErrorType`."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel
from syrupy.assertion import SnapshotAssertion

import cloudburst
from cloudburst import BedrockOptions, Conversation, Document, Image, RequestOptions, SamplingParams, ToolResult
from cloudburst._sim import Simulator
from cloudburst.generated.bedrock.models import ConverseRequest, ConverseResponse
from tests.official_types import problems
from tests.tools_fixtures import LookupOrder, get_current_weather

INVOKE = "bedrock-claude-haiku-4-5"
CONVERSE = "bedrock-claude-haiku-4-5@converse"
MODEL_ID = "us.anthropic.claude-haiku-4-5-20251001-v1:0"


class Weather(BaseModel):
    city: str
    celsius: float


FEATURES: dict[str, tuple[str | Conversation, SamplingParams, RequestOptions | None]] = {
    "system_and_turns": (
        Conversation.system("Answer in French.").user("Hi").assistant("Bonjour !").user("How are you?"),
        SamplingParams(max_new_tokens=256, stop=["\n\n"]),
        None,
    ),
    "images_and_pdfs": (
        Conversation.user(
            [
                "Compare.",
                Image(data=b"\x89PNG", media_type="image/png"),
                Document(data=b"%PDF-1.4", filename="Q3 report.pdf"),
            ]
        ),
        SamplingParams(),
        None,
    ),
    "thinking": ("Plan a trip.", SamplingParams(thinking_budget=2048, max_new_tokens=4096), None),
    "tools_forced": (
        "Find order A-1",
        SamplingParams(),
        RequestOptions(tools=[LookupOrder], tool_choice="LookupOrder"),
    ),
    "tools_required": (
        "Weather?",
        SamplingParams(),
        RequestOptions(tools=[get_current_weather], tool_choice="required"),
    ),
    "prompt_caching": (
        Conversation.system("You answer questions about the 2026 tax code.").user("What is the VAT rate?"),
        SamplingParams(),
        RequestOptions(tools=[get_current_weather], cache="system_and_tools"),
    ),
}


def check_converse(body: dict[str, Any]) -> None:
    """Against botocore's service model (unknown members rejected) and our generated model."""
    import botocore.session
    from botocore.validate import ParamValidator

    shape = botocore.session.get_session().get_service_model("bedrock-runtime").operation_model("Converse").input_shape
    report = ParamValidator().validate({"modelId": MODEL_ID, **body}, shape)
    assert not report.has_errors(), report.generate_report()
    ConverseRequest.model_validate(body)


def check_invoke(body: dict[str, Any]) -> None:
    """Anthropic's messages body, with Bedrock's version field instead of the model."""
    from anthropic.types.message_create_params import MessageCreateParamsNonStreaming

    assert body["anthropic_version"] == "bedrock-2023-05-31" and "model" not in body
    anthropic_body = {key: value for key, value in body.items() if key != "anthropic_version"}
    assert problems({**anthropic_body, "model": MODEL_ID}, MessageCreateParamsNonStreaming) == []


@pytest.mark.parametrize("feature", FEATURES)
def test_converse_payload(feature: str, snapshot: SnapshotAssertion) -> None:
    prompt, sampling, options = FEATURES[feature]
    request = cloudburst.render(CONVERSE, prompt, sampling, options)
    assert (
        request.url == f"https://bedrock-runtime.us-east-1.amazonaws.com/model/{MODEL_ID.replace(':', '%3A')}/converse"
    )
    assert request.body == snapshot
    check_converse(request.body)


@pytest.mark.parametrize("feature", FEATURES)
def test_invoke_payload(feature: str, snapshot: SnapshotAssertion) -> None:
    prompt, sampling, options = FEATURES[feature]
    request = cloudburst.render(INVOKE, prompt, sampling, options)
    assert request.url.endswith("/invoke")
    assert request.body == snapshot
    check_invoke(request.body)


def test_converse_structured_output_and_options(snapshot: SnapshotAssertion) -> None:
    from cloudburst._render import build_request

    # no Bedrock model in the registry lists structured output yet: one registered for the test
    model = cloudburst.ModelInfo(
        id="nova",
        provider="bedrock",
        api="converse",
        name="amazon.nova-pro-v1:0",
        context_window=300_000,
        prices=cloudburst.Prices(),
        capabilities=("structured_output",),
    )
    options = RequestOptions(provider=BedrockOptions(latency="optimized", service_tier="flex"))
    sampling = SamplingParams(output_schema=Weather)
    body = build_request(model, "Weather in Oslo?", sampling, options, url="", api_key=None).body
    assert body == snapshot
    check_converse(body)


def test_region_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert cloudburst.render(INVOKE, "Hi").url.startswith("https://bedrock-runtime.eu-west-1.amazonaws.com/model/")
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "http://127.0.0.1:9")
    assert cloudburst.render(INVOKE, "Hi").url.startswith("http://127.0.0.1:9/model/")


def test_what_converse_lacks_is_refused() -> None:
    with pytest.raises(cloudburst.UnsupportedOptionError, match="Amazon Bedrock converse has no tool_choice 'none'"):
        cloudburst.render(CONVERSE, "Hi", options=RequestOptions(tools=[LookupOrder], tool_choice="none"))
    with pytest.raises(cloudburst.UnsupportedContentError, match="cannot take a image url part"):
        cloudburst.render(CONVERSE, Conversation.user(["What?", Image(url="https://example.com/a.png")]))


def converse_answer(content: list[dict[str, Any]], stop: str = "end_turn", **usage: int) -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop,
        "usage": {"inputTokens": 30, "outputTokens": 12, "totalTokens": 42, **usage},
        "metrics": {"latencyMs": 812},
    }


def test_converse_answer_with_reasoning_and_cache() -> None:
    body = converse_answer(
        [
            {"reasoningContent": {"reasoningText": {"text": "Small primes.", "signature": "EqQBCg"}}},
            {"reasoningContent": {"redactedContent": "c2VjcmV0"}},
            {"text": "2, 3 and 5."},
        ],
        cacheReadInputTokens=1000,
    )
    ConverseResponse.model_validate(body)
    response = cloudburst.parse(CONVERSE, 200, {"x-amzn-RequestId": "a1b2"}, body)
    assert response.ok and response.completion == "2, 3 and 5." and response.thinking == "Small primes."
    assert [(t.signature, t.redacted) for t in response.thoughts] == [("EqQBCg", None), (None, "c2VjcmV0")]
    assert response.usage == cloudburst.Usage(input_tokens=1030, output_tokens=12, cache_read_tokens=1000)
    assert response.request_id == "a1b2" and response.finish_reason == "stop"


def test_converse_says_which_service_tier_served_it() -> None:
    body = {**converse_answer([{"text": "2, 3 and 5."}]), "serviceTier": {"type": "priority"}}
    ConverseResponse.model_validate(body)
    response = cloudburst.parse(CONVERSE, 200, {}, body)
    assert response.service_tier == "priority"  # no published Claude priority prices: billed at base
    assert response.cost == cloudburst.get_model(CONVERSE).cost(response.usage)


def test_converse_tool_use_then_result(snapshot: SnapshotAssertion) -> None:
    call = {
        "toolUse": {
            "toolUseId": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q",
            "name": "get_current_weather",
            "input": {"location": "Seattle"},
        }
    }
    body = converse_answer([{"text": "Let me check."}, call], "tool_use")
    ConverseResponse.model_validate(body)
    response = cloudburst.parse(CONVERSE, 200, {}, body)
    assert response.finish_reason == "tool_calls" and response.completion == "Let me check."
    (tool_call,) = response.tool_calls
    turn = Conversation.user("Weather in Seattle?").add_message(response.message())
    turn = turn.tool([ToolResult(tool_call.id, get_current_weather(**(tool_call.arguments or {})))])
    sent = cloudburst.render(CONVERSE, turn, options=RequestOptions(tools=[get_current_weather])).body
    assert sent["messages"][1:] == snapshot
    check_converse(sent)


def test_converse_cut_answer_is_length() -> None:
    response = cloudburst.parse(CONVERSE, 200, {}, converse_answer([{"text": "2, 3"}], "max_tokens"))
    assert (response.finish_reason, response.raw_finish_reason) == ("length", "max_tokens")


def test_invoke_answer_is_anthropics_message() -> None:
    body = {
        "id": "msg_bdrk_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-4-5-20251001",
        "content": [{"type": "text", "text": "Hello!"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 3},
    }
    response = cloudburst.parse(INVOKE, 200, {}, body)
    assert (response.completion, response.finish_reason, response.usage.output_tokens) == ("Hello!", "stop", 3)


@pytest.mark.parametrize(
    ("status", "error_type", "expected"),
    [
        (429, "ThrottlingException", cloudburst.RateLimitedError),
        (503, "ServiceUnavailableException", cloudburst.OverloadedError),
        (400, "ValidationException", cloudburst.InvalidRequestError),
        (403, "AccessDeniedException", cloudburst.PermissionDeniedError),
        (424, "ModelErrorException", cloudburst.ServerError),
    ],
)
def test_errors_are_typed_by_the_aws_error_header(
    status: int, error_type: str, expected: type[cloudburst.ProviderError]
) -> None:
    headers = {"x-amzn-ErrorType": f"{error_type}:http://internal.amazon.com/coral/com.amazon.bedrock/"}
    response = cloudburst.parse(CONVERSE, status, headers, {"message": "Too many requests, please wait."})
    assert type(response.error) is expected and response.error.provider_type == error_type


def test_a_prompt_too_long_is_context_overflow() -> None:
    headers = {"x-amzn-ErrorType": "ValidationException"}
    body = {"message": "Input is too long for requested model."}
    assert isinstance(cloudburst.parse(INVOKE, 400, headers, body).error, cloudburst.ContextOverflowError)


def test_sigv4_signs_each_request_with_the_credential_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    from cloudburst import _aws

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    _aws._credentials.cache_clear()
    request = cloudburst.render(CONVERSE, "Hi")
    headers = {k: v for k, v in request.headers.items() if k != "Authorization"}
    region = _aws.region_of(request.url)
    signed = _aws.sign(request.method, request.url, headers, request.content(), "bedrock", region)
    assert region == "us-east-1"
    assert signed["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/us-east-1/bedrock/aws4_request, SignedHeaders=" in signed["Authorization"]
    assert "X-Amz-Date" in signed and signed["content-type"] == "application/json"
    _aws._credentials.cache_clear()


def test_an_effort_turns_adaptive_thinking_on_through_converse() -> None:
    body = cloudburst.render("bedrock-claude-sonnet-5-5@converse", "Plan.", SamplingParams(reasoning_effort="low")).body
    assert body["outputConfig"] == {"effort": "low"}
    assert body["additionalModelRequestFields"] == {"thinking": {"type": "adaptive"}}


def test_converse_cache_points_are_blocks_of_their_own() -> None:
    """Converse caches up to a `cachePoint` block placed after a region's last block; a 1-hour
    lifetime goes as its ttl."""
    conversation = Conversation.user("Here is the contract: " + "clause. " * 400).assistant("Read.").user("Summarise.")
    options = RequestOptions(cache="last_2_user_messages", cache_ttl="1h")
    body = cloudburst.render(CONVERSE, conversation, options=options).body
    point = {"cachePoint": {"type": "default", "ttl": "1h"}}
    assert [message["content"][-1] for message in body["messages"]] == [point, {"text": "Read."}, point]
    check_converse(body)


def test_converse_cache_reads_and_writes_are_priced_as_such() -> None:
    body = converse_answer([{"text": "20%."}], cacheReadInputTokens=1800, cacheWriteInputTokens=0)
    response = cloudburst.parse(CONVERSE, 200, {}, body)
    assert (response.usage.input_tokens, response.usage.cache_read_tokens) == (1830, 1800)
    uncached = cloudburst.parse(CONVERSE, 200, {}, converse_answer([{"text": "20%."}], inputTokens=1830))
    assert 0 < response.cost < uncached.cost


def test_converse_tool_results_carry_images_and_documents(snapshot: SnapshotAssertion) -> None:
    chart = Image(data=b"\x89PNG\r\n", media_type="image/png")
    report = Document(data=b"%PDF-1.4 q3", filename="Q3 report.pdf")
    turn = (
        Conversation.user("Plot the sales, then summarise the report.")
        .assistant([cloudburst.ToolCall("tooluse_01", "plot_sales", {"quarter": "Q3"}, '{"quarter": "Q3"}')])
        .tool([ToolResult("tooluse_01", ["Here is the chart and the report.", chart, report])])
    )
    body = cloudburst.render(CONVERSE, turn, options=RequestOptions(tools=[get_current_weather])).body
    assert body["messages"][2] == snapshot
    check_converse(body)


def test_converse_text_documents_use_converses_format_names() -> None:
    documents = [
        Document(data=b"Line one.", media_type="text/plain", filename="notes.txt"),
        Document(data=b"# Title", media_type="text/markdown", filename="README.md"),
        Document(data=b"a,b\n1,2", media_type="text/csv", filename="table.csv"),
        Document(data=b"<p>Hi</p>", media_type="text/html", filename="page.html"),
    ]
    body = cloudburst.render(CONVERSE, Conversation.user(["Summarise these.", *documents])).body
    assert [block["document"]["format"] for block in body["messages"][0]["content"][1:]] == ["txt", "md", "csv", "html"]
    check_converse(body)


def test_converse_caching_and_media_tool_results_reach_the_simulator(sim_env: Simulator) -> None:
    turn = (
        Conversation.system("You are terse. " * 50)
        .user("Plot it.")
        .assistant([cloudburst.ToolCall("tooluse_01", "get_current_weather", {"location": "Oslo"}, "{}")])
        .tool([ToolResult("tooluse_01", ["Chart:", Image(data=b"\x89PNG", media_type="image/png")])])
    )
    options = RequestOptions(tools=[get_current_weather], cache="system_and_tools")
    client = cloudburst.LLMClient(CONVERSE, options=options, progress=None)
    (response,) = client.run([turn])
    assert response.ok and response.completion
