"""The simulator takes request bodies up to each provider's real limit, and answers a bigger one
as that provider does, so realistic media can be tested over real sockets."""

from __future__ import annotations

import base64

import httpx
import orjson
import pytest

from cloudburst import Simulator

MiB = 1024 * 1024


def _anthropic(sim: Simulator, body: bytes) -> httpx.Response:
    headers = {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01", "content-type": "application/json"}
    return httpx.post(f"{sim.url}/v1/messages", content=body, headers=headers, timeout=60)


def _message_with_pdf(size: int) -> bytes:
    data = base64.b64encode(b"%PDF-1.4 " + b"x" * size).decode()
    document = {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": data}}
    content = [document, {"type": "text", "text": "Summarise."}]
    return orjson.dumps(
        {"model": "claude-haiku-4-5", "max_tokens": 16, "messages": [{"role": "user", "content": content}]}
    )


def test_anthropic_takes_a_body_over_one_mib_and_refuses_one_over_32_mib(sim: Simulator) -> None:
    assert _anthropic(sim, _message_with_pdf(8 * MiB)).status_code == 200
    refused = _anthropic(sim, _message_with_pdf(25 * MiB))
    assert refused.status_code == 413
    assert refused.json() == {
        "type": "error",
        "error": {"type": "request_too_large", "message": "Request exceeds the maximum allowed number of bytes."},
    }


def test_a_chunked_body_over_the_limit_is_refused_too(sim: Simulator) -> None:
    body = _message_with_pdf(25 * MiB)
    chunks = (body[i : i + MiB] for i in range(0, len(body), MiB))
    headers = {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01", "content-type": "application/json"}
    answer = httpx.post(f"{sim.url}/v1/messages", content=chunks, headers=headers, timeout=60)
    assert answer.status_code == 413 and answer.json()["error"]["type"] == "request_too_large"


@pytest.mark.parametrize(
    ("path", "headers", "status", "check"),
    [
        (
            "/v1/chat/completions",
            {"authorization": "Bearer sk-test"},
            413,
            lambda b: b["error"]["code"] == "request_too_large",
        ),
        (
            "/v1beta/models/gemini-2.5-flash:generateContent",
            {"x-goog-api-key": "g-test"},
            400,
            lambda b: b["error"]["status"] == "INVALID_ARGUMENT" and "104857600 bytes" in b["error"]["message"],
        ),
    ],
)
def test_openai_and_gemini_refuse_a_body_over_their_limit_their_own_way(
    sim: Simulator, path: str, headers: dict[str, str], status: int, check: object
) -> None:
    answer = httpx.post(
        sim.url + path, content=b" " * (101 * MiB), headers={**headers, "content-type": "application/json"}, timeout=60
    )
    assert answer.status_code == status and check(answer.json())  # type: ignore[operator]
