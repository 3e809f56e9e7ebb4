"""Chat requests may name uploaded files, as the real APIs allow; an id the provider never
issued is refused the way each provider refuses it."""

from __future__ import annotations

import io

import anthropic
import openai
import pytest

from cloudburst import Simulator

PDF = b"%PDF-1.4 a small document"


def test_openai_chat_and_responses_read_an_uploaded_file_and_refuse_an_unknown_one(sim: Simulator) -> None:
    client = openai.OpenAI(base_url=sim.url + "/v1", api_key="sk-test", max_retries=0)
    uploaded = client.files.create(file=("doc.pdf", io.BytesIO(PDF), "application/pdf"), purpose="user_data")
    part = {"type": "file", "file": {"file_id": uploaded.id}}
    chat = client.chat.completions.create(
        model="gpt-4.1-mini", messages=[{"role": "user", "content": [part, {"type": "text", "text": "Summarise."}]}]
    )
    assert chat.choices[0].message.content
    response = client.responses.create(
        model="gpt-4.1-mini",
        input=[{"role": "user", "content": [{"type": "input_file", "file_id": uploaded.id}]}],
    )
    assert response.output_text
    with pytest.raises(openai.BadRequestError, match="No such File object: file-missing"):
        client.chat.completions.create(
            model="gpt-4.1-mini",
            messages=[{"role": "user", "content": [{"type": "file", "file": {"file_id": "file-missing"}}]}],
        )


def test_anthropic_documents_and_images_read_uploaded_files_and_refuse_an_unknown_one(sim: Simulator) -> None:
    client = anthropic.Anthropic(base_url=sim.url, api_key="sk-ant-test", max_retries=0)
    document = client.files.upload(file=("doc.pdf", io.BytesIO(PDF), "application/pdf"))
    image = client.files.upload(file=("a.png", io.BytesIO(b"\x89PNG\r\n\x1a\n"), "image/png"))
    content = [
        {"type": "document", "source": {"type": "file", "file_id": document.id}},
        {"type": "image", "source": {"type": "file", "file_id": image.id}},
        {"type": "text", "text": "Compare them."},
    ]
    message = client.messages.create(
        model="claude-haiku-4-5", max_tokens=64, messages=[{"role": "user", "content": content}]
    )
    assert message.content
    missing = [{"type": "document", "source": {"type": "file", "file_id": "file_011missing"}}]
    with pytest.raises(anthropic.NotFoundError, match="File not found: file_011missing"):
        client.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=[{"role": "user", "content": missing}])
