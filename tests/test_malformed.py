"""What a provider sends cannot crash a job: a body of the wrong shape is a typed
MalformedResponseError naming the field, retried a bounded number of times; a wait that cannot
be true is ignored; and no answer keeps the API key an echoing proxy put in it."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import cloudburst
from cloudburst import InvalidResponseError, LLMClient, MalformedResponseError, RetryPolicy
from cloudburst._headers import retry_after
from cloudburst.generated import PROVIDERS
from tests.conftest import RECORDED_OPENAI_CHAT
from tests.test_anthropic_messages import THINKING_ANSWER

ANSWER = RECORDED_OPENAI_CHAT["Default"]["response"]
LOGPROBS = RECORDED_OPENAI_CHAT["Logprobs"]["response"]
GEMINI = {
    "candidates": [{"content": {"parts": [{"text": "Hi."}], "role": "model"}, "finishReason": "STOP"}],
    "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 2, "thoughtsTokenCount": 12},
    "modelVersion": "gemini-2.5-flash",
}


def changed(body: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    body = copy.deepcopy(body)
    node = body
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return body


@pytest.mark.parametrize(
    ("model", "body", "field"),
    [
        ("gpt-4o-mini", changed(ANSWER, ("usage", "prompt_tokens"), "n/a"), "usage.prompt_tokens is 'n/a'"),
        ("gpt-4o-mini", changed(ANSWER, ("usage", "completion_tokens"), -12), "usage.completion_tokens is -12"),
        ("gpt-4o-mini", changed(ANSWER, ("usage", "prompt_tokens"), 1e400), "usage.prompt_tokens is inf"),
        ("gpt-4o-mini", changed(ANSWER, ("choices", 0, "message", "content"), 42), "content is 42, not a string"),
        ("gpt-4o-mini", changed(LOGPROBS, ("choices", 0, "logprobs", "content", 0), 7), "a logprobs item is 7"),
        (
            "claude-haiku-4-5",
            changed(THINKING_ANSWER, ("usage", "cache_creation_input_tokens"), "0"),
            "usage.cache_creation_input_tokens is '0'",
        ),
        ("gemini-2.5-flash", changed(GEMINI, ("usageMetadata", "thoughtsTokenCount"), "1023"), "thoughtsTokenCount"),
        (  # found by bench/fuzz.py: more cached than prompted was billed below zero
            "gpt-4o-mini",
            changed(ANSWER, ("usage", "prompt_tokens_details"), {"cached_tokens": 10**6}),
            "usage counts 1,000,000 cache reads and 0 cache writes in a prompt of",
        ),
    ],
)
def test_a_mistyped_body_is_a_malformed_response_naming_the_field(model: str, body: Any, field: str) -> None:
    response = cloudburst.parse(model, 200, {}, body)
    assert isinstance(response.error, MalformedResponseError)
    assert isinstance(response.error, InvalidResponseError) and response.error.retryable
    assert field in response.error.message
    assert response.raw == body and response.error.body == body  # kept, for the caller to see
    assert response.cost == 0 and response.usage.input_tokens == 0  # nothing it says is billed


def test_the_same_bodies_well_typed_parse() -> None:
    assert cloudburst.parse("gpt-4o-mini", 200, {}, ANSWER).ok
    assert cloudburst.parse("gpt-4o-mini", 200, {}, LOGPROBS).logprobs
    assert cloudburst.parse("claude-haiku-4-5", 200, {}, THINKING_ANSWER).ok
    assert cloudburst.parse("gemini-2.5-flash", 200, {}, GEMINI).usage.reasoning_tokens == 12


def gemini_429(delay: str) -> dict[str, Any]:
    retry = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}
    return {"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED", "details": [retry]}}


@pytest.mark.parametrize(
    ("delay", "seconds"), [("7s", 7.0), ("1.5s", 1.5), ("nans", None), ("infs", None), ("-3s", None)]
)
def test_a_gemini_retry_delay_that_cannot_be_true_is_ignored(delay: str, seconds: float | None) -> None:
    error = cloudburst.parse("gemini-2.5-flash", 429, {}, gemini_429(delay)).error
    assert isinstance(error, cloudburst.RateLimitedError)
    assert error.retry_after == seconds


@pytest.mark.parametrize(("value", "seconds"), [("2", 2.0), ("nan", None), ("inf", None), ("-5", None)])
def test_a_retry_after_header_that_cannot_be_true_is_ignored(value: str, seconds: float | None) -> None:
    names = PROVIDERS["openai"].rate_limit_headers
    assert names.retry_after is not None
    assert retry_after({names.retry_after: value}, names) == seconds


Handler = Callable[[BaseHTTPRequestHandler, dict[str, Any]], tuple[int, dict[str, Any]]]


@pytest.fixture
def loopback() -> Iterator[Callable[[Handler], str]]:
    """A tiny OpenAI-shaped server on an ephemeral loopback port, answering as the test says."""
    servers: list[ThreadingHTTPServer] = []

    def start(answer: Handler) -> str:
        class Serve(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers["content-length"])))
                status, body = answer(self, request)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Serve)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}/v1"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def answer_of(prompt: str) -> dict[str, Any]:
    body = copy.deepcopy(ANSWER)
    body["choices"][0]["message"]["content"] = f"an answer to {prompt}"
    return body


def test_one_mistyped_answer_among_ten_is_one_typed_error_and_nine_answers(
    loopback: Callable[[Handler], str],
) -> None:
    asked: list[str] = []

    def answer(_: BaseHTTPRequestHandler, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        prompt = request["messages"][-1]["content"]
        asked.append(prompt)
        body = answer_of(prompt)
        if prompt == "prompt 6":
            body["usage"]["prompt_tokens"] = "n/a"
        return 200, body

    url = loopback(answer)
    client = LLMClient(
        "gpt-4o-mini",
        retry=RetryPolicy(max_attempts=3, backoff_base=0.01, backoff_cap=0.02),
        progress=None,
        api_keys={"openai": "sk-test-key-123456"},
        base_urls={"openai": url},
    )
    results = client.run([f"prompt {i}" for i in range(10)])
    assert len(results) == 10
    assert [r.completion for r in results if r.ok] == [f"an answer to prompt {i}" for i in range(10) if i != 6]
    failed = results[6]
    assert isinstance(failed.error, MalformedResponseError) and "usage.prompt_tokens" in failed.error.message
    assert failed.attempts == 3 and asked.count("prompt 6") == 3  # retried, a bounded number of times
    assert failed.raw["usage"]["prompt_tokens"] == "n/a"


SECRET = "sk-proj-ThisKeyMustNeverBeStored0123456789"


def test_a_key_echoed_in_an_error_is_in_no_output_of_cloudburst_run(
    loopback: Callable[[Handler], str], tmp_path: Path
) -> None:
    """A proxy that echoes the request's headers into its 400: the results file (and the
    journal beside it) hold the error, but not the key."""

    def echo(handler: BaseHTTPRequestHandler, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        headers = dict(handler.headers.items())
        message = f"bad request; you sent Authorization: {headers.get('Authorization')}"
        return 400, {"error": {"message": message, "type": "invalid_request_error", "headers": headers}}

    url = loopback(echo)
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('"Hello"\n"Bye"\n')
    output = tmp_path / "results.jsonl"
    env = {**os.environ, "OPENAI_API_KEY": SECRET, "OPENAI_BASE_URL": url}
    command = [sys.executable, "-m", "cloudburst", "run", str(prompts), "-o", str(output), "--model", "gpt-4o-mini"]
    run = subprocess.run(
        [*command, "--progress", "off"],
        env=env,
        capture_output=True,
        timeout=120,
    )
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert [line["error"]["kind"] for line in lines] == ["invalid_request", "invalid_request"]
    assert lines[0]["error"]["message"].endswith("you sent Authorization: <redacted>")
    for path in tmp_path.iterdir():
        assert SECRET.encode() not in path.read_bytes(), path
        assert SECRET[8:].encode() not in path.read_bytes(), path
    assert SECRET.encode() not in run.stdout + run.stderr


def test_embeddings_whose_usage_is_mistyped_are_typed_errors_each(loopback: Callable[[Handler], str]) -> None:
    def answer(_: BaseHTTPRequestHandler, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        data = [{"object": "embedding", "index": i, "embedding": [0.1, 0.2]} for i in range(len(request["input"]))]
        return 200, {"object": "list", "data": data, "model": request["model"], "usage": {"prompt_tokens": "n/a"}}

    client = LLMClient(
        "text-embedding-3-small",
        retry=RetryPolicy(max_attempts=2, backoff_base=0.01, backoff_cap=0.02),
        progress=None,
        api_keys={"openai": "sk-test-key-123456"},
        base_urls={"openai": loopback(answer)},
    )
    results = client.embed(["one", "two"])
    assert [type(r.error) for r in results] == [MalformedResponseError, MalformedResponseError]
    assert "usage.prompt_tokens is 'n/a'" in str(results[0].error)


def test_a_ranking_of_a_document_never_sent_is_a_typed_error(loopback: Callable[[Handler], str]) -> None:
    def answer(_: BaseHTTPRequestHandler, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        results = [{"index": 0, "relevance_score": 0.9}, {"index": 5, "relevance_score": 0.5}]
        return 200, {"id": "r1", "results": results, "meta": {"billed_units": {"search_units": 1}}}

    client = LLMClient(
        "rerank-v3.5", progress=None, api_keys={"cohere": "co-test-key-123456"}, base_urls={"cohere": loopback(answer)}
    )
    ranking = client.rerank("weather", ["rain in Boston", "a poem"])
    assert isinstance(ranking.error, MalformedResponseError) and "document 5" in str(ranking.error)
