"""Tools the model may call: from a Python function, a pydantic model, or a raw JSON schema.

A Tool is provider-neutral (name, description, JSON-schema parameters); each generated adapter
renders it in its provider's shape. Calls come back as ToolCall values on the APIResponse.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, create_model


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    description: str
    parameters: Mapping[str, Any]
    """JSON schema of the arguments object."""
    function: Callable[..., Any] | None = field(default=None, compare=False)
    """The Python function behind the tool, when it was made from one."""

    @classmethod
    def from_function(cls, function: Callable[..., Any]) -> Tool:
        """Name from the function, description from its docstring, parameters from its
        signature (annotations and defaults)."""
        fields: dict[str, Any] = {}
        hints = typing.get_type_hints(function)  # resolves string annotations
        for name, parameter in inspect.signature(function).parameters.items():
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                raise TypeError(f"tool {function.__name__}: *args and **kwargs cannot be described as a schema")
            annotation = hints.get(name, Any)
            default = ... if parameter.default is parameter.empty else parameter.default
            fields[name] = (annotation, default)
        model = create_model(function.__name__, **fields)
        return cls(function.__name__, _summary(function.__doc__), _schema(model), function)

    @classmethod
    def from_model(cls, model: type[BaseModel], name: str | None = None) -> Tool:
        """A tool whose arguments are the fields of a pydantic model."""
        return cls(name or model.__name__, _summary(model.__doc__), _schema(model))


def _summary(doc: str | None) -> str:
    return inspect.cleandoc(doc).split("\n\n", 1)[0].replace("\n", " ") if doc else ""


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    schema.pop("title", None)
    schema.pop("description", None)
    return schema


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call the model asked for. `arguments` is None when the model's JSON did not parse;
    `raw_arguments` keeps what it sent either way."""

    id: str
    name: str
    arguments: dict[str, Any] | None
    raw_arguments: str
    signature: str | None = None
    """The provider's signature of the thinking behind the call (Gemini), sent back with it."""
    kind: Literal["tool_call"] = "tool_call"

    def wire(self) -> tuple[str, dict[str, Any]]:
        """As a part of an assistant message sent back in the next turn."""
        return "tool_call", {
            "id": self.id,
            "name": self.name,
            "arguments": self.arguments if self.arguments is not None else {},
            "arguments_json": self.raw_arguments,
            "signature": self.signature,
        }
