"""Official answers of every provider, mutated: the material of the parse fuzz test and of
`bench/fuzz.py`. The answers are the simulator's (valid per the providers' official types) and
the recorded ones the snapshot tests use; a mutation changes a value's type, drops a key, puts
in a null, a string, a negative, NaN or a huge number, or wraps a value in the wrong container.
`read(target, body)` runs what the runtime runs on such a body; `check` says what must hold."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from hypothesis import strategies as st

import cloudburst
from cloudburst import APIResponse, ProviderError, RequestOptions, SamplingParams, SimConfig, Simulator
from cloudburst._batch.job import protocol_for
from cloudburst._direct import direct_adapter
from cloudburst._embedding import EmbeddingOptions
from cloudburst._errors import MalformedResponseError
from cloudburst._headers import read_limits
from cloudburst._registry import get_model
from cloudburst._render import adapter_for, build_request, endpoint_path, request_headers
from cloudburst.generated import PROVIDERS
from tests.conftest import RECORDED_OPENAI_CHAT
from tests.tools_fixtures import get_current_weather

CHAT = {
    "gpt-4o-mini": ("plain", "tools", "logprobs"),
    "gpt-5.4@responses": ("plain", "tools", "thinking"),
    "claude-haiku-4-5": ("plain", "tools", "thinking"),
    "gemini-2.5-flash": ("plain", "tools", "logprobs", "thinking"),
    "mistral-medium-latest": ("plain", "tools", "thinking"),
    "command-a-03-2025": ("plain", "tools"),
    "bedrock-claude-haiku-4-5": ("plain", "tools", "thinking"),
    "bedrock-claude-haiku-4-5@converse": ("plain", "tools", "thinking"),
}
"""Chat models, one per provider API the simulator speaks, and the answers asked of each."""
HOSTS = ("deepseek-chat", "grok-4", "llama-3.3-70b-versatile")
"""OpenAI-compatible hosts (no simulator of their own): OpenAI's answers, with their thinking field."""
EMBEDDINGS = (
    "text-embedding-3-small",
    "embed-v4.0",
    "gemini-embedding-001",
    "mistral-embed",
    "bedrock-titan-embed-text-v2",
    "bedrock-cohere-embed-v4",
)
RERANK = "rerank-v3.5"
BATCH = {"openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5", "gemini": "gemini-2.5-flash"}
ASKED = {
    "plain": (SamplingParams(max_new_tokens=1500), RequestOptions()),
    "tools": (SamplingParams(max_new_tokens=1500), RequestOptions(tools=[get_current_weather], tool_choice="required")),
    "logprobs": (SamplingParams(max_new_tokens=1500, logprobs=True, top_logprobs=2), RequestOptions()),
    "thinking": (SamplingParams(max_new_tokens=3000, thinking_budget=1024), RequestOptions()),
}
PROMPT = "What is the weather like in Boston today?"


NAMES = (
    *(f"parse {model}" for model in (*CHAT, *HOSTS)),
    *(f"embeddings {model}" for model in EMBEDDINGS),
    f"rerank {RERANK}",
    *(f"batch lines {provider}" for provider in BATCH),
)
"""The readers `targets` gives, by name."""


@dataclass(frozen=True)
class Target:
    """One way the runtime reads a provider's body: `read` must never raise."""

    name: str
    seeds: tuple[Any, ...]
    read: Callable[[Any], None]


def _post(sim: Simulator, http: httpx.Client, method: str, url: str, headers: dict[str, str], body: bytes) -> Any:
    assert url.startswith(sim.url), f"{url} is not the simulator's"
    answer = http.request(method, url, headers=headers, content=body)
    return answer.status_code, dict(answer.headers), answer.json()


def _key(sim: Simulator, provider: str) -> str | None:
    name = PROVIDERS[provider].auth.env
    return sim.env().get(name) if name else None


