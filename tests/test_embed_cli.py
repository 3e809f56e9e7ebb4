"""`cloudburst embed` against the simulator: one line per text, bad lines their own results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cloudburst._cli import main
from cloudburst._sim import answers


def test_embed_writes_one_line_per_text_and_names_bad_lines(tmp_path: Path) -> None:
    texts = tmp_path / "texts.jsonl"
    lines = [json.dumps({"id": f"t{i}", "text": f"line {i}"}) for i in range(2100)]
    lines[5] = "not json"
    lines[7] = json.dumps({"id": "n", "text": 7})
    texts.write_text("\n".join(lines) + "\n\n")
    output = tmp_path / "vectors.jsonl"
    argv = [str(texts), "-o", str(output), "--model", "text-embedding-3-small", "--dimensions", "8"]
    code = main(["embed", *argv, "--simulate", "--progress", "off"])
    assert code == 1  # two lines failed
    results = {r["index"]: r for r in map(json.loads, output.read_text().splitlines())}
    assert sorted(results) == list(range(2100))
    assert results[2099]["id"] == "t2099"
    assert results[2099]["embedding"] == pytest.approx(answers.embedding("line 2099", 8))
    assert results[5]["error"]["kind"] == "input" and f"{texts}:6: not JSON" in results[5]["error"]["message"]
    assert results[7]["id"] == "n" and f"{texts}:8:" in results[7]["error"]["message"]
    assert main(["embed", *argv, "--simulate", "--progress", "off"]) == 2  # the output exists: not replaced
