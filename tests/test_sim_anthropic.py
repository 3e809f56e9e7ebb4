"""The official anthropic SDK against the simulator: messages, message batches and files parse,
and validate strictly against the SDK's own response models."""

from __future__ import annotations

import io
import time
from typing import Any

import anthropic
import httpx
import pytest
from anthropic.types import FileMetadata, Message
from anthropic.types.messages import MessageBatch, MessageBatchIndividualResponse

from cloudburst import Simulator
from cloudburst._tokens import count_text
from cloudburst.generated.anthropic.models import Message as GeneratedMessage

WEATHER = {
    "name": "get_weather",
    "description": "Current weather in a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1, "maximum": 3}},
        "required": ["city", "days"],
    },
}
MODEL = "claude-haiku-4-5"


@pytest.fixture
def client(sim: Simulator) -> anthropic.Anthropic:
    # the SDK's base URL has no /v1: it adds /v1/messages itself
    return anthropic.Anthropic(base_url=sim.url, api_key="sk-ant-test", max_retries=0)


def create(client: anthropic.Anthropic, **kwargs: Any) -> Message:
    raw = client.messages.with_raw_response.create(model=MODEL, **kwargs)
    body = raw.http_response.json()
    parsed = raw.parse()
    assert Message.model_validate(body) == parsed
    GeneratedMessage.model_validate(body)
    return parsed


def test_message_completes_and_counts_its_tokens(client: anthropic.Anthropic) -> None:
    message = create(
        client, max_tokens=256, system="Be brief.", messages=[{"role": "user", "content": "Name three primes."}]
    )
    assert message.stop_reason == "end_turn" and message.id.startswith("msg_01")
    text = message.content[0]
    assert text.type == "text" and text.text.endswith(".")
    assert message.usage.output_tokens == count_text(text.text)
    assert message.usage.input_tokens >= count_text("Be brief.") + count_text("Name three primes.")
    assert message.usage.cache_read_input_tokens == 0 and message.usage.cache_creation_input_tokens == 0


def test_message_cut_at_max_tokens_stops_with_max_tokens(client: anthropic.Anthropic) -> None:
    message = create(client, max_tokens=4, messages=[{"role": "user", "content": "Hi"}])
    assert message.stop_reason == "max_tokens" and message.usage.output_tokens == 4
    full = create(client, max_tokens=1000, messages=[{"role": "user", "content": "Hi"}])
    assert full.content[0].text.startswith(message.content[0].text)  # type: ignore[union-attr]


def test_message_stop_sequence(client: anthropic.Anthropic) -> None:
    full = create(client, max_tokens=1000, messages=[{"role": "user", "content": "Hi"}])
    word = " " + full.content[0].text.split(" ")[3]  # type: ignore[union-attr]
    cut = create(client, max_tokens=1000, messages=[{"role": "user", "content": "Hi"}], stop_sequences=[word])
    assert cut.stop_reason == "stop_sequence" and cut.stop_sequence == word
    assert word not in cut.content[0].text  # type: ignore[union-attr]


def test_thinking_comes_first_signed_and_within_max_tokens(client: anthropic.Anthropic) -> None:
    message = create(
        client,
        max_tokens=1100,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "Think it over."}],
    )
    thinking, text = message.content
    assert thinking.type == "thinking" and thinking.thinking and len(thinking.signature) > 100
    assert text.type == "text"
    assert message.usage.output_tokens == count_text(thinking.thinking) + count_text(text.text)
    tight = create(
        client,
        max_tokens=1025,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "Think it over."}],
    )
    assert tight.usage.output_tokens <= 1025


def test_tool_use_when_the_prompt_names_a_tool(client: anthropic.Anthropic) -> None:
    message = create(
        client, max_tokens=200, tools=[WEATHER], messages=[{"role": "user", "content": "Use get_weather for Rome."}]
    )
    assert message.stop_reason == "tool_use"
    call = message.content[-1]
    assert call.type == "tool_use" and call.name == "get_weather" and call.id.startswith("toolu_")
    assert set(call.input) == {"city", "days"} and 1 <= call.input["days"] <= 3  # type: ignore[operator,index]
    answered = create(
        client,
        max_tokens=200,
        tools=[WEATHER],
        messages=[
            {"role": "user", "content": "Use get_weather for Rome."},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": call.id, "name": call.name, "input": call.input}],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}]},
        ],
    )
    assert answered.stop_reason == "end_turn"
    forced = create(
        client,
        max_tokens=200,
        tools=[WEATHER],
        tool_choice={"type": "any"},
        messages=[{"role": "user", "content": "Hi"}],
    )
    assert forced.stop_reason == "tool_use"
    declined = create(
        client,
        max_tokens=200,
        tools=[WEATHER],
        tool_choice={"type": "none"},
        messages=[{"role": "user", "content": "Use get_weather for Rome."}],
    )
    assert declined.stop_reason == "end_turn"


def test_structured_output_matches_the_schema(client: anthropic.Anthropic) -> None:
    import json

    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "rain": {"type": "boolean"}},
        "required": ["city", "rain"],
        "additionalProperties": False,
    }
    message = create(
        client,
        max_tokens=200,
        messages=[{"role": "user", "content": "Weather?"}],
        extra_body={"output_config": {"format": {"type": "json_schema", "schema": schema}}},
    )
    value = json.loads(message.content[0].text)  # type: ignore[union-attr]
    assert isinstance(value["city"], str) and isinstance(value["rain"], bool)


def _requests(count: int, bad: set[int] = frozenset()) -> list[dict[str, Any]]:  # type: ignore[assignment]
    return [
        {
            "custom_id": f"r{index}",
            "params": {
                "model": MODEL,
                "max_tokens": 64,
                "messages": [{"role": "user", "content": f"Question {index}"}]
                if index not in bad
                else [{"role": "robot"}],
            },
        }
        for index in range(count)
    ]


