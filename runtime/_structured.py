"""Structured output: the JSON schema an answer must follow, and reading the answer back.

`output_schema` may be a pydantic model class or a plain JSON schema. Adapters send the schema in
the provider's shape (their spec picks `$schema`, or `$strict_schema` where the provider's strict
mode wants every object closed and every property required); the answer is parsed here, once.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from cloudburst._errors import InvalidOutputError


def schema_name(output_schema: Any) -> str:
    if isinstance(output_schema, type) and issubclass(output_schema, BaseModel):
        return output_schema.__name__
    title = output_schema.get("title") if isinstance(output_schema, dict) else None
    return str(title) if title else "response"


def json_schema(output_schema: Any) -> dict[str, Any]:
    if isinstance(output_schema, type) and issubclass(output_schema, BaseModel):
        return output_schema.model_json_schema()
    if isinstance(output_schema, dict):
        return output_schema
    raise TypeError(
        f"output_schema must be a pydantic model class or a JSON schema dict, not {type(output_schema).__name__}"
    )


def strict_json_schema(output_schema: Any) -> dict[str, Any]:
    """The schema with every object closed (`additionalProperties: false`) and every property
    required, as strict structured-output modes demand."""
    schema = copy.deepcopy(json_schema(output_schema))
    _close(schema)
    return schema


def _close(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "object" and "properties" in node:
            node["additionalProperties"] = False
            node["required"] = list(node["properties"])
        for value in node.values():
            _close(value)
    elif isinstance(node, list):
        for item in node:
            _close(item)


def parse_output(text: str | None, output_schema: Any) -> Any:
    """The answer as the schema says: a model instance for a model class, plain JSON data for a
    JSON schema. Raises InvalidOutputError (retryable) when it does not parse or validate."""
    if not text:
        raise InvalidOutputError("the answer is empty; expected JSON")
    try:
        if isinstance(output_schema, type) and issubclass(output_schema, BaseModel):
            return output_schema.model_validate_json(text)
        return orjson.loads(text)
    except (ValidationError, orjson.JSONDecodeError) as exc:
        raise InvalidOutputError(
            f"the answer does not match the output schema: {exc}".splitlines()[0], body=text
        ) from None
