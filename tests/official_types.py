"""Check a payload against an official SDK's request TypedDicts, rejecting unknown keys.

pydantic validates `Iterable[...]` fields lazily and lets extra keys through a TypedDict, so
the SDKs' own types are walked here instead: every key must be declared, every required key
present, every value of a declared type.
"""

from __future__ import annotations

import collections.abc
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from typing_extensions import NotRequired, Required, is_typeddict


def problems(value: Any, annotation: Any, where: str = "body") -> list[str]:
    """Every way `value` breaks `annotation` (empty when it conforms)."""
    origin, args = get_origin(annotation), get_args(annotation)
    if annotation is Any or annotation is object:
        return []
    if origin in (Required, NotRequired, typing.Annotated) or str(origin).endswith(("Required", "Annotated")):
        return problems(value, args[0], where)
    if is_typeddict(annotation):
        return _typeddict(value, annotation, where)
    if origin in (Union, types.UnionType):
        attempts = [problems(value, option, where) for option in args]
        return [] if any(not attempt for attempt in attempts) else min(attempts, key=len)
    if origin is Literal:
        return [] if value in args else [f"{where}: {value!r} is not one of {args}"]
    if annotation is type(None):
        return [] if value is None else [f"{where}: expected null, got {value!r}"]
    if origin in (list, collections.abc.Iterable, collections.abc.Sequence) or str(origin).endswith("SequenceNotStr"):
        if not isinstance(value, list):
            return [f"{where}: expected a list, got {type(value).__name__}"]
        return [p for i, item in enumerate(value) for p in problems(item, args[0] if args else Any, f"{where}[{i}]")]
    if origin in (dict, collections.abc.Mapping):
        if not isinstance(value, dict):
            return [f"{where}: expected an object, got {type(value).__name__}"]
        return [p for k, v in value.items() for p in problems(v, args[1] if args else Any, f"{where}.{k}")]
    if annotation in (str, int, float, bool):
        ok = isinstance(value, annotation) and not (annotation is int and isinstance(value, bool))
        ok = ok or (annotation is float and isinstance(value, int) and not isinstance(value, bool))
        return [] if ok else [f"{where}: expected {annotation.__name__}, got {value!r}"]
    if isinstance(annotation, type) and annotation.__module__.startswith(("openai", "anthropic")):
        return []  # a file-like or other SDK helper type; not in JSON payloads
    return []


def _typeddict(value: Any, annotation: Any, where: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where}: expected an object, got {type(value).__name__}"]
    hints = get_type_hints(annotation, include_extras=True)
    found = [f"{where}: unknown key {key!r}" for key in value if key not in hints]
    required = [key for key, hint in hints.items() if _required(hint, annotation.__total__)]
    found += [f"{where}: missing {key!r}" for key in required if key not in value]
    for key, item in value.items():
        if key in hints:
            found += problems(item, hints[key], f"{where}.{key}")
    return found


def _required(hint: Any, total: bool) -> bool:
    """Read from the hint itself: the SDKs' string annotations leave `__required_keys__` unset."""
    marker = get_origin(hint)
    if marker is Required:
        return True
    if marker is NotRequired:
        return False
    return total
