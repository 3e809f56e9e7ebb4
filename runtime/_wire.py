"""Small helpers the generated adapters call: what is the same for every provider lives here."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import orjson
from pydantic import BaseModel

from cloudburst._errors import UnsupportedContentError, UnsupportedOptionError
from cloudburst._sampling import SamplingParams


def dig(body: Any, path: tuple[str | int, ...]) -> Any:
    """The value at `path` in parsed JSON, or None where any step is missing."""
    for step in path:
        try:
            body = body[step]
        except (KeyError, IndexError, TypeError):
            return None
    return body


def each(body: Any, path: tuple[str | int, ...]) -> list[Any]:
    """Every value at `path`, where `*` steps through each element of a list; lists found at
    the end are flattened into one (`output.*.content`: the content of every output item)."""
    if "*" not in path:
        found = dig(body, path)
        return found if isinstance(found, list) else [] if found is None else [found]
    star = path.index("*")
    elements = dig(body, path[:star])
    out: list[Any] = []
    for element in elements if isinstance(elements, list) else ():
        out.extend(each(element, path[star + 1 :]))
    return out


def json_text(value: Any) -> str:
    """JSON as a string (tool arguments and results; a schema for Bedrock's Converse)."""
    return orjson.dumps(value).decode()


def is_set(value: object) -> bool:
    """A setting the caller asked for: not None, and not a switch left off."""
    return value is not None and value is not False


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, whatever its case on the wire."""
    lowered = name.lower()
    return headers.get(name) or next((v for k, v in headers.items() if k.lower() == lowered), None)


def check_sampling(sampling: SamplingParams, supported: Collection[str], where: str) -> None:
    """Refuse a sampling setting the API does not map, instead of dropping it. (Only fields
    given when the params were made can be set: this runs on every request.)"""
    for name in sampling.model_fields_set:
        value = getattr(sampling, name)
        if is_set(value) and name not in supported:
            raise UnsupportedOptionError(
                f"{where} does not support SamplingParams.{name}; it supports: {', '.join(sorted(supported))}"
            )


def json_value(value: Any) -> Any:
    """Plain JSON data for an option value (generated option fields may hold models)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(value, list):
        return [json_value(item) for item in value]
    if isinstance(value, dict):
        return {key: json_value(item) for key, item in value.items()}
    return value


def unsupported_part(kind: str, where: str) -> UnsupportedContentError:
    return UnsupportedContentError(f"{where} cannot take a {kind.replace('_', ' ')} part")


def result_text(content: Any, where: str) -> str:
    """A tool result for an API that takes only text back from a tool: several texts are
    joined by newlines (they are separate values, not one word)."""
    if isinstance(content, str):
        return content
    if all(part.kind == "text" for part in content):
        return "\n".join(part.text for part in content)
    kinds = sorted({part.wire()[0].replace("_", " ") for part in content if part.kind != "text"})
    raise UnsupportedContentError(f"{where} takes only text in a tool result, not {', '.join(kinds)}")
