"""Prompts from a JSONL file, for `cloudburst run`, `estimate` and `batch submit`: one prompt a
line, read lazily.

A line is a JSON string, or an object with an optional `id`, either `prompt` (a string) or
`messages` (OpenAI chat format), and optional per-line settings (`LINE_SETTINGS`). A line that
cannot become a request — not UTF-8, not JSON, no prompt, bad messages, an unknown key, a bad
setting, a setting one of the job's models refuses — is not raised: it becomes an
`InvalidPrompt` whose `InputError` names the file and line. `run` makes it that line's result
(nothing sent, nothing paid, the job goes on); `estimate` and `run --dry-run` list it and count
it. `json_lines` is the line reading all JSONL inputs share (`cloudburst embed`'s too).
"""

from __future__ import annotations

import codecs
import difflib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from cloudburst._capabilities import check_request
from cloudburst._conversation import Conversation, Text
from cloudburst._errors import ConfigurationError, InputError
from cloudburst._models import ModelInfo
from cloudburst._options import RequestOptions
from cloudburst._prompt import InvalidPrompt, Prompt
from cloudburst._render import check_options
from cloudburst._sampling import SamplingParams

LINE_SETTINGS = (
    "max_new_tokens",
    "temperature",
    "top_p",
    "seed",
    "stop",
    "reasoning_effort",
    "thinking_budget",
    "json_mode",
)
"""SamplingParams fields a line may set for itself."""
LINE_KEYS = ("id", "prompt", "messages", *LINE_SETTINGS)

KEY_HINTS = {
    "max_tokens": "use max_new_tokens",
    "max_completion_tokens": "use max_new_tokens",
    "max_output_tokens": "use max_new_tokens",
    "maxOutputTokens": "use max_new_tokens",
    "stop_sequences": "use stop",
    "topP": "use top_p",
    "model": "the models are chosen for the whole job (--model), not per line",
    "system": "put the system prompt first in messages: {'role': 'system', 'content': ...}",
    "response_format": "use json_mode",
    "reasoning": "use reasoning_effort",
    "thinking": "use thinking_budget (tokens) or reasoning_effort",
    "budget_tokens": "use thinking_budget",
    "tools": "tools are set for the whole job (RequestOptions), not per line",
    "n": "a line asks for one answer; repeat the line for more",
}
"""What to write instead of a common provider's name for a setting."""


