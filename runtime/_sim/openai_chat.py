"""OpenAI's Chat Completions and Embeddings APIs as the simulator plays them, and the helpers
the Responses API shares with them.

Tool calls: when tools are offered and `tool_choice` is not "none", the answer calls a tool if
the choice names one or is "required", or if the last user message mentions a tool's name; a
conversation that ends with a tool result gets text.
"""

from __future__ import annotations

import base64
from array import array
from collections.abc import Iterator, Mapping
from typing import Any

from cloudburst._sim import answers, openai_chat_stream
from cloudburst._sim.answers import Draw, Text
from cloudburst._sim.limits import Cost
from cloudburst._sim.provider import Answer, ModelEndpoint, Problem, Refused, StreamPlay
from cloudburst._sim.schema import strict_problem
from cloudburst._sim.store import Store, file_ids
from cloudburst._sim.validation import check
from cloudburst._tokens import count_text
from cloudburst.generated.openai.models import CreateChatCompletionRequest, CreateEmbeddingRequest

EMBEDDING_DIMENSIONS = {"text-embedding-3-large": 3072}
"""Vector sizes that differ from the default 1536."""


def invalid(message: str, param: str | None = None, code: str | None = None, status: int = 400) -> Refused:
    return Refused(Problem(status, "invalid_request_error", message, param, code))


def validate_with(model: Any) -> Any:
    """A validator raising OpenAI's 400 for the first problem `model` finds in a body."""

    def validate(body: Any) -> None:
        problem = check(model, body)
        if problem is None:
            _check_strict_tools(body)
            return
        param = problem.bracketed()
        if problem.kind == "missing":
            raise invalid(f"Missing required parameter: '{param}'.", param, "missing_required_parameter")
        if problem.kind == "extra_forbidden":
            raise invalid(f"Unrecognized request argument supplied: {param}", param, "unknown_parameter")
        raise invalid(f"Invalid value for '{param}': {problem.message}.", param, "invalid_value")

    return validate


def _check_strict_tools(body: dict[str, Any]) -> None:
    """Strict functions as OpenAI checks them: every object closed, every property required. A
    Responses function is strict unless it says otherwise; a chat one only when it says so."""
    for index, tool in enumerate(body.get("tools") or ()):
        if tool.get("type") != "function":
            continue
        chat = "function" in tool
        spec, param = (
            (tool["function"], f"tools[{index}].function.parameters") if chat else (tool, f"tools[{index}].parameters")
        )
        if not spec.get("strict", not chat):
            continue
        found = strict_problem(spec.get("parameters") or {}, openai=True)
        if found is None:
            continue
        message = f"Invalid schema for function '{spec.get('name')}': In context={found[0]!r}, {found[1]}"
        raise invalid(message, param, "invalid_function_parameters")


def served_tier(body: dict[str, Any]) -> str:
    """The tier an answer says served it: the one asked for; `auto` (or none) is the project's
    default, and `fast` is answered as `priority`, as OpenAI answers it."""
    asked = body.get("service_tier")
    return "default" if asked in (None, "auto") else "priority" if asked == "fast" else str(asked)


def admit_files(body: dict[str, Any], store: Store, key: str, now: float) -> None:
    """Every `file_id` a request names (chat's `file` parts, Responses' `input_file` and
    `input_image`) must be an uploaded file."""
    for file_id in file_ids(body.get("messages", body.get("input"))):
        if file_id not in store.files:
            raise invalid(f"No such File object: {file_id}", "file_id", "file_not_found")


def content_texts(content: Any) -> Iterator[str]:
    """The text in a message's content: a string, or parts with `text`."""
    if isinstance(content, str):
        yield content
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                yield part["text"]


def message_texts(messages: list[Any]) -> Iterator[str]:
    for message in messages:
        yield from content_texts(message.get("content"))
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            yield function.get("name", "")
            yield function.get("arguments", "")


def char_estimate(texts: Iterator[str]) -> int:
    """OpenAI's own rate-limit estimate of a prompt: about four characters a token."""
    return sum(len(text) for text in texts) // 4 + 1


def last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return " ".join(content_texts(message.get("content")))
    return ""


