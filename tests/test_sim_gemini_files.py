"""Gemini's Files API as the simulator plays it: google-genai uploads, reads, lists and deletes
files against it; the raw resumable protocol (chunks, offsets, query, cancel) answers as
Google's upload server does; files belong to their key, stay PROCESSING as configured, and a
generateContent naming one is refused as the real API refuses it."""

from __future__ import annotations

import base64
import hashlib
import io
import time
from datetime import timedelta
from typing import Any

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import errors, types

from cloudburst import Simulator

KEY = "AIza-files"
HEADERS = {"x-goog-api-key": KEY}
HTTP = httpx.Client()
MODEL = "gemini-2.5-flash-lite"


@pytest.fixture
def client(sim: Simulator) -> genai.Client:
    return genai.Client(api_key=KEY, http_options={"base_url": sim.url})


def start(sim: Simulator, size: int, key: str = KEY, **file: Any) -> httpx.Response:
    """The resumable upload's first request, exactly as google-genai sends it."""
    return HTTP.post(
        f"{sim.url}/upload/v1beta/files",
        json={"file": file},
        headers={
            "x-goog-api-key": key,
            "X-Goog-Upload-Protocol": "resumable",
            "X-Goog-Upload-Command": "start",
            "X-Goog-Upload-Header-Content-Length": str(size),
            "X-Goog-Upload-Header-Content-Type": "text/plain",
        },
    )


def send(url: str, command: str, offset: int | None = None, chunk: bytes = b"") -> httpx.Response:
    """A request on the upload URL: no API key, as google-genai sends its chunks."""
    headers = {"X-Goog-Upload-Command": command}
    if offset is not None:
        headers["X-Goog-Upload-Offset"] = str(offset)
    return HTTP.post(url, content=chunk, headers=headers)


def upload(sim: Simulator, content: bytes, key: str = KEY, **file: Any) -> dict[str, Any]:
    url = start(sim, len(content), key, **file).headers["x-goog-upload-url"]
    finished = send(url, "upload, finalize", 0, content)
    assert finished.status_code == 200, finished.text
    data: dict[str, Any] = finished.json()["file"]
    return data


def generate_with(sim: Simulator, uri: str, key: str = KEY) -> httpx.Response:
    body = {"contents": [{"parts": [{"fileData": {"fileUri": uri, "mimeType": "text/plain"}}, {"text": "Sum up."}]}]}
    return HTTP.post(f"{sim.url}/v1beta/models/{MODEL}:generateContent", json=body, headers={"x-goog-api-key": key})


def test_sdk_uploads_reads_lists_and_deletes_a_file(sim: Simulator, client: genai.Client) -> None:
    content = b"The quick brown fox.\n" * 100
    uploaded = client.files.upload(
        file=io.BytesIO(content), config={"mime_type": "text/plain", "display_name": "fox notes"}
    )
    assert uploaded.name and uploaded.name.startswith("files/") and uploaded.display_name == "fox notes"
    assert uploaded.size_bytes == len(content) and uploaded.mime_type == "text/plain"
    assert uploaded.state == types.FileState.ACTIVE and uploaded.source == types.FileSource.UPLOADED
    assert uploaded.sha256_hash == base64.b64encode(hashlib.sha256(content).hexdigest().encode()).decode()
    assert uploaded.uri == f"{sim.url}/v1beta/{uploaded.name}" and uploaded.download_uri is None
    assert uploaded.create_time and uploaded.expiration_time == uploaded.create_time + timedelta(hours=48)
    assert client.files.get(name=uploaded.name) == uploaded
    assert [listed.name for listed in client.files.list()] == [uploaded.name]
    answer = client.models.generate_content(
        model=MODEL, contents=[types.Part.from_uri(file_uri=uploaded.uri, mime_type="text/plain"), "Sum up."]
    )
    assert answer.text
    client.files.delete(name=uploaded.name)
    assert list(client.files.list()) == []
    with pytest.raises(errors.ClientError) as gone:
        client.files.get(name=uploaded.name)
    assert gone.value.code == 403 and gone.value.status == "PERMISSION_DENIED"
    assert sim.stats()["uploads"] == {"gemini": 1} and sim.stats()["upload_bytes"] == {"gemini": len(content)}


