"""JSON Schema's own rules, checked in a spec's schemas: every keyword's value of its kind.

datamodel-code-generator and the mapping checks read these schemas; a `type: {zz: 1}` or a
`maxLength: true` must be a spec error at its line rather than a traceback from either.
Keywords not listed (vendor extensions, `discriminator`, `example`) are left as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from codegen.errors import Problem
from codegen.load import PathKey, SpecFile

JSON_TYPES = {"object", "array", "string", "integer", "number", "boolean", "null"}
SUBSCHEMA = {"items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames"}
SUBSCHEMA |= {"unevaluatedItems", "unevaluatedProperties"}
SCHEMA_MAPS = {"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"}
SCHEMA_LISTS = {"allOf", "anyOf", "oneOf", "prefixItems"}
STRINGS = {"$ref", "$id", "$schema", "$anchor", "$comment", "title", "description", "format", "pattern"}
STRINGS |= {"contentMediaType", "contentEncoding"}
COUNTS = {"minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"}
COUNTS |= {"minContains", "maxContains"}
NUMBERS = {"minimum", "maximum", "multipleOf"}
NUMBERS_OR_FLAGS = {"exclusiveMinimum", "exclusiveMaximum"}
"""A number in JSON Schema; true or false in OpenAPI 3.0, which providers' documents still use."""
FLAGS = {"uniqueItems", "nullable", "deprecated", "readOnly", "writeOnly"}
LISTS = {"enum", "examples"}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_keywords(node: Any, loc: PathKey, spec: SpecFile, problems: list[Problem]) -> None:
    """Every keyword of the schema `node` and of the schemas inside it. (A `required` name
    missing from `properties` is legal, and providers' published documents do it, in allOf
    branches and elsewhere.)"""
    if not isinstance(node, Mapping):
        problems.append(spec.problem(loc, f"expected a schema (a mapping), got {node!r}"))
        return

    def wrong(key: str, expected: str) -> None:
        problems.append(spec.problem((*loc, key), f"{key} must be {expected} (got {node[key]!r})"))

    for key, value in node.items():
        if key == "type":
            kinds = value if isinstance(value, list) else [value]
            for one in kinds:
                if not isinstance(one, str) or one not in JSON_TYPES:
                    problems.append(
                        spec.problem(
                            (*loc, "type"),
                            f"unknown type {one!r} (expected one of: {', '.join(sorted(JSON_TYPES))})",
                        )
                    )
        elif key in SUBSCHEMA:
            if not isinstance(value, bool):
                check_keywords(value, (*loc, key), spec, problems)
        elif key in SCHEMA_MAPS:
            if not isinstance(value, Mapping):
                wrong(key, "a mapping of name to schema")
                continue
            for name, sub in value.items():
                check_keywords(sub, (*loc, key, name), spec, problems)
        elif key in SCHEMA_LISTS:
            if not isinstance(value, list) or not value:
                wrong(key, "a list of schemas")
                continue
            for index, sub in enumerate(value):
                check_keywords(sub, (*loc, key, index), spec, problems)
        elif key in STRINGS and not isinstance(value, str):
            wrong(key, "a string")
        elif key in COUNTS and not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
            wrong(key, "a count (an integer, 0 or more)")
        elif (key in NUMBERS or key in NUMBERS_OR_FLAGS) and not (
            _number(value) or (key in NUMBERS_OR_FLAGS and isinstance(value, bool))
        ):
            wrong(key, "a number")
        elif key in FLAGS and not isinstance(value, bool):
            wrong(key, "true or false")
        elif key in LISTS and not isinstance(value, list):
            wrong(key, "a list of values")
        elif key == "required" and not (isinstance(value, list) and all(isinstance(r, str) for r in value)):
            wrong(key, "a list of field names")
