"""Gemini's stream, both ways: the simulator cuts each answer it builds into the chunks
`streamGenerateContent` sends (each a GenerateContentResponse google-genai accepts), and the fold
rebuilds from them the body `generateContent` answers, which cloudburst reads field by field as
it reads the unstreamed one; a stream cut off is billed what its last usage says, and an error
chunk fails the attempt as the same error fails it online. End to end, the same prompts run
streamed and not give the same responses, and google-genai's `generate_content_stream`, reading
the simulator's stream, sees what cloudburst folded."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import httpx
import pytest
from google import genai
from google.genai import types

import cloudburst
from cloudburst import BlockedError, OverloadedError, SamplingParams, Simulator
from cloudburst._client import LLMClient
from cloudburst._config import RetryPolicy
from cloudburst._deltas import TextDelta, ThinkingDelta
from cloudburst._options import RequestOptions
from cloudburst._sim.gemini import Gemini
from cloudburst._sim.gemini_stream import events
from cloudburst._stream.gemini import GeminiFold
from cloudburst._tools import Tool
from cloudburst.generated.gemini.generate import parse_body
from cloudburst.generated.gemini.models import GenerateContentResponse
from cloudburst.generated.gemini.options import GeminiOptions
from tests.responses import same

MODEL = "gemini-2.5-flash"
HTTP = httpx.Client()
OFF = {"thinkingConfig": {"thinkingBudget": 0}}
WEATHER = {
    "name": "get_weather",
    "parametersJsonSchema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city", "days"],
    },
}
REQUESTS = {
    "text": {"generationConfig": OFF},
    "thinking": {"generationConfig": {"thinkingConfig": {"thinkingBudget": 300, "includeThoughts": True}}},
    "tool_call": {
        "contents": [{"role": "user", "parts": [{"text": "Use get_weather for Rome."}]}],
        "tools": [{"functionDeclarations": [WEATHER]}],
        "generationConfig": {"thinkingConfig": {"includeThoughts": True}},
    },
    "logprobs": {"generationConfig": {"responseLogprobs": True, "logprobs": 3, **OFF}},
    "json": {"generationConfig": {"responseMimeType": "application/json", **OFF}},
    "candidates": {"generationConfig": {"candidateCount": 2, "maxOutputTokens": 30, **OFF}},
    "no_text": {"generationConfig": {"maxOutputTokens": 100, "thinkingConfig": {"thinkingBudget": 200}}},
}


def answer(sim: Simulator, request: dict[str, Any]) -> dict[str, Any]:
    body = {"contents": [{"role": "user", "parts": [{"text": "Tell me about rivers."}]}], **request}
    response = HTTP.post(
        f"{sim.url}/v1beta/models/{MODEL}:generateContent", json=body, headers={"x-goog-api-key": "AIza-test"}
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def fold(chunks: list[dict[str, Any]]) -> GeminiFold:
    folding = GeminiFold()
    for chunk in chunks:
        folding.feed(None, chunk)
    return folding


def chunks_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name, chunk in events(body, {}):
        assert name is None  # Gemini names no events
        types.GenerateContentResponse.model_validate(chunk)
        GenerateContentResponse.model_validate(chunk)
        out.append(chunk)
    return out


def without_averages(body: dict[str, Any]) -> dict[str, Any]:
    """The body with its logprob sums and averages taken out: a float summed chunk by chunk
    differs from the whole's in the last digits."""
    candidates = []
    for candidate in body.get("candidates", ()):
        kept = {key: value for key, value in candidate.items() if key not in ("avgLogprobs", "logprobsResult")}
        if "logprobsResult" in candidate:
            kept["logprobsResult"] = {k: v for k, v in candidate["logprobsResult"].items() if k != "logProbabilitySum"}
        candidates.append(kept)
    return {**body, "candidates": candidates} if candidates else body


