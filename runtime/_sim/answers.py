"""Deterministic answers: everything the simulator says is drawn from a hash of the request.

The same request body (keys sorted) gives the same digest, so the same ids, text, tool calls,
JSON and logprobs, and with a fixed `created` the same bytes. Providers shape these pieces; this
module knows nothing of wire formats.
"""

from __future__ import annotations

import base64
import hashlib
import math
import random
import re
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from cloudburst._sim.schema import value_for
from cloudburst._sim.words import WORDS
from cloudburst._tokens import count_text, encoding

EPOCH = 1_767_225_600
"""2026-01-01T00:00:00Z: answers say they were created within a year after it, by their hash."""
ANSWER_WORDS = (8, 40)
"""How many words an uncut text answer has, low and high."""
THINKING_WORDS = (20, 120)
REASONING_TOKENS = {"none": 0, "minimal": 0, "low": 64, "medium": 192, "high": 512, "xhigh": 1024, "max": 2048}
"""OpenAI reasoning tokens spent per effort, before the hash adds up to half again."""
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


OUTPUT_CONTROLS = frozenset(
    {
        "max_tokens",
        "max_completion_tokens",
        "max_output_tokens",
        "stop",
        "stop_sequences",
        "logprobs",
        "top_logprobs",
        "include",
    }
)
"""Settings that cut or annotate an answer without changing what the model would write: the
text is drawn without them, so a cut answer is a prefix of the uncut one."""


def digest(body: Any) -> bytes:
    """The request's identity: a hash of its JSON with sorted keys."""
    return hashlib.blake2b(orjson.dumps(body, option=orjson.OPT_SORT_KEYS), digest_size=16).digest()


def make_id(seed: bytes, prefix: str, length: int = 24) -> str:
    """`prefix` and `length` characters of [A-Za-z0-9] drawn from `seed`."""
    number = int.from_bytes(hashlib.blake2b(seed, digest_size=24).digest(), "big")
    chars = []
    for _ in range(length):
        number, index = divmod(number, len(_ALPHABET))
        chars.append(_ALPHABET[index])
    return prefix + "".join(chars)


@dataclass(frozen=True, slots=True)
class Draw:
    """The deterministic randomness of one request: ids from the whole body, content from the
    body without its OUTPUT_CONTROLS."""

    digest: bytes
    content: bytes

    @classmethod
    def of(cls, body: Any) -> Draw:
        whole = digest(body)
        if isinstance(body, dict) and not OUTPUT_CONTROLS.isdisjoint(body):
            return cls(whole, digest({k: v for k, v in body.items() if k not in OUTPUT_CONTROLS}))
        return cls(whole, whole)

    def uncut(self, body: Mapping[str, Any], section: str, controls: frozenset[str]) -> Draw:
        """This draw with its content hashed without the output controls nested in `section`
        (Gemini's `generationConfig`, Bedrock's `inferenceConfig`), so a cut answer is a prefix."""
        nested = body.get(section)
        if not isinstance(nested, dict) or controls.isdisjoint(nested):
            return self
        kept = {key: value for key, value in nested.items() if key not in controls}
        return Draw(self.digest, digest({**body, section: kept}))

    def rng(self, salt: str = "") -> random.Random:
        return random.Random(self.content + salt.encode())

    def ident(self, prefix: str, length: int = 24, salt: str = "") -> str:
        """An id like providers' (`chatcmpl-…`, `msg_…`), the same for the same request."""
        return make_id(self.digest + salt.encode(), prefix, length)

    def created(self) -> int:
        return EPOCH + int.from_bytes(self.digest[:4], "big") % 31_536_000

    def signature(self) -> str:
        """An opaque signature for a thinking block, as long as a real one roughly."""
        return base64.b64encode(hashlib.blake2b(self.digest + b"signature", digest_size=64).digest() * 3).decode()


@dataclass(frozen=True, slots=True)
class Text:
    """Generated output: the text, its tokens (as strings, for logprobs) and whether it was cut."""

    text: str
    tokens: tuple[str, ...]
    cut: bool

    @property
    def count(self) -> int:
        return len(self.tokens)


def prose(rng: random.Random, budget: int | None, span: tuple[int, int] = ANSWER_WORDS) -> Text:
    """A sentence of one-token words ending in a period, cut to `budget` tokens."""
    wanted = rng.randint(*span)
    words = [rng.choice(WORDS) for _ in range(wanted)]
    tokens = (words[0], *(" " + word for word in words[1:]), ".")
    if budget is not None and budget < len(tokens):
        tokens = tokens[: max(0, budget)]
        return Text("".join(tokens), tokens, True)
    return Text("".join(tokens), tokens, False)


