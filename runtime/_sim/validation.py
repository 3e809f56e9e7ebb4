"""Request bodies checked against the generated request models, reported the way providers
word their 400s: which parameter, and what is wrong with it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

_TYPE_NAME = re.compile(r"^([A-Z]|(str|int|float|bool|list|dict|literal|function-\w+|json-or-python)\b)|\[")
"""Steps pydantic adds for union members: model names, `str`, `list[...]`, `function-after[...]`."""


@dataclass(frozen=True, slots=True)
class Invalid:
    """The first thing wrong with a request body."""

    path: tuple[str | int, ...]
    kind: str
    """pydantic's error type: `missing`, `extra_forbidden`, `literal_error`, ..."""
    message: str

    def dotted(self) -> str:
        """`messages.0.content`: Anthropic's way of naming a parameter."""
        return ".".join(str(step) for step in self.path)

    def bracketed(self) -> str:
        """`messages[0].content`: OpenAI's way."""
        out = ""
        for step in self.path:
            out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else step)
        return out


def check(model: type[BaseModel], body: Any) -> Invalid | None:
    """None if `body` is valid for `model`, else its first problem."""
    try:
        model.model_validate(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        # a union reports one error per member; the member the body meant is usually the last
        # to fail on a field rather than on its tag, so prefer the deepest location
        first = max(errors, key=lambda error: len(error["loc"]))
        return Invalid(_field_path(first["loc"], body), first["type"], first["msg"])
    return None


def _field_path(loc: tuple[str | int, ...], body: Any) -> tuple[str | int, ...]:
    """The location in the body, without pydantic's union steps (member names, tag values)."""
    path: list[str | int] = []
    node = body
    for step in loc:
        if isinstance(step, str) and _TYPE_NAME.match(step):
            continue
        found, child = _child(node, step)
        if found:
            node = child
            path.append(step)
        elif isinstance(node, dict) and isinstance(step, str) and node and step not in node.values():
            path.append(step)  # a missing or forbidden field: name it, the walk ends here
            node = None
    return tuple(path)


def _child(node: Any, step: str | int) -> tuple[bool, Any]:
    """(whether `node` has `step`, the value there)."""
    if isinstance(node, list) and isinstance(step, int):
        return step < len(node), node[step] if step < len(node) else None
    if isinstance(node, dict) and isinstance(step, str):
        return step in node, node.get(step)
    return False, None
