"""Turn spec data into Python source: literals, JSON templates, paths and type annotations.

These are the few places where the generator writes code from data; each returns a plain
expression or statement a person would have typed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from codegen.schema_paths import REF_PREFIX, Schemas, deref, split_path

_VARIABLE = re.compile(r"\$([a-z_]+)")


def literal(value: Any) -> str:
    """A Python literal for plain YAML data (dicts keep their order)."""
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, tuple):
        return "(" + ", ".join(literal(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, (set, frozenset)):
        return "{" + ", ".join(literal(v) for v in sorted(value)) + "}"
    if isinstance(value, _Raw):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return repr(value)


def call(obj: BaseModel, name: str | None = None) -> str:
    """`Name(field=value, ...)` for a spec model, naming only fields that differ from their
    default; nested spec models become calls too, lists become tuples."""
    arguments = []
    for field, info in type(obj).model_fields.items():
        value = getattr(obj, field)
        if value == info.get_default(call_default_factory=True):
            continue
        arguments.append(f"{field}={_argument(value)}")
    return f"{name or type(obj).__name__}(" + ", ".join(arguments) + ")"


def _argument(value: Any) -> str:
    if isinstance(value, BaseModel):
        return call(value)
    if isinstance(value, list):
        return literal(tuple(_Raw(_argument(v)) for v in value))
    if isinstance(value, Mapping):
        return literal({k: _Raw(_argument(v)) for k, v in value.items()})
    return literal(value)


class _Raw(str):
    """Source text that `literal` must not quote."""


def template(value: Any, variables: Mapping[str, str]) -> str:
    """A Python expression building the JSON template `value`, each `$name` replaced by the
    expression `variables[name]`. A key ending in `?` is left out when its value is None."""
    if isinstance(value, Mapping):
        entries = []
        for key, item in value.items():
            expression = template(item, variables)
            if isinstance(key, str) and key.endswith("?"):
                name = literal(key[:-1])
                entries.append(f"**({{{name}: {expression}}} if {expression} is not None else {{}})")
            else:
                entries.append(f"{literal(key)}: {expression}")
        return "{" + ", ".join(entries) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(template(v, variables) for v in value) + "]"
    if isinstance(value, str) and _VARIABLE.search(value):
        whole = _VARIABLE.fullmatch(value)
        if whole:
            return variables[whole.group(1)]
        pieces = _VARIABLE.split(value)
        out = []
        for index, piece in enumerate(pieces):
            if index % 2:
                out.append("{" + variables[piece] + "}")
            else:
                out.append(literal(piece)[1:-1].replace("{", "{{").replace("}", "}}"))
        return 'f"' + "".join(out) + '"'
    return literal(value)


def assignment(target: str, path: str, value: str) -> str:
    """`body["a"]["b"] = value` for path `a.b`, creating the dicts on the way."""
    parts = split_path(path)
    head = target
    for part in parts[:-1]:
        head = f"{head}.setdefault({literal(part)}, {{}})"
    return f"{head}[{literal(parts[-1])}] = {value}"


def appending(target: str, path: str, value: str) -> str:
    """`body.setdefault("a", {}).setdefault("b", []).append(value)` for path `a.b`."""
    parts = split_path(path)
    head = target
    for part in parts[:-1]:
        head = f"{head}.setdefault({literal(part)}, {{}})"
    return f"{head}.setdefault({literal(parts[-1])}, []).append({value})"


def annotation(schemas: Schemas, node: Mapping[str, Any], depth: int = 0) -> str:
    """A Python type annotation for the JSON Schema `node`. A reference to a named object
    schema becomes the generated model class of that name (`models.Name`)."""
    if depth > 8:
        return "Any"
    ref = node.get("$ref")
    if isinstance(ref, str):
        target = deref(schemas, node)
        name = ref.removeprefix(REF_PREFIX)
        if target.get("type") == "object" and "properties" in target:
            return f"models.{name}"
        return annotation(schemas, target, depth + 1)
    options: list[str] = []
    if "enum" in node:
        values = [v for v in node["enum"] if v is not None]
        options.append("Literal[" + ", ".join(literal(v) for v in values) + "]")
        if None in node["enum"]:
            options.append("None")
    elif any(k in node for k in ("anyOf", "oneOf")):
        for branch in node.get("anyOf", node.get("oneOf", [])):
            options.append(annotation(schemas, branch, depth + 1))
    elif "allOf" in node and len(node["allOf"]) == 1:
        options.append(annotation(schemas, node["allOf"][0], depth + 1))
    else:
        kinds = node.get("type")
        for kind in kinds if isinstance(kinds, list) else [kinds]:
            options.append(_simple(schemas, node, kind, depth))
    if node.get("nullable"):
        options.append("None")
    unique = list(dict.fromkeys(option for option in options))
    if "Any" in unique:
        return "Any"
    if "None" in unique:  # keep `None` last: `X | None` reads best
        unique = [u for u in unique if u != "None"] + ["None"]
    return " | ".join(unique)


def _simple(schemas: Schemas, node: Mapping[str, Any], kind: Any, depth: int) -> str:
    if kind == "array":
        items = node.get("items")
        return f"list[{annotation(schemas, items, depth + 1)}]" if isinstance(items, Mapping) else "list[Any]"
    if kind == "object":
        extra = node.get("additionalProperties")
        if isinstance(extra, Mapping) and not node.get("properties"):
            return f"dict[str, {annotation(schemas, extra, depth + 1)}]"
        return "dict[str, Any]"
    return {"string": "str", "integer": "int", "number": "float", "boolean": "bool", "null": "None"}.get(kind, "Any")
