"""The official openai SDK against the simulator: every answer parses, and validates strictly
against the SDK's own response models (which the SDK itself only constructs, never checks)."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import openai
import pytest
from openai.types import Batch, CreateEmbeddingResponse, FileObject
from openai.types.chat import ChatCompletion
from openai.types.responses import Response

from cloudburst import Simulator
from cloudburst._tokens import count_text
from cloudburst.generated.openai.models import CreateChatCompletionResponse

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["c", "f"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
            },
            "required": ["city", "unit", "days"],
            "additionalProperties": False,
        },
    },
}


@pytest.fixture
def client(sim: Simulator) -> openai.OpenAI:
    return openai.OpenAI(base_url=sim.base_urls()["openai"], api_key="sk-test", max_retries=0)


def chat(client: openai.OpenAI, **kwargs: Any) -> tuple[ChatCompletion, dict[str, Any]]:
    raw = client.chat.completions.with_raw_response.create(**kwargs)
    body = raw.http_response.json()
    parsed = raw.parse()
    assert ChatCompletion.model_validate(body) == parsed
    CreateChatCompletionResponse.model_validate(body)
    return parsed, body


def test_chat_completes_and_counts_its_tokens(client: openai.OpenAI) -> None:
    completion, body = chat(client, model="gpt-4o-mini", messages=[{"role": "user", "content": "Name three primes."}])
    choice = completion.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.content and choice.message.content.endswith(".")
    assert completion.usage is not None
    assert completion.usage.completion_tokens == count_text(choice.message.content)
    assert completion.usage.prompt_tokens >= count_text("Name three primes.")
    assert completion.usage.prompt_tokens_details and completion.usage.prompt_tokens_details.cached_tokens == 0
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")


def test_chat_cut_at_max_completion_tokens_finishes_with_length(client: openai.OpenAI) -> None:
    completion, _ = chat(
        client, model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}], max_completion_tokens=3
    )
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None and completion.usage.completion_tokens == 3
    legacy, _ = chat(client, model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}], max_tokens=2)
    assert legacy.choices[0].finish_reason == "length"
    assert legacy.usage is not None and legacy.usage.completion_tokens == 2


def test_chat_calls_a_tool_the_prompt_names_with_arguments_from_its_schema(client: openai.OpenAI) -> None:
    completion, _ = chat(
        client,
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Use get_weather for Paris."}],
        tools=[WEATHER],
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.function.name == "get_weather"
    arguments = json.loads(call.function.arguments)
    assert set(arguments) == {"city", "unit", "days"}
    assert arguments["unit"] in ("c", "f") and 1 <= arguments["days"] <= 7


def test_chat_answers_text_when_tools_are_offered_but_not_asked_for(client: openai.OpenAI) -> None:
    plain, _ = chat(client, model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello"}], tools=[WEATHER])
    assert plain.choices[0].finish_reason == "stop" and not plain.choices[0].message.tool_calls
    forced, _ = chat(
        client,
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Hello"}],
        tools=[WEATHER],
        tool_choice="required",
    )
    assert forced.choices[0].finish_reason == "tool_calls"
    after_result, _ = chat(
        client,
        model="gpt-4o-mini",
        messages=[
            {"role": "user", "content": "Use get_weather for Paris."},
            {
                "role": "assistant",
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        ],
        tools=[WEATHER],
    )
    assert after_result.choices[0].finish_reason == "stop"


def test_chat_logprobs_come_with_top_alternatives(client: openai.OpenAI) -> None:
    completion, _ = chat(
        client, model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}], logprobs=True, top_logprobs=3
    )
    logprobs = completion.choices[0].logprobs
    assert logprobs is not None and logprobs.content
    assert "".join(token.token for token in logprobs.content) == completion.choices[0].message.content
    for token in logprobs.content:
        assert len(token.top_logprobs) == 3
        assert token.top_logprobs[0].token == token.token
        assert token.logprob <= 0 and token.bytes == list(token.token.encode())


def test_chat_json_schema_answer_matches_the_schema(client: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "score": {"type": "number", "minimum": 0, "maximum": 1},
            "kind": {"$ref": "#/$defs/kind"},
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "ok": {"type": "boolean"},
        },
        "required": ["name", "tags", "score", "kind", "note", "ok"],
        "additionalProperties": False,
        "$defs": {"kind": {"type": "string", "enum": ["a", "b"]}},
    }
    completion, _ = chat(
        client,
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Describe it."}],
        response_format={"type": "json_schema", "json_schema": {"name": "thing", "schema": schema, "strict": True}},
    )
    value = json.loads(completion.choices[0].message.content or "")
    assert set(value) == set(schema["properties"])
    assert value["kind"] in ("a", "b") and 0 <= value["score"] <= 1 and value["tags"]
    json_mode, _ = chat(
        client,
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Answer in JSON."}],
        response_format={"type": "json_object"},
    )
    assert isinstance(json.loads(json_mode.choices[0].message.content or ""), dict)


def test_chat_reasoning_effort_spends_reasoning_tokens(client: openai.OpenAI) -> None:
    completion, _ = chat(
        client, model="o4-mini", messages=[{"role": "user", "content": "Think."}], reasoning_effort="low"
    )
    usage = completion.usage
    assert usage is not None and usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens and usage.completion_tokens_details.reasoning_tokens >= 64
    assert usage.completion_tokens > usage.completion_tokens_details.reasoning_tokens


def test_chat_stop_sequence_ends_the_text_before_it(client: openai.OpenAI) -> None:
    full, _ = chat(client, model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}])
    text = full.choices[0].message.content or ""
    stop = text.split(" ")[2]
    cut, _ = chat(client, model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}], stop=[" " + stop])
    assert cut.choices[0].finish_reason == "stop"
    assert text.startswith(cut.choices[0].message.content or "") and " " + stop not in (
        cut.choices[0].message.content or ""
    )


def test_responses_complete_and_are_cut_as_incomplete(client: openai.OpenAI) -> None:
    raw = client.responses.with_raw_response.create(
        model="gpt-4.1-mini", input="Name three primes.", instructions="Be brief."
    )
    response = raw.parse()
    Response.model_validate(raw.http_response.json())
    assert response.status == "completed" and response.output_text.endswith(".")
    # the published schema's OutputTextContent requires logprobs; real answers send [] unasked
    text_part = raw.http_response.json()["output"][-1]["content"][0]
    assert text_part["type"] == "output_text" and text_part["logprobs"] == []
    assert response.usage is not None and response.usage.output_tokens == count_text(response.output_text)
    cut = client.responses.create(
        model="gpt-4.1-mini", input="Name three primes.", max_output_tokens=16, reasoning={"effort": "low"}
    )
    Response.model_validate(cut.model_dump(mode="json", by_alias=True, exclude_unset=True))
    assert cut.status == "incomplete"
    assert cut.incomplete_details is not None and cut.incomplete_details.reason == "max_output_tokens"
    assert cut.usage is not None and cut.usage.output_tokens == 16
    assert cut.output[0].type == "reasoning"


def test_responses_reasoning_comes_encrypted_and_goes_back(client: openai.OpenAI) -> None:
    first = client.responses.with_raw_response.create(
        model="gpt-5.4",
        input="Name three primes.",
        reasoning={"effort": "low", "summary": "auto"},
        store=False,
        include=["reasoning.encrypted_content"],
    )
    Response.model_validate(first.http_response.json())
    item = first.parse().output[0]
    assert item.type == "reasoning" and item.encrypted_content and item.summary[0].text
    again = client.responses.create(
        model="gpt-5.4",
        input=[
            {"role": "user", "content": "Name three primes."},
            item.model_dump(exclude_none=True, exclude={"status"}),  # type: ignore[list-item]
            {"role": "assistant", "content": first.parse().output_text},
            {"role": "user", "content": "Two more?"},
        ],
        reasoning={"effort": "low"},
        store=False,
    )
    assert again.status == "completed"


def test_responses_tool_call_json_schema_and_logprobs(client: openai.OpenAI) -> None:
    tool = {"type": "function", "name": "get_weather", "parameters": WEATHER["function"]["parameters"], "strict": True}  # type: ignore[index]
    called = client.responses.create(model="gpt-4.1-mini", input="Call get_weather for Oslo.", tools=[tool])  # type: ignore[list-item]
    Response.model_validate(called.model_dump(mode="json", by_alias=True, exclude_unset=True))
    call = called.output[-1]
    assert call.type == "function_call" and call.name == "get_weather"
    assert set(json.loads(call.arguments)) == {"city", "unit", "days"}
    followed = client.responses.create(
        model="gpt-4.1-mini",
        input=[
            {"role": "user", "content": "Call get_weather for Oslo."},
            {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
            {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"},
        ],
        tools=[tool],  # type: ignore[list-item]
    )
    assert followed.output[-1].type == "message"
    structured = client.responses.create(
        model="gpt-4.1-mini",
        input="Describe it.",
        text={
            "format": {
                "type": "json_schema",
                "name": "thing",
                "schema": {
                    "type": "object",
                    "properties": {"n": {"type": "integer"}},
                    "required": ["n"],
                    "additionalProperties": False,
                },
            }
        },
        include=["message.output_text.logprobs"],
        top_logprobs=2,
    )
    assert isinstance(json.loads(structured.output_text)["n"], int)
    message = structured.output[-1]
    assert message.type == "message" and message.content[0].type == "output_text"
    assert message.content[0].logprobs and len(message.content[0].logprobs[0].top_logprobs) == 2


def test_embeddings_are_unit_vectors_as_floats_or_base64(client: openai.OpenAI) -> None:
    raw = client.embeddings.with_raw_response.create(
        model="text-embedding-3-small", input=["a cat", "a dog"], encoding_format="float"
    )
    CreateEmbeddingResponse.model_validate(raw.http_response.json())
    floats = raw.parse()
    assert [len(item.embedding) for item in floats.data] == [1536, 1536]
    assert abs(sum(x * x for x in floats.data[0].embedding) - 1) < 1e-6
    decoded = client.embeddings.create(
        model="text-embedding-3-small", input="a cat", dimensions=64
    )  # the SDK asks for base64
    assert len(decoded.data[0].embedding) == 64
    same = client.embeddings.create(model="text-embedding-3-small", input="a cat", dimensions=64)
    assert same.data[0].embedding == decoded.data[0].embedding
    assert decoded.usage.prompt_tokens == count_text("a cat")


def test_files_upload_retrieve_content_delete(client: openai.OpenAI) -> None:
    uploaded = client.files.create(
        file=("notes.jsonl", io.BytesIO(b'{"a": 1}\n'), "application/jsonl"), purpose="user_data"
    )
    FileObject.model_validate(uploaded.model_dump(mode="json"))
    assert uploaded.id.startswith("file-") and uploaded.bytes == 9 and uploaded.filename == "notes.jsonl"
    assert client.files.retrieve(uploaded.id) == uploaded
    assert client.files.content(uploaded.id).content == b'{"a": 1}\n'
    assert [f.id for f in client.files.list()] == [uploaded.id]
    deleted = client.files.delete(uploaded.id)
    assert deleted.deleted and deleted.id == uploaded.id
    with pytest.raises(openai.NotFoundError) as missing:
        client.files.retrieve(uploaded.id)
    assert missing.value.body["code"] is None and missing.value.body["param"] == "id"  # type: ignore[index]


def _batch_file(client: openai.OpenAI, count: int, bad: set[int] = frozenset()) -> str:  # type: ignore[assignment]
    lines = []
    for index in range(count):
        body: dict[str, Any] = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"Question {index}"}]}
        if index in bad:
            body["messages"] = []
        lines.append(
            json.dumps({"custom_id": f"q{index}", "method": "POST", "url": "/v1/chat/completions", "body": body})
        )
    uploaded = client.files.create(file=("batch.jsonl", "\n".join(lines).encode()), purpose="batch")
    return uploaded.id


def _wait(client: openai.OpenAI, batch_id: str, until: set[str]) -> Batch:
    seen = []
    for _ in range(200):
        batch = client.batches.retrieve(batch_id)
        Batch.model_validate(batch.model_dump(mode="json"))
        if not seen or seen[-1] != batch.status:
            seen.append(batch.status)
        if batch.status in until:
            batch.__dict__["seen"] = seen
            return batch
        time.sleep(0.01)
    raise AssertionError(f"batch stuck in {seen}")


def test_batch_runs_through_its_states_and_writes_output_and_error_files(sim: Simulator, client: openai.OpenAI) -> None:
    sim.configure(batch_seconds=0.5, batch_error_fraction=0.2)
    created = client.batches.create(
        input_file_id=_batch_file(client, 20, bad={3}), endpoint="/v1/chat/completions", completion_window="24h"
    )
    assert created.status == "validating" and created.request_counts and created.request_counts.total == 20
    done = _wait(client, created.id, {"completed"})
    assert done.__dict__["seen"][-1] == "completed" and "in_progress" in done.__dict__["seen"]
    assert done.request_counts is not None and done.completed_at and done.in_progress_at and done.finalizing_at
    assert done.output_file_id and done.error_file_id and done.usage and done.usage.output_tokens > 0
    output = [json.loads(line) for line in client.files.content(done.output_file_id).text.splitlines()]
    errors = [json.loads(line) for line in client.files.content(done.error_file_id).text.splitlines()]
    assert len(output) == done.request_counts.completed and len(errors) == done.request_counts.failed
    assert len(output) + len(errors) == 20 and 0 < len(errors) < 20
    for line in output:
        assert line["response"]["status_code"] == 200
        ChatCompletion.model_validate(line["response"]["body"])
    invalid = next(line for line in errors if line["custom_id"] == "q3")
    assert invalid["response"]["status_code"] == 400 and invalid["response"]["body"]["error"]["param"] == "messages"
    assert {line["response"]["status_code"] for line in errors} <= {400, 500}


def test_batch_with_expired_requests_ends_expired(sim: Simulator, client: openai.OpenAI) -> None:
    sim.configure(batch_expired_fraction=0.5)
    batch = client.batches.create(
        input_file_id=_batch_file(client, 10), endpoint="/v1/chat/completions", completion_window="24h"
    )
    assert batch.status == "expired" and batch.expired_at and batch.error_file_id
    errors = [json.loads(line) for line in client.files.content(batch.error_file_id).text.splitlines()]
    assert errors and all(line["error"]["code"] == "batch_expired" and line["response"] is None for line in errors)


def test_batch_cancel_moves_through_cancelling_to_cancelled(sim: Simulator, client: openai.OpenAI) -> None:
    sim.configure(batch_seconds=0.5)
    batch = client.batches.create(
        input_file_id=_batch_file(client, 5), endpoint="/v1/chat/completions", completion_window="24h"
    )
    cancelling = client.batches.cancel(batch.id)
    assert cancelling.status == "cancelling" and cancelling.cancelling_at
    cancelled = _wait(client, batch.id, {"cancelled"})
    assert cancelled.cancelled_at and cancelled.request_counts and cancelled.request_counts.completed == 0
    with pytest.raises(openai.ConflictError):
        client.batches.cancel(batch.id)


def test_batch_output_comes_in_a_seeded_order_not_the_inputs(client: openai.OpenAI) -> None:
    batch = client.batches.create(
        input_file_id=_batch_file(client, 20), endpoint="/v1/chat/completions", completion_window="24h"
    )
    assert batch.output_file_id
    first = client.files.content(batch.output_file_id).text
    order = [json.loads(line)["custom_id"] for line in first.splitlines()]
    assert sorted(order) == sorted(f"q{index}" for index in range(20)) and order != [f"q{i}" for i in range(20)]
    assert client.files.content(batch.output_file_id).text == first


def test_batch_over_the_limits_fails_validation(sim: Simulator, client: openai.OpenAI) -> None:
    sim.configure(batch_max_requests=3, batch_max_bytes=300)
    batch = client.batches.create(
        input_file_id=_batch_file(client, 4), endpoint="/v1/chat/completions", completion_window="24h"
    )
    assert batch.status == "failed" and batch.errors and batch.errors.data
    assert [error.code for error in batch.errors.data] == ["too_many_requests", "file_too_large"]
    sim.configure(batch_max_requests=4)
    fits = client.batches.create(
        input_file_id=_batch_file(client, 4), endpoint="/v1/chat/completions", completion_window="24h"
    )
    assert (
        fits.status == "failed"
        and fits.errors
        and [error.code for error in fits.errors.data or ()] == ["file_too_large"]
    )


def test_batch_from_a_broken_file_fails_validation(client: openai.OpenAI) -> None:
    broken = client.files.create(file=("b.jsonl", b"not json\n"), purpose="batch")
    batch = client.batches.create(input_file_id=broken.id, endpoint="/v1/chat/completions", completion_window="24h")
    assert batch.status == "failed" and batch.errors and batch.errors.data
    assert batch.errors.data[0].code == "invalid_json_line" and batch.errors.data[0].line == 1