def test_the_raw_file_resource_has_googles_json_types(sim: Simulator) -> None:
    data = upload(sim, b"abc", displayName="three")
    types.File.model_validate(data)
    assert data["sizeBytes"] == "3" and data["state"] == "ACTIVE" and data["source"] == "UPLOADED"
    assert set(data) == {
        "name",
        "displayName",
        "mimeType",
        "sizeBytes",
        "createTime",
        "updateTime",
        "expirationTime",
        "sha256Hash",
        "uri",
        "state",
        "source",
    }
    assert data["createTime"].endswith("Z") and HTTP.get(data["uri"], headers=HEADERS).json() == data


def test_chunked_upload_with_offsets_query_and_a_recoverable_wrong_offset(sim: Simulator) -> None:
    content = bytes(range(256)) * 40
    begun = start(sim, len(content), displayName="chunks")
    assert begun.status_code == 200 and begun.headers["x-goog-upload-status"] == "active"
    url = begun.headers["x-goog-upload-url"]
    assert url.startswith(f"{sim.url}/upload/v1beta/files?upload_id=")
    first = send(url, "upload", 0, content[:4000])
    assert first.status_code == 200 and first.headers["x-goog-upload-status"] == "active"
    wrong = send(url, "upload", 3000, content[3000:6000])
    assert wrong.status_code == 400 and wrong.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert wrong.headers["x-goog-upload-status"] == "active" and wrong.headers["x-goog-upload-size-received"] == "4000"
    queried = send(url, "query")
    assert queried.headers["x-goog-upload-status"] == "active"
    assert queried.headers["x-goog-upload-size-received"] == "4000"
    assert send(url, "upload", 4000, content[4000:8000]).status_code == 200
    short = send(url, "finalize")
    assert short.status_code == 400 and "10240 were declared" in short.json()["error"]["message"]
    done = send(url, "upload, finalize", 8000, content[8000:])
    assert done.status_code == 200 and done.headers["x-goog-upload-status"] == "final"
    stored = done.json()["file"]
    assert stored["sizeBytes"] == str(len(content))
    assert base64.b64decode(stored["sha256Hash"]).decode() == hashlib.sha256(content).hexdigest()
    assert send(url, "query").status_code == 403  # the session ended with the finalize: its URL is no key
    assert sim.stats()["uploads"] == {"gemini": 1} and sim.stats()["upload_bytes"] == {"gemini": len(content)}


def test_an_upload_past_its_declared_size_is_refused_and_a_cancelled_one_is_gone(sim: Simulator) -> None:
    url = start(sim, 5).headers["x-goog-upload-url"]
    over = send(url, "upload, finalize", 0, b"123456")
    assert over.status_code == 400 and over.headers["x-goog-upload-status"] == "active"
    cancelled = send(url, "cancel")
    assert cancelled.status_code == 200 and cancelled.headers["x-goog-upload-status"] == "cancelled"
    assert send(url, "upload, finalize", 0, b"12345").status_code == 403
    assert HTTP.post(url, headers={**HEADERS, "X-Goog-Upload-Command": "query"}).status_code == 404
    assert sim.stats()["uploads"] == {}


def test_an_upload_over_two_gigabytes_is_refused_at_start(sim: Simulator) -> None:
    refused = start(sim, 2 * 1024**3 + 1)
    assert refused.status_code == 400 and "exceeds the maximum" in refused.json()["error"]["message"]


