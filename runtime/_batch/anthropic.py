"""Anthropic's Message Batches (docs.anthropic.com, batch processing).

A part is one create call, `{"requests": [{"custom_id", "params"}, ...]}`, streamed from the
part's file. Anthropic keeps no metadata on a batch, so one created just before a crash is found
by what it does keep: created after the part's submission started, with as many requests as the
part, and not already another part's. Once ended, `results_url` serves one JSONL line per
request, in no set order: `succeeded` (a Message), `errored` (an error as an online answer
would carry it), `canceled` or `expired`: each one becomes a result.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from cloudburst._batch.control import Control, file_chunks
from cloudburst._batch.manifest import Manifest, Part
from cloudburst._batch.protocol import Item, Save, counted
from cloudburst._constants import BATCH_LOOKUP_SLACK_SECONDS
from cloudburst._errors import BatchCancelledError, BatchExpiredError, InvalidResponseError
from cloudburst._providers import ProviderInfo
from cloudburst._route import Route

OPEN, CLOSE = b'{"requests":[', b"]}"
"""What wraps a part's requests into the create call's body."""


class AnthropicBatches:
    def __init__(self, provider: ProviderInfo) -> None:
        assert provider.batch is not None
        self.error_status = provider.batch.item_error_status
        """Errored results carry the error's type, not its HTTP status: the status Anthropic
        answers that type with online (from the spec), so it is classified as online."""

    def line(self, custom_id: str, route: Route, body: bytes) -> bytes:
        return b'{"custom_id":"%s","params":%s}' % (custom_id.encode(), body)

    async def submit(self, job: Manifest, part: Part, route: Route, control: Control, save: Save) -> None:
        path = job.file(part, "input")
        # the part's lines joined by commas instead of newlines, between OPEN and CLOSE
        length = len(OPEN) + part.size - 1 + len(CLOSE)
        batch = await control.json(
            "POST",
            "/messages/batches",
            stream=lambda: file_chunks(path, OPEN, b",", CLOSE),
            headers={"content-type": "application/json", "content-length": str(length)},
        )
        part.provider_id = str(batch["id"])

    async def find(self, job: Manifest, part: Part, control: Control) -> str | None:
        since = (part.submit_started or job.created_at) - BATCH_LOOKUP_SLACK_SECONDS
        taken = {p.provider_id for p in job.parts}
        after: str | None = None
        while True:
            page = await control.json("GET", "/messages/batches?limit=100" + (f"&after_id={after}" if after else ""))
            batches = page.get("data") or []
            for batch in batches:
                if batch.get("id") in taken or _time(batch.get("created_at")) < since:
                    continue
                if sum(counted(batch.get("request_counts") or {}).values()) == part.requests:
                    return str(batch["id"])
            if not page.get("has_more") or not batches or _time(batches[-1].get("created_at")) < since:
                return None
            after = batches[-1]["id"]

    async def poll(self, part: Part, control: Control) -> None:
        batch = await control.json("GET", f"/messages/batches/{part.provider_id}")
        part.state = batch.get("processing_status")
        raw = counted(batch.get("request_counts") or {})
        part.counts = {
            "succeeded": raw.get("succeeded", 0),
            "errored": raw.get("errored", 0),
            "expired": raw.get("expired", 0),
            "cancelled": raw.get("canceled", 0),
            "pending": raw.get("processing", 0),
        }
        if part.state != "ended":
            return
        expired = part.counts.get("expired", 0)
        part.outcome = "cancelled" if batch.get("cancel_initiated_at") else "expired" if expired else "completed"
        url = batch.get("results_url")
        part.results = [str(url)] if url else []
        part.step = "ended"

    async def fetch(self, job: Manifest, part: Part, control: Control) -> None:
        for number, url in enumerate(part.results):
            await control.download(url, job.file(part, f"results{number}"))

    def items(self, record: Any) -> Iterator[tuple[Any, Item]]:
        custom = record.get("custom_id") if isinstance(record, dict) else None
        result = record.get("result") if isinstance(record, dict) else None
        if not isinstance(result, dict):
            yield custom, InvalidResponseError("an Anthropic batch result line without a result", body=record)
            return
        kind = result.get("type")
        if kind == "succeeded":
            yield custom, (200, result.get("message"))
        elif kind == "errored":
            error = result.get("error")
            inner = error.get("error") if isinstance(error, dict) else None
            error_type = inner.get("type") if isinstance(inner, dict) else None
            yield custom, (self.error_status.get(str(error_type), 500), error)
        elif kind == "expired":
            yield custom, BatchExpiredError("Anthropic: the batch expired (24 h) before this request ran")
        elif kind == "canceled":
            yield custom, BatchCancelledError("Anthropic: the batch was canceled before this request ran")
        else:
            yield custom, InvalidResponseError(f"an Anthropic batch result of unknown type {kind!r}", body=record)

    async def cancel(self, part: Part, control: Control) -> None:
        await control.json("POST", f"/messages/batches/{part.provider_id}/cancel")


def _time(value: Any) -> float:
    """An RFC 3339 time as seconds since the epoch; 0 when it is not one."""
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0