def forced_tool(choice: Any) -> str | bool | None:
    """The tool choice as `chosen_tool` takes it; None when tools must not be called."""
    if choice == "none":
        return None
    if choice == "required":
        return True
    if isinstance(choice, dict):
        named = (choice.get("function") or {}).get("name") or choice.get("name")
        return str(named) if named else False
    return False


def max_tokens(body: Mapping[str, Any], *names: str) -> int | None:
    for name in names:
        value = body.get(name)
        if isinstance(value, int):
            return value
    return None


def output_schema(response_format: Any) -> tuple[bool, Mapping[str, Any] | None]:
    """(JSON wanted, its schema) from a chat `response_format` or a Responses `text.format`."""
    if not isinstance(response_format, dict):
        return False, None
    if response_format.get("type") == "json_object":
        return True, None
    if response_format.get("type") == "json_schema":
        holder = response_format.get("json_schema", response_format)
        schema = holder.get("schema") if isinstance(holder, dict) else None
        return True, schema if isinstance(schema, dict) else {"type": "object"}
    return False, None


def logprob_entries(text: Text, rng: Any, top: int) -> list[dict[str, Any]]:
    return [
        {
            "token": token,
            "logprob": logprob,
            "bytes": list(token.encode()),
            "top_logprobs": [{"token": alt, "logprob": lp, "bytes": list(alt.encode())} for alt, lp in alternatives],
        }
        for token, logprob, alternatives in answers.logprobs(text.tokens, rng, top)
    ]


def stop_at(text: Text, stop: Any) -> Text:
    """The text up to the first stop sequence, which is not included (finish reason `stop`)."""
    stops = [stop] if isinstance(stop, str) else [s for s in stop or () if isinstance(s, str) and s]
    cut = min((text.text.find(s) for s in stops if s and s in text.text), default=-1)
    if cut < 0:
        return text
    kept: list[str] = []
    length = 0
    for token in text.tokens:
        if length + len(token) > cut:
            break
        kept.append(token)
        length += len(token)
    return Text("".join(kept), tuple(kept), False)


def chat_cost(body: dict[str, Any]) -> Cost:
    estimate = char_estimate(message_texts(body.get("messages") or []))
    return Cost(tokens=estimate + (max_tokens(body, "max_completion_tokens", "max_tokens") or 0))


def chat_answer(body: dict[str, Any], draw: Draw) -> Answer:
    messages: list[Any] = body["messages"]
    tools = [tool for tool in body.get("tools") or () if tool.get("type") == "function"]
    prompt = answers.prompt_tokens(message_texts(messages), len(messages))
    if tools:
        prompt += answers.prompt_tokens([str(tools)], 0)
    budget = max_tokens(body, "max_completion_tokens", "max_tokens")
    effort = body.get("reasoning_effort")
    choices = []
    completion = reasoning_total = 0
    for index in range(body.get("n") or 1):
        rng = draw.rng(str(index))
        reasoning = answers.reasoning_tokens(effort, rng) if effort else 0
        if budget is not None:
            reasoning = min(reasoning, budget)
        left = None if budget is None else budget - reasoning
        message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None, "annotations": []}
        forced = forced_tool(body.get("tool_choice"))
        name = None
        if tools and forced is not None and messages[-1].get("role") != "tool":
            names = [tool["function"]["name"] for tool in tools]
            name = answers.chosen_tool(names, last_user_text(messages), forced)
        logprobs = None
        if name is not None:
            schema = next(tool["function"].get("parameters") for tool in tools if tool["function"]["name"] == name)
            arguments = answers.json_text(schema, rng, None).text
            message["tool_calls"] = [
                {
                    "id": draw.ident("call_", 24, f"call{index}"),
                    "type": "function",
                    "function": {"name": name, "arguments": arguments},
                }
            ]
            used = answers.prompt_tokens([name, arguments], 0)
            finish = "tool_calls"
        else:
            wants_json, schema = output_schema(body.get("response_format"))
            text = answers.json_text(schema, rng, left) if wants_json else answers.prose(rng, left)
            text = stop_at(text, body.get("stop"))
            message["content"] = text.text
            used = text.count
            finish = "length" if text.cut or (left is not None and left <= 0) else "stop"
            if body.get("logprobs"):
                entries = logprob_entries(text, rng, body.get("top_logprobs") or 0)
                logprobs = {"content": entries, "refusal": None}
        completion += used + reasoning
        reasoning_total += reasoning
        choices.append({"index": index, "message": message, "logprobs": logprobs, "finish_reason": finish})
    return Answer(
        {
            "id": draw.ident("chatcmpl-", 29),
            "object": "chat.completion",
            "created": draw.created(),
            "model": body["model"],
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {
                    "reasoning_tokens": reasoning_total,
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0,
                },
            },
            "service_tier": served_tier(body),
            "system_fingerprint": "fp_" + draw.digest.hex()[:10],
        },
        prompt,
        completion,
    )


