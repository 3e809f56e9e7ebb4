"""Files in prompts against the simulator over real sockets: uploaded once per provider and named
by id in every request, inline when small, refused before sending when nothing can take them,
and reused across runs from the upload store while they live."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from cloudburst import (
    AiohttpTransport,
    APIResponse,
    Conversation,
    Document,
    FileUploadStrategy,
    Image,
    InputError,
    LLMClient,
    RetryPolicy,
    ServerError,
    Simulator,
    Timeouts,
    ToolCall,
    ToolResult,
    configure,
)
from cloudburst._config import default_file_uploads

MiB = 1024 * 1024
MODELS = {"openai": "gpt-4.1-mini", "anthropic": "claude-haiku-4-5", "gemini": "gemini-2.5-flash"}


def _pdf(size: int, seed: int = 0) -> bytes:
    return b"%PDF-1.4\n" + random.Random(seed).randbytes(size - 9)


class Recording(AiohttpTransport):
    """The default transport, keeping each request's URL and body size (and small bodies)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str, int, bytes]] = []

    async def send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes, timeouts: Timeouts, *, pool: str
    ) -> Any:
        self.sent.append((method, url, len(body), body if len(body) < 64 * 1024 else b""))
        return await super().send(method, url, headers, body, timeouts, pool=pool)

    def run(self, client: LLMClient, prompts: list[Any]) -> list[APIResponse]:
        """The client's job, closing this transport after it (a caller's transport stays open)."""

        async def job() -> list[APIResponse]:
            try:
                return await client.run_async(prompts)
            finally:
                await self.aclose()

        return asyncio.run(job())

    def chat(self) -> list[tuple[str, str, int, bytes]]:
        return [s for s in self.sent if "/files" not in s[1] and "upload" not in s[1]]


def _stats(sim: Simulator) -> dict[str, Any]:
    stats: dict[str, Any] = httpx.get(sim.url + "/_sim/stats").json()
    return stats


def _prompts(document: Document, count: int) -> list[Conversation]:
    return [Conversation.user([document, f"Question {i}: what does it say?"]) for i in range(count)]


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_one_8_mb_pdf_shared_by_100_prompts_is_uploaded_once_and_named_by_id_in_every_request(
    sim_env: Simulator, provider: str
) -> None:
    sim_env.configure(file_processing_seconds=0.2)  # Gemini: PROCESSING first, polled until ACTIVE
    transport = Recording()
    client = LLMClient(MODELS[provider], progress=None, transport=transport)
    results = transport.run(client, _prompts(Document(data=_pdf(8 * MiB), filename="report.pdf"), 100))
    assert all(r.error is None for r in results), [r.error for r in results if r.error][:3]
    stats = _stats(sim_env)
    assert stats["uploads"] == {provider: 1}
    assert stats["upload_bytes"][provider] >= 8 * MiB
    chat = transport.chat()
    assert len(chat) == 100
    file_ids = {_named_file(orjson.loads(body)) for _, _, size, body in chat}
    assert len(file_ids) == 1 and None not in file_ids
    assert max(size for _, _, size, _ in chat) < 4096  # the PDF itself went once, by upload


