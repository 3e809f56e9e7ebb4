"""A value that matches a JSON Schema, drawn deterministically: the simulator's structured output
and tool-call arguments.

Covers what providers accept in strict mode and a little more: object / properties / required,
arrays with minItems / maxItems, enum and const, strings (with a few formats and length bounds),
numbers and integers with bounds, booleans, null, type lists, anyOf / oneOf / allOf, and `$ref`
into `$defs` or `definitions`. Unknown or empty schemas give a string.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from cloudburst._sim.words import WORDS

MAX_DEPTH = 6
"""Recursive schemas stop here: optional properties are left out and arrays come back empty."""

_FORMATS = {
    "date": "2026-01-15",
    "date-time": "2026-01-15T12:00:00Z",
    "time": "12:00:00",
    "email": "someone@example.com",
    "uri": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def value_for(schema: Any, rng: random.Random) -> Any:
    """A value valid against `schema` (the root, holding any `$defs`)."""
    root = schema if isinstance(schema, Mapping) else {}
    return _value(root, root, rng, 0)


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    seen = 0
    while "$ref" in schema and seen < 32:
        ref = str(schema["$ref"])
        target: Any = root
        for step in ref.removeprefix("#").strip("/").split("/"):
            if step:
                target = (
                    target.get(step.replace("~1", "/").replace("~0", "~"), {}) if isinstance(target, Mapping) else {}
                )
        schema = target if isinstance(target, Mapping) else {}
        seen += 1
    return schema


def _value(schema: Mapping[str, Any], root: Mapping[str, Any], rng: random.Random, depth: int) -> Any:
    schema = _resolve(schema, root)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return rng.choice(list(schema["enum"]))
    for combinator in ("anyOf", "oneOf"):
        options = [_resolve(option, root) for option in schema.get(combinator) or ()]
        if options:
            concrete = [option for option in options if option.get("type") != "null"] or options
            return _value(concrete[0] if depth >= MAX_DEPTH else rng.choice(concrete), root, rng, depth + 1)
    if schema.get("allOf"):
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            part = _resolve(part, root)
            merged.update({k: v for k, v in part.items() if k not in ("properties", "required")})
            merged.setdefault("properties", {}).update(part.get("properties") or {})
            merged["required"] = [*merged.get("required", []), *(part.get("required") or ())]
        return _value(merged, root, rng, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        concrete_kinds = [k for k in kind if k != "null"] or kind
        kind = concrete_kinds[0]
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
    if kind == "object":
        return _object(schema, root, rng, depth)
    if kind == "array":
        return _array(schema, root, rng, depth)
    if kind == "integer":
        low, high = _bounds(schema, 1)
        return rng.randint(int(low), max(int(low), int(high)))
    if kind == "number":
        low, high = _bounds(schema, 0.01)
        return round(low + (high - low) * (0.1 + 0.8 * rng.random()), 2)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    return _string(schema, rng)


def _bounds(schema: Mapping[str, Any], step: float) -> tuple[float, float]:
    """Inclusive bounds from minimum / maximum and their exclusive forms; 0 to 100 by default."""
    low = schema.get("minimum")
    if low is None and "exclusiveMinimum" in schema:
        low = schema["exclusiveMinimum"] + step
    high = schema.get("maximum")
    if high is None and "exclusiveMaximum" in schema:
        high = schema["exclusiveMaximum"] - step
    low = float(low) if low is not None else (float(high) - 100 if high is not None else 0.0)
    high = float(high) if high is not None else low + 100
    return low, max(low, high)


def _object(schema: Mapping[str, Any], root: Mapping[str, Any], rng: random.Random, depth: int) -> dict[str, Any]:
    properties: Mapping[str, Any] = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    return {
        name: _value(sub if isinstance(sub, Mapping) else {}, root, rng, depth + 1)
        for name, sub in properties.items()
        if name in required or depth < MAX_DEPTH
    }


def _array(schema: Mapping[str, Any], root: Mapping[str, Any], rng: random.Random, depth: int) -> list[Any]:
    low = int(schema.get("minItems", 0 if depth >= MAX_DEPTH else 1))
    high = int(schema.get("maxItems", max(low, 3)))
    count = low if depth >= MAX_DEPTH else rng.randint(low, max(low, high))
    items = schema.get("items")
    item_schema = items if isinstance(items, Mapping) else {}
    return [_value(item_schema, root, rng, depth + 1) for _ in range(count)]


def _string(schema: Mapping[str, Any], rng: random.Random) -> str:
    fmt = schema.get("format")
    if isinstance(fmt, str) and fmt in _FORMATS:
        return _FORMATS[fmt]
    low = int(schema.get("minLength", 1))
    high = int(schema.get("maxLength", max(low, 40)))
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4)))
    while len(text) < low:
        text += " " + rng.choice(WORDS)
    return text[:high]


def strict_problem(schema: Any, openai: bool) -> tuple[tuple[str, ...], str] | None:
    """What a provider's strict mode refuses in a tool's schema, or None: the context (the path
    of keys to the node) and the rule broken, as OpenAI words it. Every object must say
    `additionalProperties: false`; OpenAI also wants every property required and a `$ref` alone."""
    return _strict(schema, (), openai)


_SUBSCHEMA_MAPS = ("properties", "$defs", "definitions")
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf")


def _strict(node: Any, context: tuple[str, ...], openai: bool) -> tuple[tuple[str, ...], str] | None:
    if not isinstance(node, Mapping):
        return None
    if openai and "$ref" in node and len(node) > 1:
        return context, "$ref cannot have keywords {" + ", ".join(repr(k) for k in sorted(node) if k != "$ref") + "}."
    if node.get("type") == "object" or "properties" in node:
        if node.get("additionalProperties") is not False:
            return context, "'additionalProperties' is required to be supplied and to be false."
        required = set(node.get("required") or ())
        missing = [name for name in node.get("properties") or {} if name not in required]
        if openai and missing:
            return context, (
                "'required' is required to be supplied and to be an array including every key in properties. "
                f"Missing '{missing[0]}'."
            )
    children: list[tuple[tuple[str, ...], Any]] = []
    for key in _SUBSCHEMA_MAPS:
        children += [((*context, key, name), sub) for name, sub in (node.get(key) or {}).items()]
    for key in _SUBSCHEMA_LISTS:
        children += [((*context, key, str(index)), sub) for index, sub in enumerate(node.get(key) or ())]
    if "items" in node:
        children.append(((*context, "items"), node["items"]))
    for where, child in children:
        found = _strict(child, where, openai)
        if found is not None:
            return found
    return None
