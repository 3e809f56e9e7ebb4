"""Reading a provider's answer, every value checked: what the generated adapters call to take a
string, a count, a logprob or a tool call out of a body. A value that is not what the provider's
shape promises (`"prompt_tokens": "n/a"`, negative usage, a logprob that is not an object) is a
MalformedResponseError naming the field, never a crash and never a silent zero; an absent or
null value is simply absent."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import orjson

from cloudburst._errors import MalformedResponseError
from cloudburst._response import TokenLogprob, Usage
from cloudburst._tools import ToolCall
from cloudburst._wire import dig, each, header_value, json_text

Path = tuple[str | int, ...]
MAX_COUNT = 10**12
"""No answer bills anywhere near this many tokens (or searches): a larger count is nonsense."""


def malformed(where: Path | str, value: Any, expected: str) -> MalformedResponseError:
    """The error for a value that is not what the provider's shape says; `where` is its path
    in the body (or says what it is)."""
    name = where if isinstance(where, str) else ".".join(str(step) for step in where)
    shown = repr(value)
    return MalformedResponseError(f"{name} is {shown[:80] + '...' if len(shown) > 80 else shown}, not {expected}")


def text(body: Any, *paths: Path) -> str | None:
    """The string at the first of `paths` that is present; None where none is (or it is null)."""
    for path in paths:
        value = dig(body, path)
        if isinstance(value, str):
            return value
        if value is not None:
            raise malformed(path, value, "a string")
    return None


def joined(body: Any, path: Path) -> str | None:
    """The strings at a `*` path joined into one (all text parts of an answer), or None."""
    texts = [value for value in each(body, path) if value is not None]
    for value in texts:
        if not isinstance(value, str):
            raise malformed(path, value, "a string")
    return "".join(texts) if texts else None


def blocks(body: Any, *paths: Path) -> list[Any]:
    """The content blocks at `paths`, in order: each an object, or a string (content sent as
    one plain string)."""
    found = [block for path in paths for block in each(body, path)]
    for block in found:
        if not isinstance(block, (dict, str)):
            raise malformed(paths[0], block, "a content block (an object)")
    return found


def whole(value: Any, where: Path | str) -> int:
    """A count the provider reports (tokens, searches, an index): a whole number from 0 to
    MAX_COUNT (12.0 too). Negative usage would give a negative cost; NaN, a string or a
    number past any real answer's nothing at all."""
    if type(value) is int and 0 <= value <= MAX_COUNT:
        return value
    if type(value) is float and value.is_integer() and 0 <= value <= MAX_COUNT:
        return int(value)
    raise malformed(where, value, f"a whole number from 0 to {MAX_COUNT:,}")


def count(body: Any, *paths: Path) -> int:
    """The count at the first of `paths` that is present (usage tokens); 0 where none is."""
    for path in paths:
        value = dig(body, path)
        if value is not None:
            return whole(value, path)
    return 0


def header_count(headers: Mapping[str, str], name: str) -> int:
    """A count sent as a header (Bedrock's `x-amzn-bedrock-input-token-count`); 0 when absent."""
    value = header_value(headers, name)
    if value is None:
        return 0
    digits = value.strip()
    if not (digits.isascii() and digits.isdigit()):
        raise malformed(f"header {name}", value, "a count")
    return whole(int(digits), f"header {name}")


def consistent(usage: Usage) -> None:
    """Usage whose parts fit their whole: cache reads and writes within the prompt, reasoning
    within the output. A body that says otherwise would be billed less than nothing."""
    if usage.cache_read_tokens + usage.cache_write_tokens > usage.input_tokens:
        raise MalformedResponseError(
            f"usage counts {usage.cache_read_tokens:,} cache reads and {usage.cache_write_tokens:,} cache writes "
            f"in a prompt of {usage.input_tokens:,} tokens"
        )
    if usage.reasoning_tokens > usage.output_tokens or usage.cache_write_1h_tokens > usage.cache_write_tokens:
        raise MalformedResponseError(
            f"usage counts {usage.reasoning_tokens:,} reasoning tokens in an output of {usage.output_tokens:,}, "
            f"or {usage.cache_write_1h_tokens:,} 1-hour cache writes of {usage.cache_write_tokens:,}"
        )


def real(value: Any, where: Path | str) -> float:
    """A finite number the provider reports (a logprob, a relevance score)."""
    if type(value) in (int, float) and math.isfinite(value):
        return float(value)
    raise malformed(where, value, "a finite number")


def token_logprob(item: Any, token: str, logprob: str, top: Any = None) -> TokenLogprob:
    """One generated token from its logprobs object (`token` and `logprob` name its fields), with
    its alternatives from `top`, a list of such objects. An absent field is its zero value, as
    protobuf JSON (Gemini's) leaves zeros out. (Hot with logprobs on: one pass per token.)"""
    alternatives: tuple[TokenLogprob, ...] = ()
    if top is not None:
        if type(top) is not list:
            raise malformed(f"the alternatives to {item!r}", top, "a list")
        alternatives = tuple([token_logprob(alternative, token, logprob) for alternative in top])
    if type(item) is dict:
        value = item.get(token)
        number = item.get(logprob, 0.0)
        if value is None:
            value = ""
        if type(value) is str and (type(number) is float or type(number) is int) and -math.inf < number < math.inf:
            return TokenLogprob(value, float(number), alternatives)
        if type(value) is not str:
            raise malformed(f"a logprobs item's {token}", value, "a string")
        raise malformed(f"the {logprob} of token {value!r}", number, "a finite number")
    raise malformed("a logprobs item", item, "an object")


def tool_call(id_: Any, name: Any, arguments: Any, signature: Any = None) -> ToolCall:
    """A ToolCall from what the provider sent: arguments as JSON text (OpenAI) or an object.
    Text that is not a JSON object is kept raw (`arguments` None: the model's mistake, not the
    provider's); a name, id or signature that is not a string, or arguments that are neither
    text nor an object, are malformed."""
    if not isinstance(name, str) or not name:
        raise malformed("a tool call's name", name, "a tool's name")
    for what, value in (("id", id_), ("signature", signature)):
        if value is not None and not isinstance(value, str):
            raise malformed(f"tool call {name!r}'s {what}", value, "a string")
    if isinstance(arguments, dict):
        try:
            return ToolCall(id_, name, arguments, json_text(arguments), signature)
        except orjson.JSONEncodeError as exc:
            raise malformed(f"tool call {name!r}'s arguments", arguments, f"JSON ({exc})") from None
    if arguments is not None and not isinstance(arguments, str):
        raise malformed(f"tool call {name!r}'s arguments", arguments, "an object or JSON text")
    raw = arguments or ""
    try:
        parsed = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        parsed = None
    return ToolCall(id_, name, parsed if isinstance(parsed, dict) else None, raw, signature)
