"""`client.stream(prompt)`: typed deltas as the answer arrives, adding up to the response `run`
gives for the same prompt; a broken attempt is retried with a Restart marker."""

from __future__ import annotations

import asyncio
from typing import Any

from cloudburst import SamplingParams, Simulator
from cloudburst._config import RetryPolicy
from cloudburst._deltas import Delta, Restart, TextDelta, ThinkingDelta, ToolCallDelta
from cloudburst._options import RequestOptions
from tests.test_stream_openai_chat import WEATHER, client_on, fields


def collect(client: Any, prompt: str) -> tuple[list[Delta], Any]:
    async def run() -> tuple[list[Delta], Any]:
        stream = client.stream(prompt)
        deltas = [delta async for delta in stream]
        return deltas, stream.response

    return asyncio.run(run())


def test_text_deltas_add_up_to_the_answer_run_gives(sim: Simulator) -> None:
    client = client_on(sim, "gpt-4.1-mini", stream=False)
    deltas, response = collect(client, "Tell me about rivers.")
    assert len([d for d in deltas if isinstance(d, TextDelta)]) > 3
    assert "".join(d.text for d in deltas if isinstance(d, TextDelta)) == response.completion
    assert sim.stats()["streams"] == 1
    (plain,) = client.run(["Tell me about rivers."])
    assert fields(response) == fields(plain)


def test_tool_call_deltas_carry_the_call_and_its_arguments_in_pieces(sim: Simulator) -> None:
    client = client_on(sim, "gpt-4.1-mini", options=RequestOptions(tools=[WEATHER], tool_choice="required"))
    deltas, response = collect(client, "Weather in Oslo?")
    calls = [d for d in deltas if isinstance(d, ToolCallDelta)]
    (call,) = response.tool_calls
    assert len(calls) > 2 and {(d.index, d.id, d.name) for d in calls} == {(0, call.id, call.name)}
    assert "".join(d.arguments for d in calls) == call.raw_arguments


def test_thinking_comes_before_the_text_it_leads_to(sim: Simulator) -> None:
    client = client_on(sim, "magistral-medium-latest", sampling=SamplingParams(max_new_tokens=600))
    deltas, response = collect(client, "Think, then answer.")
    kinds = [type(d) for d in deltas]
    assert ThinkingDelta in kinds and kinds.index(ThinkingDelta) < kinds.index(TextDelta)
    assert "".join(d.text for d in deltas if isinstance(d, ThinkingDelta)) == response.thinking


def test_a_broken_attempt_is_retried_and_the_deltas_start_again(sim: Simulator) -> None:
    sim.configure(faults={"disconnect": 0.6}, seed=1)
    client = client_on(sim, "gpt-4.1-mini", retry=RetryPolicy(max_attempts=10, backoff_base=0.01))
    deltas, response = collect(client, "Tell me about rivers.")
    assert response.ok and response.attempts > 1 and any(isinstance(d, Restart) for d in deltas)
    last = max(i for i, d in enumerate(deltas) if isinstance(d, Restart))
    assert "".join(d.text for d in deltas[last:] if isinstance(d, TextDelta)) == response.completion


def test_a_streamed_job_tracks_the_time_to_each_first_token(sim: Simulator) -> None:
    client = client_on(sim, "gpt-4.1-mini", stream=True)
    assert all(r.ok for r in client.run(["a", "b", "c"]))
    tracker = client.tracker
    assert tracker.first_tokens == 3 and tracker.time_to_first_token is not None
    assert tracker.streams == 0 and tracker.slow(0) == 0


def test_an_answer_from_the_cache_comes_whole_as_its_deltas(sim: Simulator, tmp_path: Any) -> None:
    cache = str(tmp_path / "cache.sqlite")
    (first,) = client_on(sim, "gpt-4.1-mini", cache=cache).run(["Tell me about rivers."])
    deltas, response = collect(client_on(sim, "gpt-4.1-mini", cache=cache), "Tell me about rivers.")
    assert response.cached and deltas == [TextDelta(first.completion or "")]