@pytest.mark.parametrize("case", sorted(REQUESTS))
def test_folded_stream_is_the_unstreamed_answer(sim: Simulator, case: str) -> None:
    whole = answer(sim, REQUESTS[case])
    chunks = chunks_of(whole)
    folding = fold(chunks)
    assert folding.done and folding.failed is None
    folded = folding.body()
    same(parse_body(folded), parse_body(whole))
    assert without_averages(folded) == without_averages(whole)
    for got, want in zip(folded["candidates"], whole["candidates"], strict=True):
        assert got.get("avgLogprobs") == pytest.approx(want.get("avgLogprobs"))
        assert (got.get("logprobsResult") or {}).get("logProbabilitySum") == pytest.approx(
            (want.get("logprobsResult") or {}).get("logProbabilitySum")
        )


def test_chunks_are_pieces_with_growing_usage(sim: Simulator) -> None:
    whole = answer(sim, REQUESTS["thinking"])
    chunks = chunks_of(whole)
    assert len(chunks) > 4
    assert all(chunk["modelVersion"] == MODEL and chunk["responseId"] == whole["responseId"] for chunk in chunks)
    pieces = [part for chunk in chunks for part in chunk["candidates"][0]["content"]["parts"]]
    assert all(len(chunk["candidates"][0]["content"]["parts"]) == 1 for chunk in chunks)
    assert sum(bool(part.get("thought")) for part in pieces) > 1 and sum(not part.get("thought") for part in pieces) > 1
    assert ["finishReason" in chunk["candidates"][0] for chunk in chunks] == [False] * (len(chunks) - 1) + [True]
    written = [chunk["usageMetadata"].get("candidatesTokenCount", 0) for chunk in chunks]
    assert written == sorted(written) and written[0] < written[-1]
    assert chunks[-1]["usageMetadata"] == whole["usageMetadata"]
    assert all(chunk["usageMetadata"]["thoughtsTokenCount"] == 300 for chunk in chunks)


def test_a_function_call_comes_whole_with_its_signature(sim: Simulator) -> None:
    whole = answer(sim, REQUESTS["tool_call"])
    call = whole["candidates"][0]["content"]["parts"][-1]
    assert call["functionCall"]["name"] == "get_weather" and call["thoughtSignature"]
    last = chunks_of(whole)[-1]["candidates"][0]
    assert last["content"]["parts"] == [call] and last["finishReason"] == "STOP"
    parsed = parse_body(fold(chunks_of(whole)).body())
    assert parsed.finish_reason == "tool_calls" and parsed.tool_calls[0].signature == call["thoughtSignature"]


def test_each_chunk_scores_its_own_tokens(sim: Simulator) -> None:
    whole = answer(sim, REQUESTS["logprobs"])
    chunks = chunks_of(whole)
    assert len(chunks) > 2
    for chunk in chunks:
        candidate = chunk["candidates"][0]
        tokens = [step["token"] for step in candidate["logprobsResult"]["chosenCandidates"]]
        assert "".join(tokens) == candidate["content"]["parts"][0]["text"]
        assert len(candidate["logprobsResult"]["topCandidates"]) == len(tokens)
    assert parse_body(fold(chunks).body()).logprobs == parse_body(whole).logprobs


def test_a_signed_text_part_streams_its_signature_last_and_folds_back(sim: Simulator) -> None:
    whole = answer(sim, REQUESTS["thinking"])
    thought, text = whole["candidates"][0]["content"]["parts"]
    signed = {"candidates": [{**whole["candidates"][0], "content": {"parts": [
        {**thought, "thoughtSignature": "c2lnLXRob3VnaHQ="}, {**text, "thoughtSignature": "c2lnLXRleHQ="},
    ], "role": "model"}}], "usageMetadata": whole["usageMetadata"]}  # fmt: skip
    chunks = chunks_of(signed)
    assert chunks[-1]["candidates"][0]["content"]["parts"] == [{"text": "", "thoughtSignature": "c2lnLXRleHQ="}]
    assert fold(chunks).body() == signed
    assert parse_body(fold(chunks).body()).thoughts[0].signature == "c2lnLXRob3VnaHQ="