def _named_file(body: dict[str, Any]) -> str | None:
    """The one file a request names, in whichever provider's shape."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key in ("file_id", "fileUri") and isinstance(item, str):
                    found.append(item)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(body)
    return found[0] if len(found) == 1 else None


def test_a_100_kb_image_goes_inline(sim_env: Simulator) -> None:
    transport = Recording()
    client = LLMClient(MODELS["anthropic"], progress=None, transport=transport)
    image = Image(data=random.Random(1).randbytes(100 * 1024), media_type="image/png")
    [result] = transport.run(client, [Conversation.user([image, "What is this?"])])
    assert result.error is None
    assert _stats(sim_env)["uploads"] == {}
    [(_, _, size, _)] = transport.sent
    assert size > 100 * 1024 * 4 // 3  # the image's base64 is in the request


def test_a_25_mb_pdf_to_gemini_goes_through_the_files_api(sim_env: Simulator) -> None:
    transport = Recording()
    client = LLMClient(MODELS["gemini"], progress=None, transport=transport)
    [result] = transport.run(client, [Conversation.user([Document(data=_pdf(25 * MiB)), "Summarise."])])
    assert result.error is None
    assert _stats(sim_env)["uploads"] == {"gemini": 1}
    [(_, url, size, body)] = transport.chat()
    assert url.endswith(":generateContent") and size < 4096
    assert "/v1beta/files/" in orjson.loads(body)["contents"][0]["parts"][0]["fileData"]["fileUri"]


def test_with_uploads_off_the_same_pdf_goes_inline_in_every_request(sim_env: Simulator) -> None:
    transport = Recording()
    client = LLMClient(
        MODELS["anthropic"], progress=None, transport=transport, file_uploads=FileUploadStrategy(prefer="inline")
    )
    results = transport.run(client, _prompts(Document(data=_pdf(2 * MiB)), 3))
    assert all(r.error is None for r in results)
    assert _stats(sim_env)["uploads"] == {}
    assert all(size > 2 * MiB for _, _, size, _ in transport.sent)


def test_a_file_over_every_limit_is_an_input_error_before_anything_is_sent(sim_env: Simulator) -> None:
    # Bedrock's Converse takes documents inline only, up to 4.5 MB each, and has no Files API
    client = LLMClient("bedrock-claude-haiku-4-5@converse", progress=None)
    small, big = Document(data=_pdf(1 * MiB)), Document(data=_pdf(5 * MiB))
    too_big, fine = client.run([Conversation.user([big, "Summarise."]), Conversation.user([small, "Summarise."])])
    assert isinstance(too_big.error, InputError)
    assert "Amazon Bedrock cannot take a application/pdf document of 5,242,880 bytes" in str(too_big.error)
    assert "inline up to 4,718,592 bytes" in str(too_big.error) and "no Files API" in str(too_big.error)
    assert fine.error is None
    assert _stats(sim_env)["requests"] == 1  # only the prompt that fits was sent


def test_a_second_run_reuses_the_stored_upload_until_it_expires(sim_env: Simulator, tmp_path: Path) -> None:
    store = tmp_path / "uploads.sqlite"
    strategy = FileUploadStrategy(store=store)
    document = Document(data=_pdf(1 * MiB, seed=7))
    for _ in range(2):  # two clients, as two runs would be
        client = LLMClient(MODELS["gemini"], progress=None, file_uploads=strategy)
        assert all(r.error is None for r in client.run(_prompts(document, 5)))
    assert _stats(sim_env)["uploads"] == {"gemini": 1}
    with sqlite3.connect(store) as db:  # the provider said 48 hours; pretend they have passed
        db.execute("UPDATE uploads SET expires_at = 0")
    client = LLMClient(MODELS["gemini"], progress=None, file_uploads=strategy)
    assert all(r.error is None for r in client.run(_prompts(document, 5)))
    assert _stats(sim_env)["uploads"] == {"gemini": 2}


def test_delete_after_deletes_the_jobs_uploads_and_forgets_them(sim_env: Simulator, tmp_path: Path) -> None:
    store = tmp_path / "uploads.sqlite"
    client = LLMClient(MODELS["openai"], progress=None, file_uploads=FileUploadStrategy(store=store, delete_after=True))
    assert all(r.error is None for r in client.run(_prompts(Document(data=_pdf(1 * MiB)), 3)))
    files = httpx.get(sim_env.url + "/v1/files", headers={"authorization": "Bearer sk-test"}).json()
    assert files["data"] == []
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT count(*) FROM uploads").fetchone() == (0,)


@pytest.mark.parametrize("fallback", [True, False])
def test_a_failed_upload_fails_only_the_prompts_that_need_it_or_goes_inline(sim_env: Simulator, fallback: bool) -> None:
    sim_env.configure(upload_fault_fraction=1.0)
    client = LLMClient(
        MODELS["anthropic"],
        progress=None,
        retry=RetryPolicy(max_attempts=2, backoff_base=0.01),
        file_uploads=FileUploadStrategy(fallback_inline=fallback),
    )
    prompts: list[Conversation | str] = [*_prompts(Document(data=_pdf(1 * MiB)), 5), "Just text.", "More text."]
    results = client.run(prompts)
    assert [r.error for r in results[5:]] == [None, None]
    if fallback:
        assert all(r.error is None for r in results[:5])
    else:
        assert all(isinstance(r.error, ServerError) for r in results[:5])
    assert _stats(sim_env)["uploads"] == {}


def test_configure_sets_the_process_default_and_a_client_argument_wins(sim_env: Simulator) -> None:
    before = default_file_uploads()
    try:
        configure(file_uploads=FileUploadStrategy(prefer="upload"))
        transport = Recording()
        image = Image(data=random.Random(2).randbytes(10 * 1024), media_type="image/png")
        transport.run(
            LLMClient(MODELS["anthropic"], progress=None, transport=transport), [Conversation.user([image, "Hi"])]
        )
        assert _stats(sim_env)["uploads"] == {"anthropic": 1}  # even a small file, as asked
        own = LLMClient(MODELS["anthropic"], progress=None, file_uploads=FileUploadStrategy(prefer="inline"))
        own.run([Conversation.user([Image(data=b"x" * 10, media_type="image/png"), "Hi"])])
        assert _stats(sim_env)["uploads"] == {"anthropic": 1}
    finally:
        configure(file_uploads=before)


def test_a_strategy_with_a_bad_preference_is_refused() -> None:
    with pytest.raises(ValueError, match="must be 'auto', 'inline' or 'upload'"):
        FileUploadStrategy(providers={"openai": "always"})  # type: ignore[dict-item]


def test_from_path_gives_one_object_per_unchanged_file_so_it_is_read_once(tmp_path: Path) -> None:
    from cloudburst import Document, Image

    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(b"%PDF-1.4 first")
    first = Document.from_path(pdf)
    assert Document.from_path(str(pdf)) is first and first.filename == "report.pdf"
    pdf.write_bytes(b"%PDF-1.4 second, longer")  # changed: read again
    assert Document.from_path(pdf).data == b"%PDF-1.4 second, longer"
    png = tmp_path / "a.png"
    png.write_bytes(b"\x89PNG")
    assert Image.from_path(png) is Image.from_path(png) and Image.from_path(png).media_type == "image/png"


def test_a_plain_text_document_goes_to_anthropic_as_text_and_the_simulators_take_it(sim_env: Simulator) -> None:
    notes = Document(data=b"Notes: the meeting moved to Tuesday.", media_type="text/plain", filename="n.txt")
    for provider in ("anthropic", "gemini"):
        transport = Recording()
        client = LLMClient(MODELS[provider], progress=None, transport=transport)
        [result] = transport.run(client, [Conversation.user([notes, "When is the meeting?"])])
        assert result.error is None, (provider, result.error)
        [(_, _, _, body)] = transport.chat()
        text = b"Notes: the meeting moved to Tuesday."
        assert (text in body) == (provider == "anthropic")  # Gemini takes it inline as base64


def test_a_pdf_a_tool_returned_is_uploaded_and_named_in_the_function_response(sim_env: Simulator) -> None:
    transport = Recording()
    strategy = FileUploadStrategy(providers={"gemini": "upload"})
    client = LLMClient("gemini-3.8-flash", progress=None, transport=transport, file_uploads=strategy)
    call = ToolCall("call_1", "fetch_report", {}, "{}")
    result = ToolResult("call_1", ["The Q3 report.", Document(data=_pdf(64 * 1024), filename="q3.pdf")])
    turn = Conversation.user("Fetch the Q3 report.").assistant([call]).tool([result]).user("Summarise it.")
    [answer] = transport.run(client, [turn])
    assert answer.error is None
    assert _stats(sim_env)["uploads"] == {"gemini": 1}
    [(_, _, _, body)] = transport.chat()
    response = orjson.loads(body)["contents"][2]["parts"][0]["functionResponse"]
    [part] = response["parts"]
    assert "/v1beta/files/" in part["fileData"]["fileUri"] and part["fileData"]["mimeType"] == "application/pdf"