def json_text(schema: Mapping[str, Any] | None, rng: random.Random, budget: int | None) -> Text:
    """JSON matching `schema` (any object when None), cut to `budget` tokens like a real model."""
    value = value_for(schema, rng) if schema is not None else {"answer": prose(rng, None).text}
    text = orjson.dumps(value).decode()
    ids = encoding().encode(text, disallowed_special=())
    if budget is not None and budget < len(ids):
        ids = ids[: max(0, budget)]
        pieces = tuple(encoding().decode([token]) for token in ids)
        return Text("".join(pieces), pieces, True)
    return Text(text, tuple(encoding().decode([token]) for token in ids), False)


def tool_arguments(schema: Any, rng: random.Random) -> dict[str, Any]:
    value = value_for(schema if isinstance(schema, Mapping) else {"type": "object"}, rng)
    return value if isinstance(value, dict) else {"value": value}


def thinking(rng: random.Random, budget: int | None) -> Text:
    return prose(rng, budget, THINKING_WORDS)


def reasoning_tokens(effort: str | None, rng: random.Random) -> int:
    base = REASONING_TOKENS.get(effort or "", 0)
    return base + rng.randint(0, base // 2)


def chosen_tool(names: Sequence[str], prompt: str, forced: str | bool) -> str | None:
    """Which tool to call: the one named by the tool choice; with `True` (required / any) the
    first tool the prompt names, else the first tool; with `False` (auto) the first tool whose
    name the last user message mentions, else none."""
    if isinstance(forced, str):
        return forced if forced in names else None
    lowered = prompt.lower()
    mentioned = next((name for name in names if name.lower() in lowered), None)
    if mentioned is not None or not forced:
        return mentioned
    return names[0] if names else None


def logprobs(tokens: Iterable[str], rng: random.Random, top: int) -> list[tuple[str, float, list[tuple[str, float]]]]:
    """Per token: its logprob and `top` alternatives, most likely first (the token itself leads)."""
    out = []
    for token in tokens:
        chosen = -round(rng.random() * 0.5, 6)
        alternatives = [(token, chosen)]
        level = chosen
        while len(alternatives) < top:
            level -= round(0.5 + rng.random() * 2, 6)
            alternatives.append((" " + rng.choice(WORDS), round(level, 6)))
        out.append((token, chosen, alternatives[:top]))
    return out


def prompt_tokens(texts: Iterable[str], messages: int) -> int:
    """What a request's text costs: cl100k_base tokens plus the chat format's overhead."""
    return sum(count_text(text) for text in texts) + 3 * messages + 3


def embedding(text: str, dimensions: int) -> list[float]:
    """A unit vector drawn from the text, so equal inputs embed equally."""
    rng = random.Random(hashlib.blake2b(text.encode(), digest_size=16).digest())
    vector = [rng.gauss(0.0, 1.0) for _ in range(dimensions)]
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


def quantised(vector: list[float], kind: str) -> Any:
    """The vector as Cohere and Mistral send `kind`: floats, bytes scaled to the largest component, sign
    bits packed eight to a byte, or little-endian float32 in base64."""
    scale = 127 / (max(abs(x) for x in vector) or 1.0)
    if kind == "int8":
        return [round(x * scale) for x in vector]
    if kind == "uint8":
        return [round(x * scale) + 128 for x in vector]
    if kind in ("binary", "ubinary"):
        packed = []
        for start in range(0, len(vector) - len(vector) % 8, 8):
            byte = sum(1 << (7 - i) for i, x in enumerate(vector[start : start + 8]) if x > 0)
            packed.append(byte - 128 if kind == "binary" else byte)
        return packed
    if kind == "base64":
        return base64.b64encode(array("f", vector).tobytes()).decode()
    return vector


def fraction(text: str) -> float:
    """A uniform number in [0, 1) drawn from `text`: which batch items fail or expire."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big") / 2**64


ARGUMENTS_SPAN = (3, 12)
"""Characters in each piece of a tool call's JSON arguments as a stream sends them."""


def cut(text: str, rng: random.Random, span: tuple[int, int] = ARGUMENTS_SPAN) -> list[str]:
    """`text` in pieces of `span` characters (low, high), cut wherever they fall (a token
    boundary falls mid-word or mid-JSON); together exactly `text`, none for ""."""
    out = []
    start = 0
    while start < len(text):
        end = start + rng.randint(*span)
        out.append(text[start:end])
        start = end
    return out


def pieces(text: str, rng: random.Random) -> list[str]:
    """`text` cut into the deltas of a stream, one to four words each (spaces kept), as a
    model's tokens arrive a few at a time; joined, they are the text again."""
    words = [word for word in re.findall(r"\S*\s*", text) if word]
    cut: list[str] = []
    while words:
        take = rng.randint(1, 4)
        cut.append("".join(words[:take]))
        words = words[take:]
    return cut