def test_pieces_of_one_kind_merge_and_a_second_signature_starts_a_new_part() -> None:
    def streamed(*parts: dict[str, Any]) -> list[dict[str, Any]]:
        chunks = [{"candidates": [{"content": {"parts": [part], "role": "model"}, "index": 0}]} for part in parts]
        body: list[dict[str, Any]] = fold(chunks).body()["candidates"][0]["content"]["parts"]
        return body

    assert streamed({"text": "Hel", "thoughtSignature": "a"}, {"text": "lo"}) == [
        {"text": "Hello", "thoughtSignature": "a"}
    ]
    assert streamed({"text": "Hel"}, {"text": "lo"}, {"text": "", "thoughtSignature": "a"}) == [
        {"text": "Hello", "thoughtSignature": "a"}
    ]
    assert streamed({"text": "A", "thoughtSignature": "a"}, {"text": "B", "thoughtSignature": "b"}) == [
        {"text": "A", "thoughtSignature": "a"},
        {"text": "B", "thoughtSignature": "b"},
    ]
    assert streamed({"text": "Hm", "thought": True}, {"text": "m", "thought": True}, {"text": "Hi"}) == [
        {"text": "Hmm", "thought": True},
        {"text": "Hi"},
    ]
    call = {"functionCall": {"name": "f", "args": {}}}
    assert streamed({"text": "A"}, call, {"text": "B"}) == [{"text": "A"}, call, {"text": "B"}]


def test_a_blocked_prompt_is_one_chunk(sim: Simulator) -> None:
    sim.configure(blocked_fraction=1.0)
    whole = answer(sim, {})
    assert chunks_of(whole) == [whole]
    folding = fold([whole])
    assert folding.done and folding.body() == whole
    same(parse_body(folding.body()), parse_body(whole))


