"""Mutations of the real spec files, made in their text so every line stays where it was: a value
replaced by one of another type, a key deleted or renamed, a string swapped for a wrong one.
tests/test_spec_fuzz.py draws them with hypothesis; bench/spec_fuzz.py runs many more.
"""

from __future__ import annotations

import types
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from codegen.generate import render_all

Loc = tuple[Any, ...]

OTHER_TYPES = {
    "str": ["-1", "2.5", "true", "[1, 2]", "{zz: 1}"],
    "int": ["zz", "true", "[1, 2]", "{zz: 1}", "2.5"],
    "float": ["zz", "true", "[1, 2]", "{zz: 1}"],
    "bool": ["zz", "7", "[1, 2]", "{zz: 1}"],
    "null": ["zz", "-1", "[1, 2]", "{zz: 1}"],
    "list": ["zz", "-1", "true", "{zz: 1}"],
    "dict": ["zz", "-1", "true", "[1, 2]"],
}
"""What a value of each YAML type is replaced by: values of every other type."""


@dataclass(frozen=True)
class Mutation:
    file: str
    """Relative to specs/."""
    kind: str
    """`retype`, `delete`, `rename` or `reword`."""
    loc: Loc
    line: int
    start: int
    end: int
    replacement: str

    def apply(self, text: str) -> str:
        return text[: self.start] + self.replacement + text[self.end :]

    def __str__(self) -> str:
        where = ".".join(str(part) for part in self.loc)
        return f"{self.kind} specs/{self.file}:{self.line} {where} -> {self.replacement!r}"


def _type_of(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "dict"
    if isinstance(node, yaml.SequenceNode):
        return "list"
    value = yaml.safe_load(yaml.serialize(node))
    return {bool: "bool", int: "int", float: "float", type(None): "null"}.get(type(value), "str")


def _entries(node: yaml.Node, loc: Loc = ()) -> Iterator[tuple[Loc, yaml.Node | None, yaml.Node, yaml.Node]]:
    """(where, key node or None for a list item, value node, parent node) for every entry."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            where = (*loc, key.value)
            yield where, key, value, node
            yield from _entries(value, where)
    elif isinstance(node, yaml.SequenceNode):
        for index, value in enumerate(node.value):
            yield (*loc, index), None, value, node
            yield from _entries(value, (*loc, index))


def mutations(file: str, text: str) -> list[Mutation]:
    """Every mutation of one spec file's text."""
    root = yaml.compose(text)
    words = sorted(
        {
            value.value
            for _, _, value, _ in _entries(root)
            if isinstance(value, yaml.ScalarNode) and value.tag.endswith(":str") and value.style is None
        }
    )
    out: list[Mutation] = []
    for loc, key, value, parent in _entries(root):
        line = (key or value).start_mark.line + 1
        start, end = value.start_mark.index, value.end_mark.index
        end = start + len(text[start:end].rstrip())
        kind = _type_of(value)
        for other in OTHER_TYPES[kind]:
            out.append(Mutation(file, "retype", loc, line, start, end, other))
        if kind == "str" and value.style is None:
            for word in {value.value + "x", "x" + value.value, words[zlib.crc32(value.value.encode()) % len(words)]}:
                if word != value.value:
                    out.append(Mutation(file, "reword", loc, line, start, end, word))
        if key is None:
            continue
        if key.style is None:
            out.append(Mutation(file, "rename", loc, line, key.start_mark.index, key.end_mark.index, key.value + "x"))
        siblings = [k for k, _ in parent.value]
        index = siblings.index(key)
        if len(siblings) == 1:
            out.append(Mutation(file, "delete", loc, line, parent.start_mark.index, parent.end_mark.index, "{}"))
        elif index + 1 < len(siblings):
            out.append(
                Mutation(file, "delete", loc, line, key.start_mark.index, siblings[index + 1].start_mark.index, "")
            )
        else:
            previous = parent.value[index - 1][1]
            out.append(Mutation(file, "delete", loc, line, previous.end_mark.index, end, ""))
    return out


def spec_files(specs: Path) -> list[str]:
    return sorted(str(p.relative_to(specs)) for p in specs.rglob("*.yaml") if p.name != "README.md")


def changed_modules(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))


def runs(source: str, name: str) -> None:
    """Execute a generated module's source as a fresh module (its imports are the installed
    package's), as importing it would."""
    module = types.ModuleType(f"cloudburst.generated._fuzz_{name.replace('/', '_')[:-3]}")
    exec(compile(source, name, "exec"), module.__dict__)


def outcome(specs: Path) -> dict[str, str] | Exception:
    try:
        return render_all(specs)
    except Exception as exc:
        return exc