def _embedding_inputs(body: dict[str, Any]) -> list[str]:
    raw = body.get("input")
    items = raw if isinstance(raw, list) and not all(isinstance(x, int) for x in raw) else [raw]
    return [item if isinstance(item, str) else " ".join(map(str, item or ())) for item in items]


EMBEDDING_MAX_INPUTS = 2048
EMBEDDING_INPUT_TOKENS = 8192
EMBEDDING_REQUEST_TOKENS = 300_000
"""OpenAI's per-request limits: inputs, tokens of one input, tokens of all of them."""
_validate_embedding_body = validate_with(CreateEmbeddingRequest)


def validate_embeddings(body: Any) -> None:
    if not isinstance(body.get("model"), str):
        raise invalid("Missing required parameter: 'model'.", "model", "missing_required_parameter")
    raw = body.get("input")
    if raw is None or raw == "" or raw == []:
        raise invalid("'input' must be a non-empty string or array.", "input", "invalid_value")
    if isinstance(raw, list) and len(raw) > EMBEDDING_MAX_INPUTS:
        raise invalid(
            f"Invalid 'input': array too long. Expected an array with maximum length {EMBEDDING_MAX_INPUTS}, "
            f"but got an array with length {len(raw)} instead.",
            "input",
            "array_above_max_length",
        )
    _validate_embedding_body(body)
    counts = [count_text(text) for text in _embedding_inputs(body)]
    longest = max(counts, default=0)
    if longest > EMBEDDING_INPUT_TOKENS:
        raise invalid(
            f"This model's maximum context length is {EMBEDDING_INPUT_TOKENS} tokens, however you requested "
            f"{longest} tokens ({longest} in your prompt; 0 for the completion). Please reduce your prompt; or "
            "completion length."
        )
    if sum(counts) > EMBEDDING_REQUEST_TOKENS:
        raise invalid(
            f"Requested {sum(counts)} tokens, max {EMBEDDING_REQUEST_TOKENS} tokens per request",
            "input",
            "max_tokens_per_request",
        )
    if body.get("encoding_format", "float") not in ("float", "base64"):
        raise invalid("'encoding_format' must be 'float' or 'base64'.", "encoding_format", "invalid_value")
    dimensions = body.get("dimensions")
    if dimensions is not None and (not isinstance(dimensions, int) or dimensions < 1):
        raise invalid("'dimensions' must be a positive integer.", "dimensions", "invalid_value")


def embeddings_cost(body: dict[str, Any]) -> Cost:
    return Cost(tokens=char_estimate(iter(_embedding_inputs(body))))


def embeddings_answer(body: dict[str, Any], draw: Draw) -> Answer:
    inputs = _embedding_inputs(body)
    size = body.get("dimensions") or EMBEDDING_DIMENSIONS.get(body["model"], 1536)
    data = []
    for index, text in enumerate(inputs):
        vector = answers.embedding(text, size)
        value: Any = vector
        if body.get("encoding_format") == "base64":
            value = base64.b64encode(array("f", vector).tobytes()).decode()
        data.append({"object": "embedding", "index": index, "embedding": value})
    tokens = answers.prompt_tokens(inputs, 0) - 3
    return Answer(
        {
            "object": "list",
            "data": data,
            "model": body["model"],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        },
        tokens,
        0,
    )


CHAT = ModelEndpoint(
    validate_with(CreateChatCompletionRequest),
    chat_cost,
    chat_answer,
    admit=admit_files,
    stream=StreamPlay(openai_chat_stream.events),
)
EMBEDDINGS = ModelEndpoint(validate_embeddings, embeddings_cost, embeddings_answer)
