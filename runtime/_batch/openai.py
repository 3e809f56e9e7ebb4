"""OpenAI's Batch API (platform.openai.com/docs/guides/batch; also the OpenAI-compatible hosts
that offer it).

A part is a JSONL file (`{"custom_id", "method", "url", "body"}` a line) uploaded through the
Files API with purpose `batch`, then a batch for the endpoint the model's requests go to, its
job and part in `metadata` (how a batch created just before a crash is found again). Once
ended, answers are in `output_file_id`, failed and expired requests in `error_file_id`, neither
in input order; a cancelled or expired batch leaves the requests it never ran out of both.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

from cloudburst._batch.control import Control
from cloudburst._batch.manifest import Manifest, Part
from cloudburst._batch.protocol import Item, Save, counted
from cloudburst._constants import BATCH_LOOKUP_SLACK_SECONDS
from cloudburst._errors import BatchCancelledError, BatchExpiredError, InvalidResponseError, ServerError
from cloudburst._route import Route

ENDED = {"completed": "completed", "expired": "expired", "cancelled": "cancelled", "failed": "failed"}
"""Final batch statuses → the job's outcomes; validating, in_progress, finalizing and
cancelling are on the way."""


class OpenAIBatches:
    def line(self, custom_id: str, route: Route, body: bytes) -> bytes:
        url = urlsplit(route.url).path  # "/v1/chat/completions", as the line's `url` must be
        return b'{"custom_id":"%s","method":"POST","url":%s,"body":%s}' % (custom_id.encode(), orjson.dumps(url), body)

    async def submit(self, job: Manifest, part: Part, route: Route, control: Control, save: Save) -> None:
        if part.input_file is None:
            path = job.file(part, "input")

            def form() -> aiohttp.FormData:
                data = aiohttp.FormData()
                data.add_field("purpose", "batch")
                data.add_field(
                    "file",
                    path.open("rb"),  # aiohttp reads it off the loop and closes it
                    filename=f"{job.id}-{part.name}.jsonl",
                    content_type="application/jsonl",
                )
                return data

            uploaded = await control.json("POST", "/files", stream=form)
            part.input_file = str(uploaded["id"])
            save()
        batch = await control.json(
            "POST",
            "/batches",
            {
                "input_file_id": part.input_file,
                "endpoint": urlsplit(route.url).path,
                "completion_window": "24h",
                "metadata": {"cloudburst_job": job.id, "cloudburst_part": str(part.number)},
            },
        )
        part.provider_id = str(batch["id"])

    async def find(self, job: Manifest, part: Part, control: Control) -> str | None:
        after: str | None = None
        since = (part.submit_started or job.created_at) - BATCH_LOOKUP_SLACK_SECONDS
        while True:
            page = await control.json("GET", "/batches?limit=100" + (f"&after={after}" if after else ""))
            batches = page.get("data") or []
            for batch in batches:
                meta = batch.get("metadata") or {}
                if meta.get("cloudburst_job") == job.id and meta.get("cloudburst_part") == str(part.number):
                    return str(batch["id"])
            if not page.get("has_more") or not batches or (batches[-1].get("created_at") or 0) < since:
                return None
            after = batches[-1]["id"]

    async def poll(self, part: Part, control: Control) -> None:
        batch = await control.json("GET", f"/batches/{part.provider_id}")
        status = batch.get("status")
        part.state = status
        raw = counted(batch.get("request_counts") or {})
        done, failures = raw.get("completed", 0), raw.get("failed", 0)
        pending = max(0, raw.get("total", part.requests) - done - failures)
        part.counts = {"succeeded": done, "errored": failures, "pending": pending}
        if status not in ENDED:
            return
        part.outcome = ENDED[status]
        part.results = [str(batch[name]) for name in ("output_file_id", "error_file_id") if batch.get(name)]
        if status == "failed":
            errors = (batch.get("errors") or {}).get("data") or []
            part.error = (
                "; ".join(
                    f"line {e.get('line')}: {e.get('message')}" if e.get("line") else str(e.get("message"))
                    for e in errors
                )
                or "OpenAI failed the batch without saying why"
            )
        part.step = "ended"

    async def fetch(self, job: Manifest, part: Part, control: Control) -> None:
        for number, file_id in enumerate(part.results):
            await control.download(f"/files/{file_id}/content", job.file(part, f"results{number}"))

    def items(self, record: Any) -> Iterator[tuple[Any, Item]]:
        custom = record.get("custom_id") if isinstance(record, dict) else None
        response = record.get("response") if isinstance(record, dict) else None
        error = record.get("error") if isinstance(record, dict) else None
        if isinstance(response, dict) and isinstance(response.get("status_code"), int):
            yield custom, (response["status_code"], response.get("body"))
        elif isinstance(error, dict):
            code, message = error.get("code"), str(error.get("message") or "")
            if code == "batch_expired":
                yield custom, BatchExpiredError(f"OpenAI: {message}", provider_code=code, body=error)
            elif code == "batch_cancelled":
                yield custom, BatchCancelledError(f"OpenAI: {message}", provider_code=code, body=error)
            else:
                yield custom, ServerError(f"OpenAI batch error {code}: {message}", provider_code=code, body=error)
        else:
            yield (
                custom,
                InvalidResponseError("an OpenAI batch result line with neither a response nor an error", body=record),
            )

    async def cancel(self, part: Part, control: Control) -> None:
        await control.json("POST", f"/batches/{part.provider_id}/cancel")
