"""OpenAI's Responses API as the simulator plays it: `POST /v1/responses`, validated against the
generated `CreateResponse`, answered with a `response` object whose output holds a reasoning
item (when an effort is set), then a message or a function call.

A reasoning item carries a summary when `reasoning.summary` asks for one, and encrypted
content when `include` asks for `reasoning.encrypted_content`: sealed to the item's id, so a
reasoning item sent back with content the simulator did not issue is refused as OpenAI refuses
it (400 `invalid_encrypted_content`), and one sent back by id alone with `store: false` is not
found (404), as nothing was stored. One sent back by id with storing on is taken as stored.

The answer is cut at `max_output_tokens` with `status: incomplete` and
`incomplete_details.reason: max_output_tokens`. Tool calls follow the same rule as chat (see
openai_chat.py); logprobs come when `include` asks for `message.output_text.logprobs`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from typing import Any

from cloudburst._sim import answers, openai_responses_stream
from cloudburst._sim.answers import Draw
from cloudburst._sim.limits import Cost
from cloudburst._sim.openai_chat import (
    admit_files,
    char_estimate,
    content_texts,
    forced_tool,
    invalid,
    logprob_entries,
    max_tokens,
    output_schema,
    served_tier,
    validate_with,
)
from cloudburst._sim.provider import Answer, ModelEndpoint, StreamPlay
from cloudburst._sim.store import Store
from cloudburst.generated.openai.models import CreateResponse

LOGPROBS = "message.output_text.logprobs"
ENCRYPTED = "reasoning.encrypted_content"
_SEAL = b"cloudburst simulator reasoning"


def _sealed(item_id: str) -> str:
    """The encrypted content of reasoning item `item_id`, in the shape of OpenAI's (`gAAAAA...`)."""
    digest = hmac.new(_SEAL, item_id.encode(), hashlib.sha256).digest()
    return "gAAAAA" + base64.urlsafe_b64encode(digest).decode()


def admit_responses(body: dict[str, Any], store: Store, key: str, now: float) -> None:
    """Files must be uploaded ones; reasoning items sent back must be ones the simulator issued."""
    admit_files(body, store, key, now)
    for item in _items(body):
        if item.get("type") != "reasoning":
            continue
        content = item.get("encrypted_content")
        if content is None and body.get("store") is False:
            raise invalid(
                f"Item with id '{item['id']}' not found. Items are not persisted when `store` is set to false. "
                "Try again with `store` set to true, or remove this item from your input.",
                "input",
                status=404,
            )
        if content is not None and not hmac.compare_digest(content.encode(), _sealed(item["id"]).encode()):
            raise invalid(
                f"The encrypted content {content[:4]}...{content[-4:]} could not be verified.",
                None,
                "invalid_encrypted_content",
            )


def _items(body: dict[str, Any]) -> list[Any]:
    raw = body.get("input")
    if isinstance(raw, str):
        return [{"role": "user", "content": raw}]
    return list(raw or ())


def _texts(body: dict[str, Any]) -> Iterator[str]:
    if isinstance(body.get("instructions"), str):
        yield body["instructions"]
    for item in _items(body):
        yield from content_texts(item.get("content"))
        for name in ("arguments", "output"):
            if isinstance(item.get(name), str):
                yield item[name]


def _last_user_text(items: list[Any]) -> str:
    for item in reversed(items):
        if item.get("role") == "user":
            return " ".join(content_texts(item.get("content")))
    return ""


def responses_cost(body: dict[str, Any]) -> Cost:
    return Cost(tokens=char_estimate(_texts(body)) + (max_tokens(body, "max_output_tokens") or 0))


def _tool(tool: dict[str, Any]) -> dict[str, Any]:
    if tool.get("type") != "function":
        return tool
    return {"description": None, "strict": True, **tool}


