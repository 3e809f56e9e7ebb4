"""Gemini's Batch API as the simulator plays it: google-genai creates, polls, lists, cancels and
deletes batches against it, inline and from an uploaded JSONL file, and reads their results; the
raw Operation has the real shape (@type, int64 counts as strings, zero counts left out); each
request is answered by generateContent, an invalid one becoming its own error Status; limits
refuse as the real API does."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import httpx
import pytest
from google import genai
from google.genai import errors, types

from cloudburst import Simulator

KEY = "AIza-batches"
HEADERS = {"x-goog-api-key": KEY}
HTTP = httpx.Client()
MODEL = "gemini-2.5-flash-lite"
BATCH_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch"
OUTPUT_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatchOutput"
ENDED = {"JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED"}


@pytest.fixture
def client(sim: Simulator) -> genai.Client:
    return genai.Client(api_key=KEY, http_options={"base_url": sim.url})


BOTH = {"thinking_config": {"thinking_budget": 64, "thinking_level": "LOW"}}
"""A thinking budget and a level at once, which generateContent refuses."""


def inline(count: int, bad: frozenset[int] = frozenset()) -> list[types.InlinedRequestDict]:
    """`count` requests keyed k0…; the `bad` ones are refused by generateContent."""
    requests: list[types.InlinedRequestDict] = []
    for index in range(count):
        request: types.InlinedRequestDict = {
            "contents": [{"role": "user", "parts": [{"text": f"Question {index}"}]}],
            "metadata": {"key": f"k{index}"},
        }
        if index in bad:
            request["config"] = BOTH  # type: ignore[typeddict-item]
        requests.append(request)
    return requests


def wait(client: genai.Client, name: str, created: types.BatchJob | None = None) -> tuple[types.BatchJob, list[str]]:
    """The batch once it has ended, and the states seen on the way (from its creation's answer
    on, when given, so a short first state is seen however slowly the polls come)."""
    seen: list[str] = [created.state.value] if created is not None and created.state is not None else []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        job = client.batches.get(name=name)
        assert job.state is not None
        if not seen or seen[-1] != job.state.value:
            seen.append(job.state.value)
        if job.state.value in ENDED:
            return job, seen
        time.sleep(0.02)
    raise AssertionError(f"batch stuck in {seen}")


def raw(sim: Simulator, name: str) -> dict[str, Any]:
    answer = HTTP.get(f"{sim.url}/v1beta/{name}", headers=HEADERS)
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()
    return data


def upload(client: genai.Client, lines: list[Any]) -> str:
    content = "".join(json.dumps(line) + "\n" for line in lines).encode()
    uploaded = client.files.upload(file=io.BytesIO(content), config={"mime_type": "application/jsonl"})
    assert uploaded.name
    return uploaded.name


def test_inline_batch_passes_its_states_and_answers_in_input_order(sim: Simulator, client: genai.Client) -> None:
    sim.configure(batch_seconds=1.0)  # running for 0.7 s: seen by polls every 0.02 s however loaded the machine
    created = client.batches.create(model=MODEL, src=inline(6, bad=frozenset({2})), config={"display_name": "six"})
    assert created.state == types.JobState.JOB_STATE_PENDING and created.display_name == "six"
    assert created.name and created.model == f"models/{MODEL}" and created.dest is None
    job, seen = wait(client, created.name, created)
    assert seen == ["JOB_STATE_PENDING", "JOB_STATE_RUNNING", "JOB_STATE_SUCCEEDED"]
    assert job.dest and job.dest.inlined_responses and job.end_time and job.create_time
    answers = job.dest.inlined_responses
    assert [answer.metadata for answer in answers] == [{"key": f"k{index}"} for index in range(6)]
    refused = answers[2]
    assert refused.response is None and refused.error and refused.error.code == 3  # INVALID_ARGUMENT
    assert refused.error.message == "You can only set only one of thinking budget and thinking level."
    for answer in answers[:2] + answers[3:]:
        assert answer.error is None and answer.response and answer.response.text
        assert answer.response.model_version == MODEL
    operation = raw(sim, created.name)
    assert operation["done"] is True and operation["metadata"]["@type"] == BATCH_TYPE
    assert operation["metadata"]["batchStats"] == {
        "requestCount": "6",
        "successfulRequestCount": "5",
        "failedRequestCount": "1",
    }
    assert operation["metadata"]["state"] == "BATCH_STATE_SUCCEEDED" and "inputConfig" not in operation["metadata"]
    assert operation["response"] == {"@type": OUTPUT_TYPE, **operation["metadata"]["output"]}
    for item in operation["response"]["inlinedResponses"]["inlinedResponses"]:
        types.InlinedResponse.model_validate(item)


def test_the_operation_while_running_counts_pending_requests_as_strings(sim: Simulator, client: genai.Client) -> None:
    sim.configure(batch_seconds=0.5)
    created = client.batches.create(model=MODEL, src=inline(4))
    assert created.name
    operation = raw(sim, created.name)
    meta = operation["metadata"]
    assert "done" not in operation and "response" not in operation and "output" not in meta
    assert meta["batchStats"] == {"requestCount": "4", "pendingRequestCount": "4"}
    assert meta["name"] == operation["name"] == created.name and meta["model"] == f"models/{MODEL}"
    assert meta["createTime"] == meta["updateTime"] and meta["createTime"].endswith("Z") and "endTime" not in meta


def test_drawn_failures_are_internal_errors_of_their_own_requests(sim: Simulator, client: genai.Client) -> None:
    sim.configure(batch_error_fraction=0.3)
    created = client.batches.create(model=MODEL, src=inline(20))
    assert created.name and created.state == types.JobState.JOB_STATE_SUCCEEDED  # batch_seconds 0: ended at once
    answers = created.dest.inlined_responses if created.dest else None
    assert answers is not None and len(answers) == 20
    failed = [answer for answer in answers if answer.error]
    assert 0 < len(failed) < 20 and {answer.error.code for answer in failed if answer.error} == {13}
    stats = raw(sim, created.name)["metadata"]["batchStats"]
    assert stats["failedRequestCount"] == str(len(failed)) and stats["successfulRequestCount"] == str(20 - len(failed))


def test_file_batch_writes_a_responses_file_in_input_order(sim: Simulator, client: genai.Client) -> None:
    sim.configure(batch_seconds=0.2)
    lines = [{"key": f"row-{n}", "request": {"contents": [{"parts": [{"text": f"Row {n}"}]}]}} for n in range(5)]
    lines[3]["request"] = {"contents": [{"parts": [{"text": "x"}]}], "bogus": 1}
    source = upload(client, lines)
    created = client.batches.create(model=MODEL, src=source, config={"display_name": "from a file"})
    assert created.name
    assert raw(sim, created.name)["metadata"]["inputConfig"] == {"fileName": source}
    job, _ = wait(client, created.name)
    assert job.state == types.JobState.JOB_STATE_SUCCEEDED and job.dest and job.dest.file_name
    assert job.dest.file_name == f"files/batch-{created.name.removeprefix('batches/')}"
    operation = raw(sim, created.name)
    assert operation["response"] == {"@type": OUTPUT_TYPE, "responsesFile": job.dest.file_name}
    results = [json.loads(line) for line in client.files.download(file=job.dest.file_name).splitlines()]
    assert [result["key"] for result in results] == [f"row-{n}" for n in range(5)]
    assert results[3]["error"]["code"] == 3 and 'Unknown name "bogus"' in results[3]["error"]["message"]
    for result in results[:3] + results[4:]:
        types.GenerateContentResponse.model_validate(result["response"])
    written = client.files.get(name=job.dest.file_name)
    assert written.source == types.FileSource.GENERATED and written.download_uri
    assert written.mime_type == "application/jsonl" and written.state == types.FileState.ACTIVE
    download = HTTP.get(
        f"{sim.url}/download/v1beta/{job.dest.file_name}:download", params={"alt": "media"}, headers=HEADERS
    )
    assert download.status_code == 200 and json.loads(download.content.splitlines()[0]) == results[0]


def test_snake_case_batches_and_requests_are_read_like_camel_case(sim: Simulator) -> None:
    body = {
        "batch": {
            "display_name": "snakes",
            "input_config": {
                "requests": {
                    "requests": [
                        {
                            "request": {
                                "contents": [{"parts": [{"text": "Hi"}]}],
                                "generation_config": {"max_output_tokens": 5},
                            },
                            "metadata": {"key": "s"},
                        }
                    ]
                }
            },
        }
    }
    created = HTTP.post(f"{sim.url}/v1beta/models/{MODEL}:batchGenerateContent", json=body, headers=HEADERS)
    assert created.status_code == 200, created.text
    meta = created.json()["metadata"]
    assert meta["displayName"] == "snakes" and meta["state"] == "BATCH_STATE_SUCCEEDED"
    [answer] = meta["output"]["inlinedResponses"]["inlinedResponses"]
    assert answer["metadata"] == {"key": "s"} and answer["response"]["usageMetadata"]["candidatesTokenCount"] <= 5


def test_expired_requests_end_the_batch_expired(sim: Simulator, client: genai.Client) -> None:
    sim.configure(batch_seconds=0.1, batch_expired_fraction=0.3)
    created = client.batches.create(model=MODEL, src=inline(20))
    assert created.name
    job, _ = wait(client, created.name)
    assert job.state == types.JobState.JOB_STATE_EXPIRED and job.dest and job.dest.inlined_responses
    codes = [answer.error.code for answer in job.dest.inlined_responses if answer.error]
    assert codes and set(codes) == {4}  # DEADLINE_EXCEEDED
    assert raw(sim, created.name)["metadata"]["state"] == "BATCH_STATE_EXPIRED"


def test_cancel_ends_the_batch_cancelled_and_leaves_unprocessed_requests_cancelled(
    sim: Simulator, client: genai.Client
) -> None:
    sim.configure(batch_seconds=0.5)
    created = client.batches.create(model=MODEL, src=inline(5))
    assert created.name
    client.batches.cancel(name=created.name)
    job, _ = wait(client, created.name)
    assert job.state == types.JobState.JOB_STATE_CANCELLED and job.dest and job.dest.inlined_responses
    assert [answer.error.code for answer in job.dest.inlined_responses if answer.error] == [1] * 5  # CANCELLED
    again = HTTP.post(f"{sim.url}/v1beta/{created.name}:cancel", headers=HEADERS)
    assert again.status_code == 400 and again.json()["error"]["status"] == "FAILED_PRECONDITION"


def test_an_input_file_with_a_broken_line_fails_the_batch(sim: Simulator, client: genai.Client) -> None:
    sim.configure(batch_seconds=0.1)
    source = upload(client, [{"key": "a", "request": {"contents": [{"parts": [{"text": "Hi"}]}]}}, ["not", "one"]])
    created = client.batches.create(model=MODEL, src=source)
    assert created.name
    job, seen = wait(client, created.name, created)
    assert seen == ["JOB_STATE_PENDING", "JOB_STATE_FAILED"] and job.dest is None
    operation = raw(sim, created.name)
    assert operation["done"] is True and operation["error"]["code"] == 3 and "Line 2" in operation["error"]["message"]


def test_batches_are_listed_paged_deleted_and_private_to_their_key(sim: Simulator, client: genai.Client) -> None:
    names = [client.batches.create(model=MODEL, src=inline(1)).name for _ in range(3)]
    assert [job.name for job in client.batches.list(config={"page_size": 2})] == names[::-1]
    page = HTTP.get(f"{sim.url}/v1beta/batches", params={"pageSize": 2}, headers=HEADERS).json()
    assert len(page["operations"]) == 2 and page["nextPageToken"]
    other = {"x-goog-api-key": "AIza-someone-else"}
    assert HTTP.get(f"{sim.url}/v1beta/batches", headers=other).json() == {}
    hidden = HTTP.get(f"{sim.url}/v1beta/{names[0]}", headers=other)
    assert hidden.status_code == 404 and hidden.json()["error"]["status"] == "NOT_FOUND"
    client.batches.delete(name=names[0])  # type: ignore[arg-type]
    assert [job.name for job in client.batches.list()] == names[:0:-1]
    with pytest.raises(errors.ClientError) as gone:
        client.batches.get(name=names[0])  # type: ignore[arg-type]
    assert gone.value.code == 404


def test_limits_refuse_a_batch_as_gemini_does(sim: Simulator, client: genai.Client) -> None:
    sim.configure(batch_max_bytes=600)
    with pytest.raises(errors.ClientError) as large:
        client.batches.create(model=MODEL, src=inline(8))
    assert large.value.code == 400 and large.value.message == "Request payload size exceeds the limit: 600 bytes."
    source = upload(
        client, [{"key": str(n), "request": {"contents": [{"parts": [{"text": "x" * 50}]}]}} for n in range(9)]
    )
    with pytest.raises(errors.ClientError) as big_file:
        client.batches.create(model=MODEL, src=source)
    assert big_file.value.code == 400 and "at most 600" in str(big_file.value.message)
    sim.configure(batch_max_requests=2)
    with pytest.raises(errors.ClientError) as many:
        client.batches.create(model=MODEL, src=inline(3))
    assert many.value.status == "INVALID_ARGUMENT" and "3 requests; at most 2" in str(many.value.message)
    assert client.batches.create(model=MODEL, src=inline(2)).state == types.JobState.JOB_STATE_SUCCEEDED


def test_an_input_file_must_be_the_keys_and_active(sim: Simulator, client: genai.Client) -> None:
    sim.configure(file_processing_seconds=5)
    source = upload(client, [{"key": "a", "request": {"contents": [{"parts": [{"text": "Hi"}]}]}}])
    with pytest.raises(errors.ClientError) as processing:
        client.batches.create(model=MODEL, src=source)
    assert processing.value.status == "FAILED_PRECONDITION"
    stranger = genai.Client(api_key="AIza-someone-else", http_options={"base_url": sim.url})
    with pytest.raises(errors.ClientError) as denied:
        stranger.batches.create(model=MODEL, src=source)
    assert denied.value.code == 403 and denied.value.status == "PERMISSION_DENIED"


def test_a_batch_request_naming_a_processing_file_fails_alone(sim: Simulator, client: genai.Client) -> None:
    sim.configure(file_processing_seconds=5)
    video = client.files.upload(file=io.BytesIO(b"frames"), config={"mime_type": "video/mp4"})
    assert video.uri and video.state == types.FileState.PROCESSING
    requests: list[types.InlinedRequestDict] = [
        {"contents": [{"parts": [{"file_data": {"file_uri": video.uri, "mime_type": "video/mp4"}}, {"text": "?"}]}]},
        {"contents": [{"parts": [{"text": "Plain question"}]}]},
    ]
    job = client.batches.create(model=MODEL, src=requests)
    assert job.dest and job.dest.inlined_responses
    first, second = job.dest.inlined_responses
    assert first.error and first.error.code == 9 and "not in an ACTIVE state" in str(first.error.message)
    assert second.response and second.response.text
