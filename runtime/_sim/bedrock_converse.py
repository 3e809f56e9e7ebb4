"""Bedrock's Converse API as the simulator plays it: `POST /model/{modelId}/converse`, the body and
answer of botocore's `bedrock-runtime` model (content blocks keyed by kind: `text`, `toolUse`,
`toolResult`, `reasoningContent`, ...).

Thinking (`additionalModelRequestFields.thinking` or `reasoning_config`, enabled or adaptive)
puts a signed `reasoningContent` block first, counting toward `inferenceConfig.maxTokens`. Tool
calls follow the rule of the other providers (see `answers`); JSON comes when `outputConfig`
asks for a schema. Problems are raised as Bedrock's exception types (see `bedrock`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from cloudburst._sim import answers
from cloudburst._sim.answers import Draw
from cloudburst._sim.limits import Cost
from cloudburst._sim.openai_chat import stop_at
from cloudburst._sim.provider import Answer, ModelEndpoint, Problem, Refused
from cloudburst._sim.schema import strict_problem
from cloudburst._sim.validation import check
from cloudburst.generated.bedrock.models import ConverseRequest

OUTPUT_CONTROLS = frozenset({"maxTokens", "stopSequences"})
"""`inferenceConfig` fields that cut an answer without changing it."""
MEDIA_TOKENS = 1_000
"""What one image, document or video block counts, whatever its size."""
_MEDIA = ("image", "document", "video", "audio")


def validation(message: str) -> Refused:
    return Refused(Problem(400, "ValidationException", message))


def validate_converse(body: Any) -> None:
    problem = check(ConverseRequest, {k: v for k, v in body.items() if k != "model"})
    if problem is not None:
        where = problem.dotted()
        if problem.kind == "extra_forbidden":
            raise validation(f"1 validation error detected: Unexpected field '{where}'")
        raise validation(
            f"1 validation error detected: Value at '{where}' failed to satisfy constraint: {problem.message}"
        )
    _schema(body)
    for index, tool in enumerate((body.get("toolConfig") or {}).get("tools") or ()):
        spec = tool.get("toolSpec") or {}
        if spec.get("strict") and strict_problem((spec.get("inputSchema") or {}).get("json"), openai=False):
            raise validation(
                f"The JSON schema of tool {index} ({spec.get('name')}) is not supported in strict mode: "
                "every object needs additionalProperties set to false."
            )
    messages = body.get("messages") or []
    if not messages or messages[0]["role"] != "user":
        raise validation(
            "A conversation must start with a user message. Try again with a conversation that starts with a user message."
        )


def _block_texts(blocks: Any) -> Iterator[str]:
    for block in blocks or ():
        if isinstance(block.get("text"), str):
            yield block["text"]
        if block.get("toolUse"):
            yield block["toolUse"]["name"]
            yield orjson.dumps(block["toolUse"].get("input")).decode()
        if block.get("toolResult"):
            for item in block["toolResult"].get("content") or ():
                if isinstance(item.get("text"), str):
                    yield item["text"]
                elif "json" in item:
                    yield orjson.dumps(item["json"]).decode()
        reasoning = (block.get("reasoningContent") or {}).get("reasoningText") or {}
        if reasoning:
            yield reasoning["text"]


def _texts(body: Mapping[str, Any]) -> Iterator[str]:
    yield from _block_texts(body.get("system"))
    for message in body["messages"]:
        yield from _block_texts(message["content"])


def _media(body: Mapping[str, Any]) -> int:
    """Media blocks of the messages, and inside their tool results."""
    blocks = [block for message in body["messages"] for block in message["content"]]
    blocks += [item for block in blocks for item in (block.get("toolResult") or {}).get("content") or ()]
    return sum(MEDIA_TOKENS for block in blocks if any(block.get(kind) for kind in _MEDIA))


def _max_tokens(body: Mapping[str, Any]) -> int | None:
    value = (body.get("inferenceConfig") or {}).get("maxTokens")
    return value if isinstance(value, int) else None


def converse_cost(body: dict[str, Any]) -> Cost:
    """Bedrock's tokens per minute hold the input and the output asked for."""
    estimate = sum(len(text) for text in _texts(body)) // 4 + 1 + _media(body)
    return Cost(tokens=estimate + (_max_tokens(body) or 0))