def responses_answer(body: dict[str, Any], draw: Draw) -> Answer:
    items = _items(body)
    tools = [tool for tool in body.get("tools") or () if tool.get("type") == "function"]
    prompt = answers.prompt_tokens(_texts(body), len(items))
    if tools:
        prompt += answers.prompt_tokens([str(tools)], 0)
    budget = max_tokens(body, "max_output_tokens")
    rng = draw.rng()
    effort = (body.get("reasoning") or {}).get("effort")
    reasoning = answers.reasoning_tokens(effort, rng) if effort else 0
    if budget is not None:
        reasoning = min(reasoning, budget)
    left = None if budget is None else budget - reasoning
    output: list[dict[str, Any]] = []
    if effort:
        item: dict[str, Any] = {"type": "reasoning", "id": draw.ident("rs_", 48), "summary": []}
        if (body.get("reasoning") or {}).get("summary"):
            item["summary"] = [{"type": "summary_text", "text": answers.prose(rng, 40).text}]
        if ENCRYPTED in (body.get("include") or ()):
            item["encrypted_content"] = _sealed(item["id"])
        output.append(item)
    forced = forced_tool(body.get("tool_choice"))
    name = None
    if tools and forced is not None and (items[-1].get("type") != "function_call_output" if items else True):
        name = answers.chosen_tool([tool["name"] for tool in tools], _last_user_text(items), forced)
    cut = left is not None and left <= 0
    if name is not None:
        schema = next(tool.get("parameters") for tool in tools if tool["name"] == name)
        arguments = answers.json_text(schema, rng, None).text
        output.append(
            {
                "type": "function_call",
                "id": draw.ident("fc_", 48),
                "call_id": draw.ident("call_", 24),
                "name": name,
                "arguments": arguments,
                "status": "completed",
            }
        )
        used = answers.prompt_tokens([name, arguments], 0)
    else:
        wants_json, schema = output_schema((body.get("text") or {}).get("format"))
        text = answers.json_text(schema, rng, left) if wants_json else answers.prose(rng, left)
        cut = cut or text.cut
        # Real answers carry `logprobs: []` when none were asked for, as the published schema
        # requires (the SDK's type lets it be absent).
        content: dict[str, Any] = {"type": "output_text", "text": text.text, "annotations": [], "logprobs": []}
        if LOGPROBS in (body.get("include") or ()):
            content["logprobs"] = logprob_entries(text, rng, body.get("top_logprobs") or 0)
        output.append(
            {
                "type": "message",
                "id": draw.ident("msg_", 48),
                "status": "incomplete" if cut else "completed",
                "role": "assistant",
                "content": [content],
            }
        )
        used = text.count
    created = draw.created()
    completion = used + reasoning
    return Answer(
        {
            "id": draw.ident("resp_", 48),
            "object": "response",
            "created_at": created,
            "status": "incomplete" if cut else "completed",
            "completed_at": None if cut else created + 1,
            "error": None,
            "incomplete_details": {"reason": "max_output_tokens"} if cut else None,
            "instructions": body.get("instructions"),
            "max_output_tokens": budget,
            "model": body["model"],
            "output": output,
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "previous_response_id": body.get("previous_response_id"),
            "reasoning": {"effort": effort, "summary": (body.get("reasoning") or {}).get("summary")},
            "service_tier": served_tier(body),
            "store": body.get("store", True),
            "temperature": body.get("temperature", 1.0),
            "text": body.get("text") or {"format": {"type": "text"}},
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": [_tool(tool) for tool in body.get("tools") or ()],
            "top_logprobs": body.get("top_logprobs", 0),
            "top_p": body.get("top_p", 1.0),
            "truncation": body.get("truncation", "disabled"),
            "usage": {
                "input_tokens": prompt,
                "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                "output_tokens": completion,
                "output_tokens_details": {"reasoning_tokens": reasoning},
                "total_tokens": prompt + completion,
            },
            "user": body.get("user"),
            "metadata": body.get("metadata") or {},
        },
        prompt,
        completion,
    )


RESPONSES = ModelEndpoint(
    validate_with(CreateResponse),
    responses_cost,
    responses_answer,
    admit=admit_responses,
    stream=StreamPlay(openai_responses_stream.events),
)