def official_bodies(sim: Simulator) -> dict[str, list[tuple[int, dict[str, str], Any]]]:
    """Per model: (status, headers, body) of the simulator's answers, a 429 among them."""
    out: dict[str, list[tuple[int, dict[str, str], Any]]] = {}
    with httpx.Client() as http:
        for model, asked in CHAT.items():
            info = get_model(model)
            provider, _ = adapter_for(info)
            url, key = sim.base_urls()[provider.name], _key(sim, provider.name)
            for name in asked:
                sampling, options = ASKED[name]
                request = build_request(info, PROMPT, sampling, options, url=url, api_key=key)
                out.setdefault(model, []).append(
                    _post(sim, http, request.method, request.url, request.headers, request.content())
                )
        for model in EMBEDDINGS:
            info = get_model(model)
            provider, adapter = direct_adapter(info)
            body = adapter.build_body(info.name, ["a text", "another"], EmbeddingOptions())
            url = sim.base_urls()[provider.name] + endpoint_path(adapter, info)
            headers = request_headers(provider, RequestOptions(), _key(sim, provider.name))
            status, answer_headers, answer = _post(sim, http, adapter.METHOD, url, headers, orjson.dumps(body))
            out[model] = [(status, answer_headers, _short(answer))]
        info = get_model(RERANK)
        provider, adapter = direct_adapter(info)
        body = adapter.build_body(info.name, "weather", ["rain in Boston", "a poem", "sun"], None)
        url = sim.base_urls()[provider.name] + endpoint_path(adapter, info)
        headers = request_headers(provider, RequestOptions(), _key(sim, provider.name))
        out[RERANK] = [_post(sim, http, adapter.METHOD, url, headers, orjson.dumps(body))]
        sim.configure(rpm=1)  # the second request of each model is refused, in the provider's shape
        for model in CHAT:
            info = get_model(model)
            provider, _ = adapter_for(info)
            request = build_request(
                info, "Hi", *ASKED["plain"], url=sim.base_urls()[provider.name], api_key=_key(sim, provider.name)
            )
            for _ in range(2):
                status, headers, body = _post(
                    sim, http, request.method, request.url, request.headers, request.content()
                )
            assert status == 429, (model, status, body)
            out.setdefault(f"{model} refused", []).append((status, headers, body))
    sim.configure(SimConfig())
    return out


def _short(node: Any) -> Any:
    """The body with each vector cut to 4 numbers: mutations pick among its values, and 1,536
    of them would make every pick a vector's number."""
    if isinstance(node, dict):
        return {key: _short(value) for key, value in node.items()}
    if isinstance(node, list):
        numbers = all(isinstance(value, (int, float)) for value in node)
        return node[:4] if numbers else [_short(value) for value in node]
    return node


def targets(bodies: dict[str, list[tuple[int, dict[str, str], Any]]]) -> list[Target]:
    """Every reader of provider bodies, with the official bodies it starts from."""
    found: list[Target] = []
    for model in CHAT:
        seeds = tuple(bodies[model]) + tuple(bodies[f"{model} refused"])
        if model == "gpt-4o-mini":
            seeds += tuple((200, {}, example["response"]) for example in RECORDED_OPENAI_CHAT.values())
        found.append(Target(f"parse {model}", seeds, _parse_with(model)))
    for model in HOSTS:
        seeds = tuple((status, headers, _with_thinking(body)) for status, headers, body in bodies["gpt-4o-mini"])
        found.append(Target(f"parse {model}", seeds, _parse_with(model)))
    for model in EMBEDDINGS:
        found.append(Target(f"embeddings {model}", tuple(bodies[model]), _vectors_of(model)))
    found.append(Target(f"rerank {RERANK}", tuple(bodies[RERANK]), _ranking_of(RERANK)))
    for provider, model in BATCH.items():
        lines = tuple(_batch_line(provider, body) for _, _, body in bodies[model]) + _batch_failures(provider)
        found.append(Target(f"batch lines {provider}", tuple((0, {}, line) for line in lines), _batch_read(provider)))
    return found


def _with_thinking(body: Any) -> Any:
    body = copy.deepcopy(body)
    message = body["choices"][0]["message"]
    message["reasoning_content"] = message["reasoning"] = "First, the forecast."
    return body


def _parse_with(model: str) -> Callable[[Any], None]:
    provider = PROVIDERS[get_model(model).provider]

    def read(seed: Any) -> None:
        status, headers, body = seed
        check(cloudburst.parse(model, status, headers, body))
        limits = read_limits(headers, provider.rate_limit_headers, provider=provider.name)
        for value in () if limits is None else vars_of(limits):
            assert value is None or (math.isfinite(value) and value >= 0), limits

    return read


def vars_of(limits: Any) -> Iterator[float | None]:
    return (getattr(limits, name) for name in limits.__slots__)


def _vectors_of(model: str) -> Callable[[Any], None]:
    adapter = direct_adapter(get_model(model))[1]

    def read(seed: Any) -> None:
        _, headers, body = seed
        try:
            vectors = adapter.parse_body(body, headers)
        except MalformedResponseError:
            return  # the runtime's DirectJob makes this the pack's typed error
        assert type(vectors.input_tokens) is int and vectors.input_tokens >= 0
        assert type(vectors.image_tokens) is int and vectors.image_tokens >= 0
        for found in vectors.by_type.values():
            assert found is None or all(isinstance(vector, (list, str)) for vector in found)

    return read


