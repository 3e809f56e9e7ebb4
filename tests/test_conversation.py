"""The unified conversation: builders, parts and what they are on the wire."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloudburst import Conversation, Document, Image, Message, Text
from cloudburst._tokens import prompt_tokens


def test_builders_read_as_they_run_and_never_mutate() -> None:
    start = Conversation.system("Be brief.")
    conversation = start.user("What is 2+2?").assistant("4").user(["And", Text(" 3+3?")])
    assert [m.role for m in conversation.messages] == ["system", "user", "assistant", "user"]
    assert conversation.messages[-1].text == "And 3+3?"
    assert start.messages == (Message("system", (Text("Be brief."),)),)
    assert Conversation.of("hi") == Conversation.user("hi")


def test_parts_from_files_carry_their_media_type(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"\xff\xd8\xff")
    (tmp_path / "b.pdf").write_bytes(b"%PDF-1.4 /Type /Pages /Type /Page /Type /Page")
    image, document = Image.from_path(tmp_path / "a.jpg"), Document.from_path(tmp_path / "b.pdf")
    kind, values = image.wire()
    assert kind == "image_base64"
    assert (values["data"], values["media_type"], values["format"]) == ("/9j/", "image/jpeg", "jpeg")
    kind, values = document.wire()
    assert kind == "document_base64" and values["filename"] == "b.pdf" and values["media_type"] == "application/pdf"
    assert Document(file_id="file-1").wire()[0] == "file_id"
    # two pages: the estimate scales with the pages a PDF really has
    _, (low, high) = prompt_tokens(Conversation.user(document))
    _, (one_low, one_high) = prompt_tokens(Conversation.user(Document(data=b"%PDF-1.4 /Type /Page")))
    assert (low - one_low, high - one_high) == (500, 3000)


def test_a_part_with_nothing_to_send_is_refused() -> None:
    with pytest.raises(ValueError, match="needs a url or data"):
        Image().wire()


def test_a_part_of_the_wrong_type_fails_where_it_is_built_saying_which_field() -> None:
    import pytest

    from cloudburst import Document, Image, Text

    with pytest.raises(TypeError, match=r"Image\.url cannot be a bytes; give bytes as Image\(data=\.\.\.\)"):
        Image(b"\x89PNG")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Text\.text cannot be a NoneType"):
        Text(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Document\.data cannot be a str"):
        Document(data="%PDF")  # type: ignore[arg-type]
