"""Tools the model may call: from a Python function, a pydantic model, or a raw JSON schema.

A Tool is provider-neutral (name, description, JSON-schema parameters); each generated adapter
renders it in its provider's shape. Calls come back as ToolCall values on the APIResponse.

Strict tools: where an API has a strict mode (its spec's `tools.strict`: where the flag goes and
what the mode demands of a schema, a StrictMode here), a tool goes strict unless its schema cannot
be made strict; `strict=True` on such a schema is refused before sending, `strict=False` opts out.
"""

from __future__ import annotations

import copy
import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, create_model

from cloudburst._errors import ConfigurationError, InvalidOutputError


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    description: str
    parameters: Mapping[str, Any]
    """JSON schema of the arguments object."""
    function: Callable[..., Any] | None = field(default=None, compare=False)
    """The Python function behind the tool, when it was made from one."""
    strict: bool | None = None
    """Strict schema adherence: None (default) where the API has a strict mode, the model takes
    it and the schema allows it; True: strict or a ConfigurationError before sending; False: never."""
    _strict: dict[StrictMode, dict[str, Any] | str] = field(default_factory=dict, init=False, repr=False, compare=False)
    """Each strict mode's schema (or why there is none), worked out once."""

    @classmethod
    def from_function(cls, function: Callable[..., Any], strict: bool | None = None) -> Tool:
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
        return cls(function.__name__, _summary(function.__doc__), _schema(model), function, strict)

    @classmethod
    def from_model(cls, model: type[BaseModel], name: str | None = None, strict: bool | None = None) -> Tool:
        """A tool whose arguments are the fields of a pydantic model."""
        return cls(name or model.__name__, _summary(model.__doc__), _schema(model), strict=strict)

    def strict_schema(self, mode: StrictMode) -> dict[str, Any] | str:
        """The parameters as `mode` takes them, or why they cannot be."""
        found = self._strict.get(mode)
        if found is None:
            found = self._strict[mode] = mode.apply(self.parameters)
        return found

    def sent_as(self, mode: StrictMode | None, api: str) -> tuple[dict[str, Any], bool]:
        """(the parameters to send, whether strict) on an API with strict `mode` (None: none)."""
        if mode is None or self.strict is False:
            return dict(self.parameters), False
        schema = self.strict_schema(mode)
        if isinstance(schema, str):
            if self.strict:
                raise ConfigurationError(f"tool {self.name!r} cannot be strict on {api}: {schema}")
            return dict(self.parameters), False
        return schema, True


@dataclass(frozen=True, slots=True)
class StrictMode:
    """What an API's strict tool mode demands of a schema: every object closed
    (`additionalProperties: false`), no keyword it refuses, and (OpenAI) every property required."""

    all_required: bool = False
    """An optional property with a default is made required (the model always sends it; its
    default goes); one without a default means the schema cannot be strict."""
    unsupported: frozenset[str] = frozenset()
    bare_refs: bool = False
    """A `$ref` takes no sibling keywords (OpenAI): one with some (a described nested pydantic
    model) is replaced by the definition it names, the siblings kept."""

    def apply(self, parameters: Mapping[str, Any]) -> dict[str, Any] | str:
        schema = copy.deepcopy(dict(parameters))
        problem = self._fix(schema, "parameters", schema, 0)
        return problem if problem is not None else schema

    def _fix(self, node: Any, where: str, root: dict[str, Any], inlined: int) -> str | None:
        if not isinstance(node, dict):
            return None
        if self.bare_refs and "$ref" in node and len(node) > 1:
            target = _definition(root, node["$ref"])
            if target is None or inlined > _MAX_INLINED:
                return f"{where}: a $ref with other keywords beside it, which strict mode does not take"
            siblings = {key: value for key, value in node.items() if key != "$ref"}
            node.clear()
            node.update(copy.deepcopy(target), **siblings)
            inlined += 1
        for keyword in node:
            if keyword in self.unsupported:
                return f"{where} uses {keyword!r}, which strict mode does not take"
        if node.get("type") == "object" or "properties" in node:
            if node.get("additionalProperties", "properties" not in node) is not False:
                return f"{where} allows additional properties (strict mode needs every object closed)"
            node["additionalProperties"] = False
            properties = node.get("properties") or {}
            if self.all_required:
                required = set(node.get("required") or ())
                for name, sub in properties.items():
                    if name not in required:
                        if not isinstance(sub, dict) or "default" not in sub:
                            return f"{where}: property {name!r} is optional with no default"
                        del sub["default"]
                node["required"] = list(properties)
        for key, value in node.items():
            if key in _SCHEMA_MAPS and isinstance(value, dict):
                children = [(f"{where}.{key}.{name}", sub) for name, sub in value.items()]
            elif key in _SCHEMA_LISTS and isinstance(value, list):
                children = [(f"{where}.{key}[{index}]", sub) for index, sub in enumerate(value)]
            elif key in _SCHEMA_VALUES:
                children = [(f"{where}.{key}", value)]
            else:
                continue
            for child_where, child in children:
                problem = self._fix(child, child_where, root, inlined)
                if problem is not None:
                    return problem
        return None


def _definition(root: dict[str, Any], ref: Any) -> dict[str, Any] | None:
    """The local definition `ref` names (`#/$defs/Name`), or None."""
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return None
    node: Any = root
    for step in ref[2:].split("/"):
        node = node.get(step) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else None


_MAX_INLINED = 8
"""Definitions inlined into one another at most (a recursive one stops here, not strict)."""
_SCHEMA_MAPS = frozenset({"properties", "$defs", "definitions", "patternProperties"})
_SCHEMA_LISTS = frozenset({"anyOf", "oneOf", "allOf", "prefixItems"})
_SCHEMA_VALUES = frozenset({"items", "not", "if", "then", "else", "contains"})
"""Where a JSON schema holds other schemas, each checked and closed in turn."""


def _summary(doc: str | None) -> str:
    return inspect.cleandoc(doc).split("\n\n", 1)[0].replace("\n", " ") if doc else ""


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    schema.pop("title", None)
    schema.pop("description", None)
    return schema


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call the model asked for: `function(**call.arguments)`. `parsed_arguments` is None when
    the model's JSON did not parse; `raw_arguments` keeps what it sent either way."""

    id: str
    name: str
    parsed_arguments: dict[str, Any] | None
    raw_arguments: str
    signature: str | None = None
    """The provider's signature of the thinking behind the call (Gemini), sent back with it."""
    kind: Literal["tool_call"] = "tool_call"

    @property
    def arguments(self) -> dict[str, Any]:
        """The arguments object; an InvalidOutputError naming the tool and what the model sent
        when that is not a JSON object (test `parsed_arguments is None` to handle it first)."""
        if self.parsed_arguments is None:
            raise InvalidOutputError(
                f"the model's arguments for tool {self.name!r} (call {self.id}) are not a JSON object: "
                f"{self.raw_arguments[:200]!r}",
                body=self.raw_arguments,
            )
        return self.parsed_arguments

    def wire(self) -> tuple[str, dict[str, Any]]:
        """As a part of an assistant message sent back in the next turn."""
        return "tool_call", {
            "id": self.id,
            "name": self.name,
            "arguments": self.parsed_arguments if self.parsed_arguments is not None else {},
            "arguments_json": self.raw_arguments,
            "signature": self.signature,
        }