def _ranking_of(model: str) -> Callable[[Any], None]:
    adapter = direct_adapter(get_model(model))[1]

    def read(seed: Any) -> None:
        try:
            ranked, searches = adapter.parse_body(seed[2])
        except MalformedResponseError:
            return
        assert type(searches) is int and searches >= 1
        assert all(type(index) is int and index >= 0 and math.isfinite(score) for index, score in ranked)

    return read


def _batch_line(provider: str, body: Any) -> dict[str, Any]:
    if provider == "openai":
        return {"id": "batch_req_1", "custom_id": "cb-0", "response": {"status_code": 200, "body": body}, "error": None}
    if provider == "anthropic":
        return {"custom_id": "cb-0", "result": {"type": "succeeded", "message": body}}
    return {"key": "cb-0", "response": body}


def _batch_failures(provider: str) -> tuple[dict[str, Any], ...]:
    if provider == "openai":
        return ({"custom_id": "cb-1", "response": None, "error": {"code": "batch_expired", "message": "expired"}},)
    if provider == "anthropic":
        error = {"type": "error", "error": {"type": "invalid_request_error", "message": "max_tokens: too large"}}
        return ({"custom_id": "cb-1", "result": {"type": "errored", "error": error}},)
    return ({"key": "cb-1", "error": {"code": 3, "message": "Request contains an invalid argument."}},)


def _batch_read(provider: str) -> Callable[[Any], None]:
    """As `_batch/results.py` reads a result line: the protocol's item, then `parse`."""
    protocol, model = protocol_for(PROVIDERS[provider]), BATCH[provider]

    def read(seed: Any) -> None:
        for _, item in protocol.items(seed[2]):
            if isinstance(item, ProviderError):
                continue
            status, body = item
            check(cloudburst.parse(model, status, {}, body if body is not None else b"", batch=True))

    return read


def check(response: Any) -> None:
    """What every response must be, whatever the body: typed, with counts and costs that can be
    true, and a next turn that can be built from it."""
    assert isinstance(response, APIResponse)
    error = response.error
    if error is not None:
        assert isinstance(error, ProviderError) and isinstance(error.message, str)
        assert error.retry_after is None or (math.isfinite(error.retry_after) and error.retry_after >= 0)
    usage = response.usage
    for name in usage.__slots__:
        value = getattr(usage, name)
        assert type(value) is int and value >= 0, (name, value)
    assert math.isfinite(response.cost) and response.cost >= 0, response.cost
    for value in (response.completion, response.id, response.provider_model, response.raw_finish_reason):
        assert value is None or isinstance(value, str), value
    for thought in response.thoughts:
        assert isinstance(thought.thinking, str) and isinstance(thought.signature, (str, type(None)))
    for call in response.tool_calls:
        assert isinstance(call.id, str) and isinstance(call.name, str) and call.name
    for token in response.logprobs or ():
        assert isinstance(token.token, str) and math.isfinite(token.logprob)
    response.message()


WEIRD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.sampled_from(["n/a", "0", "1023", "", "nans", "infs", "-5s", "1e400", "Bearer"]),
    st.text(max_size=4),
    st.lists(st.integers(), max_size=2),
    st.just([{}]),
    st.just([None]),
    st.dictionaries(st.sampled_from(["text", "type", "token", "name"]), st.integers(), max_size=2),
)
"""What a mutation puts in place of a value."""


def _spots(node: Any) -> Iterator[tuple[Any, Any]]:
    """Every (container, key or index) in a body."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield node, key
            yield from _spots(value)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield node, index
            yield from _spots(value)


@st.composite
def mutated(draw: st.DrawFn, seeds: tuple[Any, ...]) -> Any:
    """One of `seeds` (status, headers, body), with one to three of its body's values (or the
    headers' values) changed."""
    status, headers, body = copy.deepcopy(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        if headers and draw(st.integers(0, 9)) == 0:
            name = draw(st.sampled_from(sorted(headers)))
            headers[name] = draw(st.sampled_from(["nan", "-1", "inf", "1e400", "", "x", "99999999999999999999"]))
            continue
        spots = list(_spots(body))
        if not spots:
            break
        container, key = draw(st.sampled_from(spots))
        value = container[key]
        change = draw(st.sampled_from(["replace", "replace", "drop", "as text", "negated", "in a list", "in a dict"]))
        if change == "drop":
            del container[key]
        elif change == "as text":
            container[key] = str(value)
        elif change == "negated" and isinstance(value, (int, float)) and not isinstance(value, bool):
            container[key] = -value - 1
        elif change == "in a list":
            container[key] = [value]
        elif change == "in a dict":
            container[key] = {"value": value}
        else:
            container[key] = copy.deepcopy(draw(WEIRD))  # `just` gives the same object each time
    return status, headers, body