def unknown_key_hint(key: str) -> str:
    hint = KEY_HINTS.get(key)
    if hint is None:
        close = difflib.get_close_matches(key, LINE_KEYS, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"a line takes {', '.join(LINE_KEYS)}"
    return f"unknown key {key!r} ({hint})"


def json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """Each non-blank line's number and its JSON value, or an InputError naming the line and
    why it has none (not UTF-8, not JSON). A byte order mark before the first line is skipped."""
    with path.open("rb") as lines:
        for number, line in enumerate(lines, 1):
            if number == 1:
                line = line.removeprefix(codecs.BOM_UTF8)
            if not line.strip():
                continue
            try:
                yield number, orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                yield number, InputError(f"{path}:{number}: {_not_json(line, exc)}", path=str(path), line=number)


def _not_json(line: bytes, exc: orjson.JSONDecodeError) -> str:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as bad:
        return f"not UTF-8 text (byte 0x{line[bad.start]:02x} at byte {bad.start + 1} of the line)"
    return f"not JSON ({exc})"


def count_lines(path: Path) -> int:
    """Non-blank lines, read in large blocks: the bar's total, at a fraction of parsing cost."""
    count = 0
    with path.open("rb") as data:
        for line in data:
            if line.strip():
                count += 1
    return count


class PromptReader:
    """Prompts from a JSONL file, read lazily. Identical per-line settings share one
    SamplingParams, checked once against every model in `models` (any of them may get the
    prompt, first or on a retry)."""

    def __init__(
        self, path: Path, sampling: SamplingParams, models: Sequence[ModelInfo] = (), *, unique_ids: bool = False
    ) -> None:
        self.path = path
        self.unique_ids = unique_ids
        """Check that no two lines give one id (`--dry-run` does): it remembers every id given, so
        a streaming run, which reads in constant memory, leaves it off."""
        self.sampling = sampling
        self.models = tuple(models)
        self._interned: dict[tuple[Any, ...], SamplingParams | str] = {}

    def __iter__(self) -> Iterator[Prompt | InvalidPrompt]:
        for _, item in self.numbered():
            yield item

    def numbered(self) -> Iterator[tuple[int, Prompt | InvalidPrompt]]:
        """Each non-blank line's number and what it became. With `unique_ids`, an id a line
        gives that an earlier line gave is an error of the later one (its result is named
        `<id>#line<N>`): results, the journal and resume all know a prompt by its id."""
        first_line: dict[str, int] = {}
        for number, value in json_lines(self.path):
            item = self.prompt(value, number)
            if self.unique_ids and item.id is not None and item.id != str(number):
                earlier = first_line.setdefault(item.id, number)
                if earlier != number:
                    message = f"id {item.id!r} is line {earlier}'s already; each prompt needs its own id"
                    item = self._invalid(number, message, f"{item.id}#line{number}")
            yield number, item

    def prompt(self, item: Any, number: int) -> Prompt | InvalidPrompt:
        """What line `number`'s JSON value (or why it has none) becomes."""
        if isinstance(item, InputError):
            return InvalidPrompt(item, str(number))
        if isinstance(item, str):
            return self._checked(Prompt(item, id=str(number)), number)
        if not isinstance(item, dict):
            return self._invalid(number, f"expected a string or an object, got {type(item).__name__}", None)
        prompt_id = str(item.get("id", number))
        unknown = [key for key in item if key not in LINE_KEYS]
        if unknown:
            return self._invalid(number, "; ".join(unknown_key_hint(key) for key in unknown), prompt_id)
        content: str | Conversation
        if "prompt" in item and "messages" in item:
            return self._invalid(number, "give 'prompt' or 'messages', not both", prompt_id)
        if isinstance(item.get("prompt"), str):
            content = item["prompt"]
        elif isinstance(item.get("messages"), list):
            try:
                content = Conversation.from_openai(item["messages"])
            except InputError as exc:
                return self._invalid(number, f"messages: {exc}", prompt_id)
        else:
            return self._invalid(
                number, "an object needs 'prompt' (a string) or 'messages' (OpenAI chat format)", prompt_id
            )
        sampling = self._sampling(item)
        if isinstance(sampling, str):
            return self._invalid(number, sampling, prompt_id)
        return self._checked(Prompt(content, id=prompt_id, sampling=sampling), number)

    def _invalid(self, number: int, message: str, prompt_id: str | None) -> InvalidPrompt:
        error = InputError(f"{self.path}:{number}: {message}", path=str(self.path), line=number)
        return InvalidPrompt(error, str(number) if prompt_id is None else prompt_id)

    def _checked(self, prompt: Prompt, number: int) -> Prompt | InvalidPrompt:
        """The prompt, or why a model of the job cannot take its content (an image, say)."""
        content = prompt.content
        if not self.models or isinstance(content, str):
            return prompt
        if all(isinstance(part, Text) for message in content.messages for part in message.parts):
            return prompt
        sampling = prompt.sampling or self.sampling
        try:
            for model in self.models:
                check_request(model, content, sampling)
        except ConfigurationError as exc:
            return self._invalid(number, str(exc), prompt.id)
        return prompt

    def _sampling(self, item: dict[str, Any]) -> SamplingParams | str | None:
        """The line's own settings, or why they are refused."""
        settings = {name: item[name] for name in LINE_SETTINGS if name in item}
        if not settings:
            return None
        key = tuple((name, orjson.dumps(value)) for name, value in sorted(settings.items()))
        sampling = self._interned.get(key)
        if sampling is None:
            try:
                sampling = SamplingParams.model_validate({**self.sampling.model_dump(exclude_none=True), **settings})
                for model in self.models:
                    check_options(model, sampling, RequestOptions())
            except ConfigurationError as exc:
                sampling = str(exc)
            except ValidationError as exc:
                sampling = "bad setting: " + "; ".join(
                    f"{'.'.join(map(str, e['loc']))}: {e['msg']} (got {e['input']!r})" for e in exc.errors()
                )
            except ValueError as exc:
                sampling = f"bad setting: {exc}"
            self._interned[key] = sampling
        return sampling
