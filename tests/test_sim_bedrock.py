"""Amazon Bedrock as the simulator plays it: botocore's bedrock-runtime client completes Converse
and InvokeModel calls against it (SigV4 signed, the signature checked when the secret is set),
answers validate against the service's shapes, and throttling, faults and errors come as
Bedrock sends them (`x-amzn-ErrorType`), which cloudburst classifies right."""

from __future__ import annotations

import json
from typing import Any

import botocore.session
import httpx
import pytest
from anthropic.types import Message
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError

import cloudburst
from cloudburst import (
    AuthError,
    InvalidRequestError,
    OverloadedError,
    RateLimitedError,
    ServerError,
    Simulator,
)
from cloudburst._tokens import count_text
from cloudburst.generated.bedrock.models import ConverseResponse

MODEL_ID = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
CONVERSE = "bedrock-claude-haiku-4-5@converse"
INVOKE = "bedrock-claude-haiku-4-5"
HTTP = httpx.Client()
BEARER = {"Authorization": "Bearer ABSK-test"}
WEATHER = {
    "toolSpec": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "inputSchema": {
            "json": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1, "maximum": 3}},
                "required": ["city", "days"],
            }
        },
    }
}
HELLO = [{"role": "user", "content": [{"text": "Hello there"}]}]


def client_for(sim: Simulator, secret: str = "sim-secret", region: str = "us-east-1") -> BaseClient:
    return botocore.session.get_session().create_client(
        "bedrock-runtime",
        endpoint_url=sim.url,
        region_name=region,
        aws_access_key_id="AKIDSIMULATOR",
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}),
    )


def post(sim: Simulator, api: str, body: dict[str, Any], headers: dict[str, str] = BEARER) -> httpx.Response:
    return HTTP.post(f"{sim.url}/model/{MODEL_ID}/{api}", json=body, headers=headers)


def converse(sim: Simulator, **body: Any) -> dict[str, Any]:
    """A 200 Converse answer's body, checked against the service's response shape."""
    response = post(sim, "converse", {"messages": HELLO, **body})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    ConverseResponse.model_validate(data)
    return data


def test_botocore_converse_completes_and_counts_tokens(sim: Simulator) -> None:
    response = client_for(sim).converse(
        modelId=MODEL_ID,
        system=[{"text": "Be brief."}],
        messages=[{"role": "user", "content": [{"text": "Name three primes."}]}],
        inferenceConfig={"maxTokens": 300},
    )
    (block,) = response["output"]["message"]["content"]
    assert response["stopReason"] == "end_turn" and block["text"].endswith(".")
    usage = response["usage"]
    assert usage["outputTokens"] == count_text(block["text"])
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]
    assert response["metrics"]["latencyMs"] > 0 and response["ResponseMetadata"]["RequestId"]


def test_env_points_bedrock_at_the_root(sim: Simulator) -> None:
    env = sim.env()
    assert env["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] == sim.url and env["AWS_BEARER_TOKEN_BEDROCK"]


def test_cut_by_max_tokens_and_stop_sequences(sim: Simulator) -> None:
    cut = converse(sim, inferenceConfig={"maxTokens": 3})
    full = converse(sim, inferenceConfig={"maxTokens": 1000})
    assert cut["stopReason"] == "max_tokens" and cut["usage"]["outputTokens"] == 3
    text = full["output"]["message"]["content"][0]["text"]
    assert text.startswith(cut["output"]["message"]["content"][0]["text"])
    assert cloudburst.parse(CONVERSE, 200, {}, cut).finish_reason == "length"
    word = " " + text.split(" ")[2]
    stopped = converse(sim, inferenceConfig={"maxTokens": 1000, "stopSequences": [word]})
    assert stopped["stopReason"] == "stop_sequence" and word not in stopped["output"]["message"]["content"][0]["text"]


def test_thinking_comes_first_as_signed_reasoning_content(sim: Simulator) -> None:
    data = converse(
        sim,
        inferenceConfig={"maxTokens": 2000},
        additionalModelRequestFields={"thinking": {"type": "enabled", "budget_tokens": 1024}},
    )
    reasoning, text = data["output"]["message"]["content"]
    assert reasoning["reasoningContent"]["reasoningText"]["signature"] and "text" in text
    parsed = cloudburst.parse(CONVERSE, 200, {}, data)
    assert parsed.completion == text["text"]
    assert parsed.thoughts[0].thinking == reasoning["reasoningContent"]["reasoningText"]["text"]


def test_tool_use_when_the_prompt_names_a_tool(sim: Simulator) -> None:
    client = client_for(sim)
    asked = [{"role": "user", "content": [{"text": "Use get_weather for Rome."}]}]
    response = client.converse(modelId=MODEL_ID, messages=asked, toolConfig={"tools": [WEATHER]})
    assert response["stopReason"] == "tool_use"
    use = response["output"]["message"]["content"][0]["toolUse"]
    assert use["name"] == "get_weather" and set(use["input"]) == {"city", "days"} and 1 <= use["input"]["days"] <= 3
    answered = [
        *asked,
        {"role": "assistant", "content": [{"toolUse": use}]},
        {"role": "user", "content": [{"toolResult": {"toolUseId": use["toolUseId"], "content": [{"text": "sunny"}]}}]},
    ]
    follow = client.converse(modelId=MODEL_ID, messages=answered, toolConfig={"tools": [WEATHER]})
    assert follow["stopReason"] == "end_turn"
    forced = converse(sim, toolConfig={"tools": [WEATHER], "toolChoice": {"any": {}}})
    assert forced["stopReason"] == "tool_use"
    parsed = cloudburst.parse(CONVERSE, 200, {}, forced)
    assert parsed.finish_reason == "tool_calls" and parsed.tool_calls[0].name == "get_weather"


def test_structured_output_matches_the_schema(sim: Simulator) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    text_format = {"type": "json_schema", "structure": {"jsonSchema": {"schema": json.dumps(schema), "name": "n"}}}
    data = converse(sim, outputConfig={"textFormat": text_format})
    assert isinstance(json.loads(data["output"]["message"]["content"][0]["text"])["n"], int)


def test_invoke_model_answers_an_anthropic_message(sim: Simulator) -> None:
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "Hi"}],
    }
    response = client_for(sim).invoke_model(modelId=MODEL_ID, body=json.dumps(body))
    message = Message.model_validate(json.loads(response["body"].read()))
    assert message.id.startswith("msg_bdrk_") and message.model == "claude-haiku-4-5-20251001"
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert int(headers["x-amzn-bedrock-output-token-count"]) == message.usage.output_tokens
    raw = post(sim, "invoke", body)
    parsed = cloudburst.parse(INVOKE, raw.status_code, raw.headers, raw.content)
    assert parsed.error is None and parsed.completion and parsed.request_id
    wrong = post(sim, "invoke", {**body, "anthropic_version": "2023-06-01"})
    assert wrong.status_code == 400 and wrong.headers["x-amzn-ErrorType"].startswith("ValidationException:")


