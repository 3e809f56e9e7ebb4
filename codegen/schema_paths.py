"""Walk JSON Schemas: follow `$ref`s, find the schema at a body path, list every reference."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

REF_PREFIX = "#/schemas/"

Schemas = Mapping[str, Mapping[str, Any]]


def split_path(path: str) -> tuple[str | int, ...]:
    """`choices.0.message` -> ("choices", 0, "message"): numbers index lists (`*` is every
    element)."""
    return tuple(int(part) if part.isdigit() else part for part in path.split("."))


def deref(schemas: Schemas, node: Mapping[str, Any]) -> Mapping[str, Any]:
    seen: set[str] = set()
    while "$ref" in node:
        name = str(node["$ref"]).removeprefix(REF_PREFIX)
        if name in seen or name not in schemas or not isinstance(schemas[name], Mapping):
            return {}
        seen.add(name)
        node = schemas[name]
    return node


def branches(schemas: Schemas, node: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """The node and, recursively, every allOf/anyOf/oneOf alternative inside it (none for a
    reference that leads nowhere)."""
    if not isinstance(node, Mapping):
        return  # a malformed schema, reported by the keyword checks
    target = deref(schemas, node)
    if "$ref" in node and not target:
        return
    node = target
    yield node
    for keyword in ("allOf", "anyOf", "oneOf"):
        alternatives = node.get(keyword, [])
        for branch in alternatives if isinstance(alternatives, list) else ():
            yield from branches(schemas, branch)


def schema_at(schemas: Schemas, root: str, path: tuple[str | int, ...]) -> Mapping[str, Any] | None:
    """The schema of the value at `path` in a body of schema `root`, or None if no alternative of
    the schema has such a field."""
    found = schemas_at(schemas, root, path)
    return found[0] if found else None


def schemas_at(schemas: Schemas, root: str, path: tuple[str | int, ...]) -> list[Mapping[str, Any]]:
    """Every schema the value at `path` may have, one for each alternative leading there (none if
    no alternative has such a field)."""
    frontier: list[Mapping[str, Any]] = [schemas[root]]
    for part in path:
        following: list[Mapping[str, Any]] = []
        for node in frontier:
            for branch in branches(schemas, node):
                if isinstance(part, int) or part == "*":
                    if isinstance(branch.get("items"), Mapping):
                        following.append(branch["items"])
                elif isinstance(branch.get("properties"), Mapping) and part in branch["properties"]:
                    following.append(branch["properties"][part])
                elif _free_form(branch):
                    extra = branch.get("additionalProperties")
                    following.append(extra if isinstance(extra, Mapping) else {})
        if not following:
            return []
        frontier = following
    return frontier


def _free_form(node: Mapping[str, Any]) -> bool:
    """An object that takes any field (a map, or Bedrock's pass-through `document`)."""
    shaped = ("properties", "allOf", "anyOf", "oneOf", "$ref", "enum", "items", "const")
    return (
        not any(key in node for key in shaped)
        and node.get("type") in (None, "object")
        and node.get("additionalProperties", True) is not False
    )


def references(node: Any, loc: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Every `$ref` under node, with where it sits."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "$ref":
                yield loc, str(value)
            else:
                yield from references(value, (*loc, key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from references(item, (*loc, index))