def _strict_results(results_url: str) -> list[MessageBatchIndividualResponse]:
    answer = httpx.get(results_url, headers={"x-api-key": "k", "anthropic-version": "2023-06-01"})
    return [MessageBatchIndividualResponse.model_validate_json(line) for line in answer.text.splitlines()]


def _retrieve(client: anthropic.Anthropic, batch_id: str) -> MessageBatch:
    raw = client.messages.batches.with_raw_response.retrieve(batch_id)
    batch = raw.parse()
    assert MessageBatch.model_validate(raw.http_response.json()) == batch
    return batch


def test_message_batch_ends_with_succeeded_errored_and_expired_results(
    sim: Simulator, client: anthropic.Anthropic
) -> None:
    sim.configure(batch_seconds=1.0, batch_error_fraction=0.2, batch_expired_fraction=0.2)  # long enough to ask early
    created = client.messages.batches.create(requests=_requests(20, bad={0}))  # type: ignore[arg-type]
    assert created.processing_status == "in_progress" and created.request_counts.processing == 20
    assert created.results_url is None
    early = httpx.get(
        f"{sim.url}/v1/messages/batches/{created.id}/results",
        headers={"x-api-key": "k", "anthropic-version": "2023-06-01"},
    )
    assert early.status_code == 404 and early.json()["error"]["type"] == "not_found_error"
    for _ in range(500):
        batch = _retrieve(client, created.id)
        if batch.processing_status == "ended":
            break
        time.sleep(0.01)
    assert batch.processing_status == "ended" and batch.ended_at and batch.results_url
    counts = batch.request_counts
    assert counts.succeeded + counts.errored + counts.expired == 20 and counts.processing == counts.canceled == 0
    assert counts.errored > 0 and counts.expired > 0 and counts.succeeded > 0
    results = {item.custom_id: item.result for item in client.messages.batches.results(created.id)}
    assert results.keys() == {f"r{i}" for i in range(20)}
    kinds = [result.type for result in results.values()]
    assert kinds.count("errored") == counts.errored and kinds.count("expired") == counts.expired
    invalid = results["r0"]
    if invalid.type == "errored":
        assert invalid.error.error.type in ("invalid_request_error", "api_error")
    succeeded = next(result for result in results.values() if result.type == "succeeded")
    assert succeeded.message.content  # type: ignore[union-attr]
    assert len(_strict_results(batch.results_url)) == 20


def test_message_batch_cancel_leaves_unprocessed_requests_canceled(sim: Simulator, client: anthropic.Anthropic) -> None:
    sim.configure(batch_seconds=0.5)
    created = client.messages.batches.create(requests=_requests(5))  # type: ignore[arg-type]
    canceling = client.messages.batches.cancel(created.id)
    assert canceling.processing_status == "canceling" and canceling.cancel_initiated_at
    for _ in range(100):
        batch = _retrieve(client, created.id)
        if batch.processing_status == "ended":
            break
        time.sleep(0.01)
    assert batch.request_counts.canceled == 5
    assert {item.result.type for item in client.messages.batches.results(created.id)} == {"canceled"}
    with pytest.raises(anthropic.BadRequestError):
        client.messages.batches.cancel(created.id)


def test_message_batch_results_come_in_a_seeded_order_not_the_inputs(client: anthropic.Anthropic) -> None:
    created = client.messages.batches.create(requests=_requests(20))  # type: ignore[arg-type]
    order = [item.custom_id for item in client.messages.batches.results(created.id)]
    assert sorted(order) == sorted(f"r{i}" for i in range(20)) and order != [f"r{i}" for i in range(20)]
    assert [item.custom_id for item in client.messages.batches.results(created.id)] == order


def test_message_batch_over_the_limits_is_refused(sim: Simulator, client: anthropic.Anthropic) -> None:
    sim.configure(batch_max_requests=2)
    with pytest.raises(anthropic.BadRequestError) as many:
        client.messages.batches.create(requests=_requests(3))  # type: ignore[arg-type]
    assert "at most 2 requests" in str(many.value)
    sim.configure(batch_max_bytes=200)
    with pytest.raises(anthropic.APIStatusError) as large:
        client.messages.batches.create(requests=_requests(2))  # type: ignore[arg-type]
    assert large.value.status_code == 413 and large.value.body["error"]["type"] == "request_too_large"  # type: ignore[index]


def test_message_batch_rejects_duplicate_custom_ids(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as error:
        client.messages.batches.create(requests=_requests(2) + _requests(1))  # type: ignore[arg-type]
    assert "custom_id" in str(error.value)


def test_files_upload_retrieve_delete_and_uploads_are_not_downloadable(client: anthropic.Anthropic) -> None:
    uploaded = client.files.upload(file=("doc.txt", io.BytesIO(b"hello"), "text/plain"))
    FileMetadata.model_validate(uploaded.model_dump(mode="json"))
    assert uploaded.id.startswith("file_") and uploaded.size_bytes == 5 and uploaded.mime_type == "text/plain"
    assert uploaded.downloadable is False
    assert client.files.retrieve_metadata(uploaded.id) == uploaded
    assert [f.id for f in client.files.list()] == [uploaded.id]
    with pytest.raises(anthropic.BadRequestError) as refused:
        client.files.download(uploaded.id)
    assert refused.value.error_code == "file_not_downloadable"  # type: ignore[attr-defined]
    assert client.files.delete(uploaded.id).id == uploaded.id
    with pytest.raises(anthropic.NotFoundError):
        client.files.retrieve_metadata(uploaded.id)