def test_a_file_is_processing_until_its_delay_passes_and_cannot_be_used_before(sim: Simulator) -> None:
    sim.configure(file_processing_seconds=0.3)
    stored = upload(sim, b"a long video, honestly")
    assert stored["state"] == "PROCESSING"
    refused = generate_with(sim, stored["uri"])
    file_id = stored["name"].removeprefix("files/")
    assert refused.status_code == 400 and refused.json()["error"] == {
        "code": 400,
        "message": f"The File {file_id} is not in an ACTIVE state and usage is not allowed.",
        "status": "FAILED_PRECONDITION",
    }
    deadline = time.monotonic() + 5
    while HTTP.get(stored["uri"], headers=HEADERS).json()["state"] != "ACTIVE":
        assert time.monotonic() < deadline, "the file never became ACTIVE"
        time.sleep(0.02)
    assert generate_with(sim, stored["uri"]).status_code == 200


def test_unknown_files_and_other_keys_files_are_permission_denied(sim: Simulator) -> None:
    mine = upload(sim, b"mine")
    file_id = mine["name"].removeprefix("files/")
    denied = {
        "code": 403,
        "message": f"You do not have permission to access the File {file_id} or it may not exist.",
        "status": "PERMISSION_DENIED",
    }
    other = {"x-goog-api-key": "AIza-someone-else"}
    assert HTTP.get(mine["uri"], headers=other).json()["error"] == denied
    assert HTTP.delete(mine["uri"], headers=other).status_code == 403
    assert generate_with(sim, mine["uri"], key="AIza-someone-else").json()["error"] == denied
    assert HTTP.get(f"{sim.url}/v1beta/files", headers=other).json() == {}
    unknown = generate_with(sim, f"{sim.url}/v1beta/files/doesnotexist")
    assert unknown.status_code == 403 and "File doesnotexist or it may not exist" in unknown.text
    assert HTTP.get(mine["uri"], params={"key": KEY}).json() == mine  # the key may come as ?key=
    assert HTTP.get(mine["uri"]).json()["error"]["status"] == "PERMISSION_DENIED"  # no key at all


def test_listing_pages_through_the_keys_files_newest_first(sim: Simulator) -> None:
    names = [upload(sim, f"file {n}".encode(), name=f"notes-{n}")["name"] for n in range(3)]
    assert names == ["files/notes-0", "files/notes-1", "files/notes-2"]
    first = HTTP.get(f"{sim.url}/v1beta/files", params={"pageSize": 2}, headers=HEADERS).json()
    assert [f["name"] for f in first["files"]] == names[:0:-1]
    second = HTTP.get(
        f"{sim.url}/v1beta/files", params={"pageSize": 2, "pageToken": first["nextPageToken"]}, headers=HEADERS
    ).json()
    assert [f["name"] for f in second["files"]] == names[:1] and "nextPageToken" not in second
    bad = HTTP.get(f"{sim.url}/v1beta/files", params={"pageToken": "!!"}, headers=HEADERS)
    assert bad.status_code == 400
    taken = start(sim, 1, name="files/notes-1")
    assert taken.status_code == 409 and taken.json()["error"]["status"] == "ALREADY_EXISTS"


def test_an_uploaded_file_cannot_be_downloaded(sim: Simulator, client: genai.Client) -> None:
    stored = upload(sim, b"private")
    refused = HTTP.get(f"{stored['uri']}:download", params={"alt": "media"}, headers=HEADERS)
    assert refused.status_code == 400 and refused.json()["error"]["status"] == "INVALID_ARGUMENT"
    with pytest.raises(ValueError, match="uploaded files can't be downloaded"):
        client.files.download(file=types.File.model_validate(stored))  # the SDK refuses first


def test_openai_and_anthropic_uploads_are_counted_too(sim: Simulator) -> None:
    oai = openai.OpenAI(base_url=sim.base_urls()["openai"], api_key="sk-test", max_retries=0)
    oai.files.create(file=("a.jsonl", b'{"x": 1}\n'), purpose="batch")
    ant = anthropic.Anthropic(base_url=sim.url, api_key="sk-ant-test", max_retries=0)
    ant.beta.files.upload(file=("b.txt", b"twelve bytes", "text/plain"))
    stats = sim.stats()
    assert stats["uploads"] == {"anthropic": 1, "openai": 1}
    assert stats["upload_bytes"] == {"anthropic": 12, "openai": 9}
