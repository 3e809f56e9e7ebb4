"""Check the JSON a spec sends against the schema of the place it goes.

A mapping's templates (a part, a tool's shape, a setting's value) and fixed values (constants,
defaults) end up in request bodies. Each is checked against the request schema at its path, the
way a validator would check the body, with one difference: a `$name` standing for a whole value
fits anywhere, since what it stands for is only known at run time. So a text part of `-1`, a
`{type: json_objet}` or a field the schema lacks is a spec error at its line, not a payload the
provider refuses later.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, get_args

from codegen.errors import Problem
from codegen.load import PathKey, SpecFile
from codegen.schema_paths import Schemas, branches, schemas_at, split_path
from codegen.spec import ApiSpec, EmbedApiSpec, EmbedPlacement, Placement
from codegen.vocabulary import SAMPLING_TYPES, InputKind, OutputType, Truncation

VARIABLE = re.compile(r"\$[a-z_]+")

_JSON_TYPE = {type(None): "null", bool: "boolean", int: "integer", float: "number", str: "string"}
_SHAPE = {"properties": "object", "additionalProperties": "object", "items": "array"}
_NAMES = {
    "null": "null",
    "boolean": "true or false",
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "array": "a list",
    "object": "a mapping",
}


def json_type(value: Any) -> str:
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list):
        return "array"
    return _JSON_TYPE.get(type(value), "unknown")


def _types(node: Mapping[str, Any]) -> set[str] | None:
    """JSON types a schema node allows by itself; None: any (it says nothing about type)."""
    kind = node.get("type")
    if kind is not None:
        found = {k for k in (kind if isinstance(kind, list) else [kind]) if isinstance(k, str)}
    elif any(key in node for key in _SHAPE):
        found = {_SHAPE[key] for key in _SHAPE if key in node}
    elif "enum" in node or "const" in node:
        found = {json_type(v) for v in _values(node)}
    else:
        return None
    if node.get("nullable"):
        found.add("null")
    if "number" in found:
        found.add("integer")
    return found


def mismatch(
    value: Any, schemas: Schemas, nodes: list[Mapping[str, Any]], depth: int = 0
) -> tuple[PathKey, str] | None:
    """Where inside `value`, and why, it cannot be a value of any of the schemas `nodes`; None if
    it can. Alternatives (anyOf, oneOf, allOf's parts) are taken together: a value fits if one
    allows its type, and a mapping's fields are those of every alternative."""
    if depth > 40 or (isinstance(value, str) and VARIABLE.fullmatch(value)):
        return None
    alternatives = [b for node in nodes for b in branches(schemas, node) if not _only_combines(b)]
    if not alternatives:
        return None
    kind = json_type(value)
    allowing = []
    for branch in alternatives:
        types = _types(branch)
        if types is None:
            return None  # an alternative that takes anything
        if kind in types:
            allowing.append(branch)
    if not allowing:
        types = {t for b in alternatives for t in _types(b) or ()}
        wanted = sorted(types - {"integer"} if "number" in types else types)
        return (), f"expected {' or '.join(_NAMES.get(t, t) for t in wanted)} (got {value!r})"
    if kind in ("array", "object"):
        return _inside(value, schemas, allowing, depth)
    if isinstance(value, str) and VARIABLE.search(value):
        return None  # text built around variables: its value is only known at run time
    values = [v for b in allowing for v in _values(b)]
    if all("enum" in b or "const" in b for b in allowing) and value not in values:
        listed = ", ".join(dict.fromkeys(repr(v) for v in values))
        return (), f"{value!r} is not one of the schema's values: {listed}"
    return None


def takes(schemas: Schemas, nodes: list[Mapping[str, Any]], kind: str) -> bool:
    """Whether one of the schemas `nodes` allows values of JSON type `kind`."""
    alternatives = [b for node in nodes for b in branches(schemas, node) if not _only_combines(b)]
    return not alternatives or any((types := _types(b)) is None or kind in types for b in alternatives)


def _values(node: Mapping[str, Any]) -> list[Any]:
    """The values a schema node lists (`enum`, `const`)."""
    if "const" in node:
        return [node["const"]]
    enum = node.get("enum")
    return enum if isinstance(enum, list) else []


def _only_combines(node: Mapping[str, Any]) -> bool:
    """A node that is only allOf/anyOf/oneOf (its alternatives are listed on their own)."""
    combines = ("allOf", "anyOf", "oneOf")
    return any(key in node for key in combines) and _types(node) is None


def _inside(value: Any, schemas: Schemas, allowing: list[Mapping[str, Any]], depth: int) -> tuple[PathKey, str] | None:
    if isinstance(value, list):
        items = [b["items"] for b in allowing if isinstance(b.get("items"), Mapping)]
        for index, item in enumerate(value):
            found = mismatch(item, schemas, items, depth + 1) if items else None
            if found is not None:
                return (index, *found[0]), found[1]
        return None
    fields: dict[str, list[Mapping[str, Any]]] = {}
    extra: list[Mapping[str, Any]] = []
    for branch in allowing:
        properties = branch.get("properties")
        for name, sub in properties.items() if isinstance(properties, Mapping) else ():
            fields.setdefault(name, []).append(sub)
        more = branch.get("additionalProperties", not isinstance(properties, Mapping))
        if more is not False:
            extra.append(more if isinstance(more, Mapping) else {})
    for key, item in value.items():
        name = key[:-1] if isinstance(key, str) and key.endswith("?") else key
        candidates = fields.get(name, extra)
        if not candidates:
            known = ", ".join(sorted(fields))
            return (key,), f"{name!r} is not a field there (expected one of: {known})"
        found = mismatch(item, schemas, candidates, depth + 1)
        if found is not None:
            return (key, *found[0]), found[1]
    return None


def check_value(
    value: Any,
    schemas: Schemas,
    root: str,
    path: str | PathKey,
    loc: PathKey,
    spec: SpecFile,
    problems: list[Problem],
) -> None:
    """Report where `value` (at `loc` in the spec) does not fit the schema at `path` of a body of
    schema `root`. A path the schema lacks is reported by the path checks, not here."""
    if value is None:
        return
    nodes = schemas_at(schemas, root, split_path(path) if isinstance(path, str) else path)
    found = mismatch(value, schemas, nodes) if nodes else None
    if found is not None:
        where, reason = found
        shown = ".".join(str(p) for p in (split_path(path) if isinstance(path, str) else path))
        problems.append(spec.problem((*loc, *where), f"{reason}, for {shown} in {root!r}"))


def variable_at(template: Any, name: str, at: PathKey = ()) -> PathKey | None:
    """Where in `template` the value `$name` is (the tools' list inside Gemini's container)."""
    if template == f"${name}":
        return at
    items: Iterator[tuple[Any, Any]] = iter(())
    if isinstance(template, Mapping):
        items = iter(template.items())
    elif isinstance(template, list):
        items = enumerate(template)
    for key, item in items:
        found = variable_at(item, name, (*at, key))
        if found is not None:
            return found
    return None


def check_chat_values(api: ApiSpec, base: PathKey, spec: SpecFile, schemas: Schemas, problems: list[Problem]) -> None:
    """Every template and fixed value of a chat mapping against the request schema."""
    root = api.request

    def check(value: Any, path: str | PathKey, loc: PathKey) -> None:
        check_value(value, schemas, root, path, (*base, *loc), spec, problems)

    for setting, placements in api.sampling.items():
        listed = placements if isinstance(placements, list) else [placements]
        for index, placement in enumerate(listed):
            loc = ("sampling", setting, *((index,) if isinstance(placements, list) else ()))
            if isinstance(placement, Placement):
                for key in ("value", "when_off", "default"):
                    check(getattr(placement, key), placement.path, (*loc, key))
            path, sent = (
                (placement.path, placement.value) if isinstance(placement, Placement) else (placement, "$value")
            )
            nodes = schemas_at(schemas, root, split_path(path))
            if sent == "$value" and nodes and not takes(schemas, nodes, SAMPLING_TYPES[setting]):
                wrong = f"{setting} is {_NAMES[SAMPLING_TYPES[setting]]}, which {path} in {root!r} does not take"
                problems.append(spec.problem((*base, *loc), wrong))
    messages = api.messages
    entry = (*split_path(messages.path), 0)
    content = (*entry, *split_path(messages.content), 0)
    for kinds, loc in [(messages.parts, ("parts",))] + [
        (templates, ("role_parts", role)) for role, templates in messages.role_parts.items()
    ]:
        for kind, template in kinds.items():
            if kind in messages.items:
                where: PathKey = entry
            elif kind in messages.part_fields:
                where = (*entry, *split_path(messages.part_fields[kind]), 0)
            else:
                where = content
            check(template, where, ("messages", *loc, kind))
    for kind, fields in messages.message_fields.items():
        check(fields, entry, ("messages", "message_fields", kind))
    for path in api.constants:
        check(api.constants[path], path, ("constants", path))
    if api.cache is not None and api.cache != "automatic":
        marker_at = (*content, *split_path(api.cache.field)) if api.cache.field else content
        check(api.cache.marker, marker_at, ("cache", "marker"))
    if api.tools is not None:
        tools = api.tools
        check(tools.container, tools.path, ("tools", "container"))
        inside = variable_at(tools.container, "tools") if tools.container is not None else ()
        if inside is not None:
            check(tools.shape, (*split_path(tools.path), *inside, 0), ("tools", "shape"))
        for choice, template in tools.choices.items():
            check(template, tools.choice_path, ("tools", "choices", choice))
        check(tools.named_choice, tools.choice_path, ("tools", "named_choice"))
    for option, spec_field in api.options.items():
        if spec_field.also is not None:
            check(spec_field.also.when, spec_field.path, ("options", option, "also", "when"))
            for path, item in spec_field.also.append.items():
                check(item, (*split_path(path), 0), ("options", option, "also", "append", path))


def check_answer_values(api: ApiSpec, base: PathKey, spec: SpecFile, schemas: Schemas, problems: list[Problem]) -> None:
    """The values a chat mapping matches in answers (block kinds, failure values) against the
    response schema."""
    root, output = api.response, api.output

    def check(value: Any, path: str | PathKey, loc: PathKey) -> None:
        check_value(value, schemas, root, path, (*base, "output", *loc), spec, problems)

    if output.blocks is not None:
        paths = [output.blocks.path] if isinstance(output.blocks.path, str) else output.blocks.path
        for rule_name in ("text", "thinking", "redacted_thinking"):
            rule = getattr(output.blocks, rule_name)
            for key, value in rule.when.items() if rule is not None else ():
                nodes = [
                    n for path in paths for n in schemas_at(schemas, root, (*split_path(path), 0, *split_path(key)))
                ]
                found = mismatch(value, schemas, nodes) if nodes else None
                if found is not None:
                    loc = (*base, "output", "blocks", rule_name, "when", key, *found[0])
                    problems.append(spec.problem(loc, f"{found[1]}, for {key} of the blocks in {root!r}"))
    if output.tool_calls is not None:
        for key, value in output.tool_calls.when.items():
            check(value, (*split_path(output.tool_calls.path), 0, *split_path(key)), ("tool_calls", "when", key))
    for index, failure in enumerate(output.failures):
        for value_index, value in enumerate(failure.values or ()):
            check(value, failure.path, ("failures", index, "values", value_index))


EMBED_VOCABULARY = {"input_kind": InputKind, "truncation": Truncation, "output_types": OutputType}
"""The unified values of each embeddings setting a spec maps to the provider's."""


def check_embed_values(
    api: EmbedApiSpec, base: PathKey, spec: SpecFile, schemas: Schemas, problems: list[Problem]
) -> None:
    """An embeddings mapping's entry templates, constants and setting values against its
    request schema."""

    def check(value: Any, path: str | PathKey, loc: PathKey) -> None:
        check_value(value, schemas, api.request, path, (*base, *loc), spec, problems)

    entry = (*split_path(api.texts), 0)
    check(api.item, entry, ("item",))
    if api.images is not None:
        images = (*split_path(api.images.field), 0) if api.images.field else entry
        check(api.images.text, images, ("images", "text"))
        check(api.images.image, images, ("images", "image"))
    for path, value in api.constants.items():
        check(value, path, ("constants", path))
    for setting, placement in api.settings.items():
        if isinstance(placement, EmbedPlacement):
            where = (*entry, *split_path(placement.path)) if placement.per_item else split_path(placement.path)
            words = get_args(EMBED_VOCABULARY[setting]) if setting in EMBED_VOCABULARY else ()
            for word, value in (placement.values or {}).items():
                if words and word not in words:
                    unknown = f"{word!r} is not a value of {setting} (expected one of: {', '.join(words)})"
                    problems.append(spec.problem((*base, "settings", setting, "values", word), unknown))
                check([value] if placement.as_list else value, where, ("settings", setting, "values", word))
            check(placement.default, where, ("settings", setting, "default"))
