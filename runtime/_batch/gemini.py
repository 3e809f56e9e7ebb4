"""Gemini's Batch Mode (ai.google.dev/gemini-api/docs/batch-mode).

A part is one `models/{model}:batchGenerateContent` call: its requests inline when they add up
to less than the spec's `inline_max_bytes` (20 MB), else a JSONL file (`{"key", "request"}` a
line) sent first through the Files API's resumable upload. The batch's display name carries the
job and part, which is how one created just before a crash is found again. The answer is a
long-running operation (`batches/...`) whose metadata is the batch; once ended, its output holds
the responses inline, in input order, or names a responses file to download.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from cloudburst._batch.control import Control
from cloudburst._batch.manifest import Manifest, Part
from cloudburst._batch.protocol import Item, Save, counted
from cloudburst._errors import BatchCancelledError, BatchExpiredError, InvalidResponseError
from cloudburst._files import expand_url
from cloudburst._providers import ProviderInfo
from cloudburst._route import Route
from cloudburst._wire import dig

ENDED = {
    "BATCH_STATE_SUCCEEDED": "completed",
    "BATCH_STATE_FAILED": "failed",
    "BATCH_STATE_CANCELLED": "cancelled",
    "BATCH_STATE_EXPIRED": "expired",
}
CANCELLED, DEADLINE_EXCEEDED = 1, 4
"""The gRPC codes of a request a cancelled batch never ran, and of one its window closed on."""
INLINE = "inline"
"""`Part.results` of a batch whose responses are in the operation itself."""


class GeminiBatches:
    def __init__(self, provider: ProviderInfo) -> None:
        assert provider.batch is not None
        self.inline_max_bytes = provider.batch.inline_max_bytes or 0
        self.error_status = provider.batch.item_error_status
        upload = provider.files.upload
        assert upload is not None, "a Gemini batch bigger than its inline limit goes through its Files API"
        self.upload_template = upload.url
        """A failed request's Status carries a gRPC code: the HTTP status it stands for."""

    def line(self, custom_id: str, route: Route, body: bytes) -> bytes:
        return b'{"key":"%s","request":%s}' % (custom_id.encode(), body)

    def upload_url(self, base_url: str) -> str:
        return expand_url(self.upload_template, base_url)

    def _name(self, job: Manifest, part: Part) -> str:
        return f"cloudburst-{job.id}-{part.name}"

    async def submit(self, job: Manifest, part: Part, route: Route, control: Control, save: Save) -> None:
        path = job.file(part, "input")
        if part.size <= self.inline_max_bytes:
            requests = [
                {"request": item["request"], "metadata": {"key": item["key"]}}
                for item in map(orjson.loads, path.read_bytes().splitlines())
            ]
            source: dict[str, Any] = {"requests": {"requests": requests}}
        else:
            if part.input_file is None:
                part.input_file = await self._upload(job, part, control)
                save()
            source = {"fileName": part.input_file}
        operation = await control.json(
            "POST",
            f"/models/{route.model.name}:batchGenerateContent",
            {"batch": {"displayName": self._name(job, part), "inputConfig": source}},
        )
        part.provider_id = str(operation["name"])

    async def _upload(self, job: Manifest, part: Part, control: Control) -> str:
        """The part's file through the resumable protocol: start, then upload and finalize."""
        path = job.file(part, "input")
        _, headers, _ = await control.call(
            "POST",
            self.upload_url(control.base_url),
            lambda: orjson.dumps({"file": {"displayName": f"{self._name(job, part)}.jsonl"}}),
            {
                "content-type": "application/json",
                "x-goog-upload-protocol": "resumable",
                "x-goog-upload-command": "start",
                "x-goog-upload-header-content-length": str(part.size),
                "x-goog-upload-header-content-type": "application/jsonl",
            },
        )
        url = headers.get("x-goog-upload-url")
        if not url:
            raise InvalidResponseError("Gemini started an upload without an x-goog-upload-url header")
        answer = await control.json(
            "POST",
            url,
            stream=lambda: path.open("rb"),
            headers={"x-goog-upload-command": "upload, finalize", "x-goog-upload-offset": "0"},
        )
        return str(answer["file"]["name"])

    async def find(self, job: Manifest, part: Part, control: Control) -> str | None:
        token: str | None = None
        while True:
            page = await control.json("GET", "/batches?pageSize=100" + (f"&pageToken={token}" if token else ""))
            for operation in page.get("operations") or page.get("batches") or []:
                if (operation.get("metadata") or {}).get("displayName") == self._name(job, part):
                    return str(operation["name"])
            token = page.get("nextPageToken")
            if not token:
                return None

    async def poll(self, part: Part, control: Control) -> None:
        operation = await control.json("GET", f"/{part.provider_id}")
        batch = operation.get("metadata") or {}
        state = batch.get("state")
        part.state = state
        raw = counted(batch.get("batchStats") or {})
        part.counts = {
            "succeeded": raw.get("successfulRequestCount", 0),
            "errored": raw.get("failedRequestCount", 0),
            "pending": raw.get("pendingRequestCount", 0),
        }
        if state not in ENDED:
            return
        part.outcome = ENDED[state]
        if state == "BATCH_STATE_FAILED":
            error = operation.get("error") or {}
            part.error = str(error.get("message") or "Gemini failed the batch without saying why")
        output = batch.get("output") or operation.get("response") or {}
        part.results = [str(output["responsesFile"])] if output.get("responsesFile") else [INLINE]
        part.step = "ended"

    async def fetch(self, job: Manifest, part: Part, control: Control) -> None:
        into = job.file(part, "results0")
        if part.results != [INLINE]:
            await control.download(f"{_root(control.base_url, 'download')}/{part.results[0]}:download?alt=media", into)
            return
        operation = await control.json("GET", f"/{part.provider_id}")
        output = dig(operation, ("metadata", "output")) or operation.get("response")
        responses = dig(output, ("inlinedResponses", "inlinedResponses"))
        keys = [orjson.loads(line)["key"] for line in job.file(part, "input").read_bytes().splitlines()]
        lines = []
        for position, item in enumerate(responses if isinstance(responses, list) else ()):
            result = item if isinstance(item, dict) else {}  # its request's result says what is wrong
            key = dig(result, ("metadata", "key")) or (keys[position] if position < len(keys) else None)
            lines.append(orjson.dumps({"key": key, **{k: v for k, v in result.items() if k != "metadata"}}))
        aside = into.with_suffix(".download")
        aside.write_bytes(b"".join(line + b"\n" for line in lines))
        aside.replace(into)

    def items(self, record: Any) -> Iterator[tuple[Any, Item]]:
        key = record.get("key") if isinstance(record, dict) else None
        if isinstance(record, dict) and isinstance(record.get("response"), dict):
            yield key, (200, record["response"])
        elif isinstance(record, dict) and isinstance(record.get("error"), dict):
            error = record["error"]
            code = error.get("code")
            message = f"Gemini: {error.get('message') or 'the request did not run'}"
            if code == CANCELLED:
                yield key, BatchCancelledError(message, provider_code=str(code), body=error)
            elif code == DEADLINE_EXCEEDED:
                yield key, BatchExpiredError(message, provider_code=str(code), body=error)
            else:
                yield key, (self.error_status.get(str(code), 500), {"error": error})
        else:
            yield key, InvalidResponseError("a Gemini batch result with neither a response nor an error", body=record)

    async def cancel(self, part: Part, control: Control) -> None:
        await control.json("POST", f"/{part.provider_id}:cancel")


def _root(base_url: str, kind: str) -> str:
    """The download root beside the API's: `.../v1beta` → `.../download/v1beta` (the spec's
    Files API names no download URL: Gemini downloads only files it wrote)."""
    head, _, version = base_url.rstrip("/").rpartition("/")
    return f"{head}/{kind}/{version}"
