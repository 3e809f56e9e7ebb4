"""Read a YAML spec file into plain data while remembering the line of every key.

PyYAML forgets where things were once it builds Python objects, and silently keeps the last of
two equal keys. Composing the node tree ourselves keeps both: a line for each path, and an error
for each duplicate key.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from codegen.errors import Problem, SpecError

PathKey = tuple[str | int, ...]

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class SpecFile:
    """A loaded spec file: its data, and the line (1-based) where each path starts."""

    path: Path
    data: Any
    lines: dict[PathKey, int] = field(default_factory=dict)

    def line_of(self, loc: PathKey) -> int:
        """Line of `loc`, or of its closest ancestor that exists (a missing key is reported
        where its parent is)."""
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.lines:
                return self.lines[loc[:end]]
        return 1

    def problem(self, loc: PathKey, message: str) -> Problem:
        return Problem(self.path, self.line_of(loc), message)


def load_spec_file(path: Path, shown_as: Path | None = None) -> SpecFile:
    """Parse one YAML file. Raises SpecError for a syntax error or a duplicate key."""
    shown = shown_as or path
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError([Problem(shown, 1, f"not UTF-8 text: {exc}")]) from None
    try:
        root = _compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        reason = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise SpecError([Problem(shown, line, f"YAML syntax error: {reason}")]) from None
    spec = SpecFile(shown, None)
    problems: list[Problem] = []
    spec.data = _build(root, (), spec, problems) if root is not None else {}
    if problems:
        raise SpecError(problems)
    return spec


@functools.lru_cache(maxsize=64)
def _compose(text: str) -> yaml.Node | None:
    """The node tree of a file's text; remembered, as composing is most of a generation that
    reuses its schemas, and a run checking many changes of one file (the spec fuzz test) reads
    the same other files each time. Nodes are only read, never changed."""
    return yaml.compose(text, Loader=_Loader)


_scalars = yaml.constructor.SafeConstructor()


def _build(node: yaml.Node, loc: PathKey, spec: SpecFile, problems: list[Problem]) -> Any:
    spec.lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalars.construct_object(key_node)
            if not isinstance(key, (str, int)):
                problems.append(Problem(spec.path, key_node.start_mark.line + 1, "a key must be a string"))
                continue
            if key in out:
                first = spec.lines[(*loc, key)]
                problems.append(
                    Problem(
                        spec.path,
                        key_node.start_mark.line + 1,
                        f"duplicate key {key!r} (first defined on line {first})",
                    )
                )
                continue
            spec.lines[(*loc, key)] = key_node.start_mark.line + 1
            out[key] = _build(value_node, (*loc, key), spec, problems)
            spec.lines[(*loc, key)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*loc, i), spec, problems) for i, item in enumerate(node.value)]
    return _scalars.construct_object(node)