def test_the_same_request_gives_the_same_bytes(sim: Simulator) -> None:
    body = {"messages": HELLO, "inferenceConfig": {"maxTokens": 40}}
    assert post(sim, "converse", body).content == post(sim, "converse", body).content


def test_model_ids_may_be_encoded_arns(sim: Simulator) -> None:
    arn = "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-haiku-4-5-20251001-v1:0"
    response = client_for(sim, region="eu-west-1").converse(modelId=arn, messages=HELLO)
    assert response["stopReason"] == "end_turn"


def test_sigv4_signatures_are_checked_with_the_configured_secret(sim: Simulator) -> None:
    sim.configure(aws_secret_access_key="sim-secret")
    assert client_for(sim).converse(modelId=MODEL_ID, messages=HELLO)["stopReason"] == "end_turn"
    with pytest.raises(ClientError) as refused:
        client_for(sim, secret="wrong").converse(modelId=MODEL_ID, messages=HELLO)
    assert refused.value.response["Error"]["Code"] == "InvalidSignatureException"
    malformed = post(sim, "converse", {"messages": HELLO}, headers={"Authorization": "AWS4-HMAC-SHA256 Credential=x"})
    assert malformed.status_code == 403 and malformed.headers["x-amzn-ErrorType"].startswith("IncompleteSignature")
    assert isinstance(cloudburst.parse(CONVERSE, 403, malformed.headers, malformed.content).error, AuthError)


def test_missing_or_unknown_keys_are_auth_errors(sim: Simulator) -> None:
    missing = post(sim, "converse", {"messages": HELLO}, headers={})
    assert missing.status_code == 403 and missing.json() == {"message": "Missing Authentication Token"}
    assert isinstance(cloudburst.parse(CONVERSE, 403, missing.headers, missing.content).error, AuthError)
    sim.configure(keys=frozenset({"ABSK-good"}))
    unknown = post(sim, "converse", {"messages": HELLO})
    assert unknown.headers["x-amzn-ErrorType"].startswith("UnrecognizedClientException:")
    assert isinstance(cloudburst.parse(CONVERSE, 403, unknown.headers, unknown.content).error, AuthError)


def test_invalid_body_is_a_validation_exception(sim: Simulator) -> None:
    response = post(sim, "converse", {"messages": [{"role": "user", "content": [{"txt": "Hi"}]}]})
    assert response.status_code == 400 and set(response.json()) == {"message"}
    assert response.headers["x-amzn-ErrorType"] == (
        "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/"
    )
    assert isinstance(cloudburst.parse(CONVERSE, 400, response.headers, response.content).error, InvalidRequestError)


def test_throttling_exception_without_rate_limit_headers(sim: Simulator) -> None:
    sim.configure(rpm=2, window_seconds=60)
    responses = [post(sim, "converse", {"messages": HELLO}) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 429]
    refused = responses[2]
    assert refused.json() == {"message": "Too many requests, please wait before trying again."}
    assert refused.headers["x-amzn-ErrorType"].startswith("ThrottlingException:")
    assert not any("ratelimit" in name or name == "retry-after" for r in responses for name in r.headers)
    assert isinstance(cloudburst.parse(CONVERSE, 429, refused.headers, refused.content).error, RateLimitedError)
    client = client_for(sim)  # limits are per key: SigV4's is the access key id
    for _ in range(2):
        client.converse(modelId=MODEL_ID, messages=HELLO)
    with pytest.raises(ClientError) as throttled:
        client.converse(modelId=MODEL_ID, messages=HELLO)
    assert throttled.value.response["Error"]["Code"] == "ThrottlingException"


@pytest.mark.parametrize(
    ("kind", "status", "name", "error"),
    [
        ("503", 503, "ServiceUnavailableException", OverloadedError),
        ("500", 500, "InternalServerException", ServerError),
    ],
)
def test_server_faults_as_bedrock_exceptions(sim: Simulator, kind: str, status: int, name: str, error: type) -> None:
    sim.configure(faults={kind: 1.0})
    response = post(sim, "converse", {"messages": HELLO})
    assert response.status_code == status and response.headers["x-amzn-ErrorType"].split(":")[0] == name
    assert isinstance(cloudburst.parse(CONVERSE, status, response.headers, response.content).error, error)
    with pytest.raises(ClientError) as raised:
        client_for(sim).converse(modelId=MODEL_ID, messages=HELLO)
    assert raised.value.response["Error"]["Code"] == name