def _thinking(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    fields = body.get("additionalModelRequestFields")
    if not isinstance(fields, dict):
        return None
    config = fields.get("thinking") or fields.get("reasoning_config")
    return config if isinstance(config, dict) and config.get("type") in ("enabled", "adaptive") else None


def _wants_tool(body: Mapping[str, Any]) -> str | None:
    config = body.get("toolConfig") or {}
    specs = [tool["toolSpec"] for tool in config.get("tools") or () if tool.get("toolSpec")]
    last = body["messages"][-1]
    if not specs or last["role"] != "user" or any(block.get("toolResult") for block in last["content"]):
        return None
    choice = config.get("toolChoice") or {}
    forced: str | bool = str(choice["tool"]["name"]) if choice.get("tool") else "any" in choice
    prompt = " ".join(block["text"] for block in last["content"] if isinstance(block.get("text"), str))
    return answers.chosen_tool([spec["name"] for spec in specs], prompt, forced)


def _schema(body: Mapping[str, Any]) -> tuple[bool, Any]:
    text_format = (body.get("outputConfig") or {}).get("textFormat") or {}
    schema = ((text_format.get("structure") or {}).get("jsonSchema") or {}).get("schema")
    if not isinstance(schema, str):
        return False, None
    try:
        return True, orjson.loads(schema)
    except orjson.JSONDecodeError:
        raise validation("The provided JSON schema is not valid JSON.") from None


def converse_answer(body: dict[str, Any], draw: Draw) -> Answer:
    input_tokens = answers.prompt_tokens(_texts(body), len(body["messages"])) + _media(body)
    if body.get("toolConfig"):
        input_tokens += answers.prompt_tokens([orjson.dumps(body["toolConfig"]).decode()], 0)
    budget = _max_tokens(body)
    draw = draw.uncut(body, "inferenceConfig", OUTPUT_CONTROLS)
    content: list[dict[str, Any]] = []
    thought = 0
    thinking = _thinking(body)
    if thinking is not None:
        limit = thinking.get("budget_tokens")
        caps = [cap for cap in (limit, budget) if isinstance(cap, int)]
        block = answers.thinking(draw.rng("thinking"), min(caps) if caps else None)
        thought = block.count
        content.append({"reasoningContent": {"reasoningText": {"text": block.text, "signature": draw.signature()}}})
    left = None if budget is None else budget - thought
    name = _wants_tool(body) if left is None or left > 0 else None
    if name is not None:
        spec = next(
            tool["toolSpec"] for tool in body["toolConfig"]["tools"] if (tool.get("toolSpec") or {}).get("name") == name
        )
        arguments = answers.tool_arguments((spec.get("inputSchema") or {}).get("json"), draw.rng("call"))
        content.append({"toolUse": {"toolUseId": draw.ident("tooluse_", 22), "name": name, "input": arguments}})
        used = answers.prompt_tokens([name, orjson.dumps(arguments).decode()], 0)
        stop = "tool_use"
    else:
        wants_json, schema = _schema(body)
        rng = draw.rng()
        text = answers.json_text(schema, rng, left) if wants_json else answers.prose(rng, left)
        stopped = stop_at(text, (body.get("inferenceConfig") or {}).get("stopSequences"))
        if stopped.text or not content:
            content.append({"text": stopped.text})
        used = stopped.count
        cut = text.cut or (left is not None and left <= 0)
        stop = "stop_sequence" if stopped is not text else "max_tokens" if cut else "end_turn"
    output_tokens = thought + used
    return Answer(
        {
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": stop,
            "usage": {
                "inputTokens": input_tokens,
                "outputTokens": output_tokens,
                "totalTokens": input_tokens + output_tokens,
            },
            "metrics": {"latencyMs": 120 + 8 * output_tokens},
            # the tier asked for, as the answer names the one that served it
            **({"serviceTier": body["serviceTier"]} if body.get("serviceTier") else {}),
        },
        input_tokens,
        output_tokens,
    )


CONVERSE = ModelEndpoint(validate_converse, converse_cost, converse_answer)
