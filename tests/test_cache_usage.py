"""Prompt-cache usage as real answers report it: read wherever the provider puts it, priced at
its own rate, and never more than the input it is part of."""

from __future__ import annotations

from typing import Any

import pytest

from cloudburst import get_model, parse

MISTRAL_ANSWER = {
    "id": "cmpl-1",
    "object": "chat.completion",
    "created": 1760000000,
    "model": "mistral-small-latest",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Yes."}, "finish_reason": "stop"}],
}


@pytest.mark.parametrize(
    "usage",
    [
        {"prompt_tokens": 801, "completion_tokens": 2, "total_tokens": 803, "prompt_tokens_details": {"cached_tokens": 768}},
        {"prompt_tokens": 801, "completion_tokens": 2, "total_tokens": 803, "prompt_token_details": {"cached_tokens": 768}},
        {"prompt_tokens": 801, "completion_tokens": 2, "total_tokens": 803, "num_cached_tokens": 768,
         "prompt_tokens_details": {"cached_tokens": 768}},
    ],
)  # fmt: skip
def test_mistral_cache_hits_are_read_from_any_place_real_answers_put_them(usage: dict[str, Any]) -> None:
    response = parse("mistral-small-latest", 200, {}, {**MISTRAL_ANSWER, "usage": usage})
    assert (response.usage.input_tokens, response.usage.cache_read_tokens) == (801, 768)
    prices = get_model("mistral-small-latest").prices
    assert prices.input is not None and prices.cached_input == pytest.approx(prices.input / 10)
    expected = (33 * prices.input + 768 * prices.cached_input + 2 * (prices.output or 0)) / 1e6
    assert response.cost == pytest.approx(expected)


def test_openai_cache_writes_are_read_and_priced() -> None:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1760000000,
        "model": "gpt-4.1-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": 3000,
            "completion_tokens": 5,
            "total_tokens": 3005,
            "prompt_tokens_details": {"cached_tokens": 1024, "cache_write_tokens": 1900},
        },
    }
    response = parse("gpt-4.1-mini", 200, {}, body)
    assert (response.usage.cache_read_tokens, response.usage.cache_write_tokens) == (1024, 1900)
    responses_body = {
        "id": "resp_1",
        "object": "response",
        "status": "completed",
        "model": "gpt-4.1-mini",
        "output": [
            {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
             "content": [{"type": "output_text", "text": "Hi", "annotations": [], "logprobs": []}]}
        ],
        "usage": {"input_tokens": 3000, "output_tokens": 5, "total_tokens": 3005,
                  "input_tokens_details": {"cached_tokens": 1024, "cache_write_tokens": 1900},
                  "output_tokens_details": {"reasoning_tokens": 0}},
    }  # fmt: skip
    response = parse("gpt-4.1-mini@responses", 200, {}, responses_body)
    assert (response.usage.cache_read_tokens, response.usage.cache_write_tokens) == (1024, 1900)


def test_cohere_cache_hits_are_part_of_the_input_and_not_billed() -> None:
    """An answer showing more cached tokens than billed input: billed_units leave hits out."""
    body = {
        "id": "c-1",
        "finish_reason": "COMPLETE",
        "message": {"role": "assistant", "content": [{"type": "text", "text": "Sure."}]},
        "usage": {
            "billed_units": {"input_tokens": 2406, "output_tokens": 3},
            "tokens": {"input_tokens": 5400, "output_tokens": 3},
            "cached_tokens": 2928,
        },
    }
    response = parse("command-a-03-2025", 200, {}, body)
    usage = response.usage
    assert (usage.input_tokens, usage.cache_read_tokens) == (2406 + 2928, 2928)
    prices = get_model("command-a-03-2025").prices
    assert response.cost == pytest.approx((2406 * (prices.input or 0) + 3 * (prices.output or 0)) / 1e6)