def test_a_stream_cut_off_is_what_arrived_billed_as_its_last_usage(sim: Simulator) -> None:
    whole = answer(sim, REQUESTS["text"])
    chunks = chunks_of(whole)
    folding = fold(chunks[: len(chunks) // 2])
    assert not folding.done
    partial, full = parse_body(folding.body()), parse_body(whole)
    assert full.completion and partial.completion and full.completion.startswith(partial.completion)
    assert partial.completion != full.completion and partial.finish_reason is None
    assert 0 < partial.usage.output_tokens < full.usage.output_tokens
    assert partial.usage.input_tokens == full.usage.input_tokens


def test_an_error_chunk_fails_as_the_same_error_online(sim: Simulator) -> None:
    provider = Gemini()
    online = provider.error_body(provider.server_error(overloaded=True))
    chunks = chunks_of(answer(sim, REQUESTS["text"]))
    folding = fold([*chunks[:2], online])
    assert folding.failed == (503, online) and not folding.done
    assert parse_body(folding.body()).completion  # what came before the error stays readable
    failed = cloudburst.parse(MODEL, *folding.failed[:1], {}, folding.failed[1])
    assert isinstance(failed.error, OverloadedError) and failed.error.retryable


CASES: dict[str, tuple[str, SamplingParams, RequestOptions]] = {
    "text": ("gemini-2.5-flash-lite", SamplingParams(max_new_tokens=200), RequestOptions()),
    "thinking": (
        MODEL,
        SamplingParams(max_new_tokens=1200, thinking_budget=300),
        RequestOptions(provider=GeminiOptions(include_thoughts=True)),
    ),
    "tools": (
        MODEL,
        SamplingParams(max_new_tokens=1200),
        RequestOptions(
            tools=[
                Tool(
                    name="get_weather", description="The weather in a city.", parameters=WEATHER["parametersJsonSchema"]
                )
            ]
        ),
    ),
    "logprobs": (
        MODEL,
        SamplingParams(max_new_tokens=200, thinking_budget=0, logprobs=True, top_logprobs=2),
        RequestOptions(),
    ),
    "cut": (MODEL, SamplingParams(max_new_tokens=12, thinking_budget=0), RequestOptions()),
}
PROMPTS = ["Say something about rivers.", "What is the weather in Rome? Use get_weather.", "Tell me a story."]


def client_on(sim: Simulator, model: str, **settings: Any) -> LLMClient:
    return LLMClient(model, base_urls=sim.base_urls(), api_keys={"gemini": "AIza-test"}, progress=None, **settings)


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_streamed_answer_is_the_same_response_as_the_unstreamed_one(sim: Simulator, case: str) -> None:
    model, sampling, options = CASES[case]
    plain = client_on(sim, model, sampling=sampling, options=options, stream=False).run(PROMPTS)
    assert sim.stats()["streams"] == 0
    streamed = client_on(sim, model, sampling=sampling, options=options, stream=True).run(PROMPTS)
    assert sim.stats()["streams"] == len(PROMPTS)
    for one, other in zip(plain, streamed, strict=True):
        assert one.ok and other.ok, (one.error, other.error)
        same(other, one)
    assert {
        "text": lambda r: r.finish_reason == "stop",
        "thinking": lambda r: r.thoughts and r.usage.reasoning_tokens == 300,
        "tools": lambda r: r.tool_calls and r.tool_calls[0].signature,
        "logprobs": lambda r: r.logprobs and len(r.logprobs[0].top) == 2,
        "cut": lambda r: r.finish_reason == "length" and r.usage.output_tokens == 12,
    }[case](streamed[1])


def test_google_genai_reads_the_simulators_stream_as_cloudburst_folds_it(sim: Simulator) -> None:
    """The witness: google-genai's own `generate_content_stream`, over a real socket, chunk by
    chunk adds up to the response cloudburst folded from the same stream."""
    model, sampling, options = CASES["thinking"]
    (ours,) = client_on(sim, model, sampling=sampling, options=options, stream=True).run([PROMPTS[0]])
    sdk = genai.Client(api_key="AIza-test", http_options={"base_url": sim.url})
    config = types.GenerateContentConfig(
        max_output_tokens=1200, thinking_config=types.ThinkingConfig(thinking_budget=300, include_thoughts=True)
    )
    text, thoughts, usage, finish = "", "", None, None
    for chunk in sdk.models.generate_content_stream(model=model, contents=PROMPTS[0], config=config):
        (candidate,) = chunk.candidates or ()
        for part in (candidate.content and candidate.content.parts) or ():
            if part.thought:
                thoughts += part.text or ""
            else:
                text += part.text or ""
        usage, finish = chunk.usage_metadata, candidate.finish_reason or finish
    assert ours.ok and text == ours.completion and [thoughts] == [t.thinking for t in ours.thoughts]
    assert usage is not None and usage.candidates_token_count == ours.usage.output_tokens - 300
    assert usage.thoughts_token_count == ours.usage.reasoning_tokens == 300
    assert finish == types.FinishReason.STOP and ours.raw_finish_reason == "STOP"


def test_google_genai_streams_a_function_call_with_its_signature(sim: Simulator) -> None:
    model, sampling, options = CASES["tools"]
    (ours,) = client_on(sim, model, sampling=sampling, options=options, stream=True).run([PROMPTS[1]])
    sdk = genai.Client(api_key="AIza-test", http_options={"base_url": sim.url})
    declaration = types.FunctionDeclaration(
        name="get_weather", description="The weather in a city.", parameters_json_schema=WEATHER["parametersJsonSchema"]
    )
    config = types.GenerateContentConfig(
        max_output_tokens=1200, tools=[types.Tool(function_declarations=[declaration])]
    )
    calls = [
        part
        for chunk in sdk.models.generate_content_stream(model=model, contents=PROMPTS[1], config=config)
        for part in (chunk.candidates or [])[0].content.parts or ()  # type: ignore[union-attr]
        if part.function_call
    ]
    assert [(p.function_call.name, p.function_call.args) for p in calls] == [  # type: ignore[union-attr]
        (call.name, call.arguments) for call in ours.tool_calls
    ]
    assert [p.thought_signature for p in calls] == [base64.b64decode(c.signature or "") for c in ours.tool_calls]


def test_a_gemini_stream_cut_off_midway_is_retried_and_what_arrived_is_billed(sim: Simulator) -> None:
    sim.configure(faults={"disconnect": 0.5}, seed=4)
    client = client_on(
        sim,
        MODEL,
        sampling=SamplingParams(max_new_tokens=300, thinking_budget=0),
        stream=True,
        retry=RetryPolicy(max_attempts=8, backoff_base=0.01),
    )
    results = client.run([f"question {i}" for i in range(12)])
    assert all(r.ok for r in results)
    retried = [r for r in results if r.attempts > 1]
    assert retried and sim.stats()["faults"]["disconnect"] == sum(r.attempts - 1 for r in results)
    for response in retried:
        assert response.failed_usage.input_tokens > 0 and response.failed_usage.output_tokens > 0
        assert response.failed_usage.output_tokens < response.usage.output_tokens * (response.attempts - 1)
        assert response.failed_cost > 0


def test_an_overloaded_gemini_is_retried_as_online_when_streaming(sim: Simulator) -> None:
    sim.configure(faults={"503": 0.5}, seed=2)
    client = client_on(sim, MODEL, stream=True, retry=RetryPolicy(max_attempts=8, backoff_base=0.01))
    results = client.run([f"question {i}" for i in range(8)])
    assert all(r.ok for r in results) and any(r.attempts > 1 for r in results)


def test_client_stream_gives_thought_then_text_deltas_adding_up_to_the_answer(sim: Simulator) -> None:
    model, sampling, options = CASES["thinking"]
    client = client_on(sim, model, sampling=sampling, options=options)

    async def run() -> tuple[list[Any], Any]:
        stream = client.stream(PROMPTS[0])
        return [delta async for delta in stream], stream.response

    deltas, response = asyncio.run(run())
    kinds = [type(delta) for delta in deltas]
    assert kinds.count(ThinkingDelta) > 1 and kinds.count(TextDelta) > 1
    assert max(i for i, kind in enumerate(kinds) if kind is ThinkingDelta) < kinds.index(TextDelta)
    assert "".join(d.text for d in deltas if isinstance(d, ThinkingDelta)) == response.thinking
    assert "".join(d.text for d in deltas if isinstance(d, TextDelta)) == response.completion
    same(response, client.run([PROMPTS[0]])[0])


def test_a_blocked_prompt_streamed_is_the_same_blocked_error(sim: Simulator) -> None:
    sim.configure(blocked_fraction=1.0)
    plain = client_on(sim, MODEL, stream=False).run(PROMPTS[:1])
    streamed = client_on(sim, MODEL, stream=True).run(PROMPTS[:1])
    assert sim.stats()["streams"] == 1
    assert isinstance(streamed[0].error, BlockedError) and streamed[0].attempts == 1
    same(streamed[0], plain[0])


@pytest.mark.parametrize("fault", ["truncated", "malformed", "reset"])
def test_a_gemini_stream_cut_or_broken_is_an_interrupted_attempt_and_retried(sim: Simulator, fault: str) -> None:
    sim.configure(faults={fault: 1.0})
    sampling = SamplingParams(max_new_tokens=300, thinking_budget=0)
    client = client_on(sim, MODEL, sampling=sampling, stream=True, retry=RetryPolicy(max_attempts=2, backoff_base=0.01))
    (response,) = client.run(["hello"])
    assert response.error is not None and response.error.kind == "stream_interrupted"
    assert response.attempts == 2 and sim.stats()["faults"] == {fault: 2}
    assert response.usage.output_tokens > 0 and response.failed_usage.output_tokens > 0  # its usage so far
