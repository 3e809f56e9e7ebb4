"""OpenAI-compatible hosts: each is one YAML file under specs/hosts/, with its own URL, key and
dialect, and the OpenAI chat adapter's checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion

import cloudburst
from cloudburst import OpenAIOptions, RequestOptions, SamplingParams
from cloudburst._render import base_url, build_request
from cloudburst.generated import APIS, PROVIDERS
from cloudburst.generated.openai.models import CreateChatCompletionRequest
from codegen.errors import SpecError
from codegen.generate import generate, render_all
from tests.test_codegen import load_module

HOSTS = ["deepseek", "fireworks", "groq", "llamacpp", "ollama", "openrouter", "together", "vllm", "xai"]


def test_every_host_file_is_a_provider_speaking_openai_chat() -> None:
    for host in HOSTS:
        assert PROVIDERS[host].base_url.startswith(("https://", "http://127.0.0.1"))
        assert APIS[(host, "chat")].PATH == "/chat/completions"


@pytest.mark.parametrize("host", HOSTS)
def test_host_payload(host: str, snapshot: SnapshotAssertion) -> None:
    model = cloudburst.ModelInfo(
        id="some-model", provider=host, api="chat", name="some-model", context_window=8192, prices=cloudburst.Prices()
    )
    sampling = SamplingParams(max_new_tokens=64, temperature=0.5)
    url = base_url(PROVIDERS[host], model)
    request = build_request(model, "Hi", sampling, RequestOptions(), url=url, api_key="<redacted>")
    assert {"url": request.url, "headers": request.headers, "body": request.body} == snapshot
    CreateChatCompletionRequest.model_validate(request.body)


def test_a_host_url_follows_its_own_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPSEEK_BASE_URL", "http://127.0.0.1:9/v1")
    assert cloudburst.render("deepseek-chat", "Hi").url == "http://127.0.0.1:9/v1/chat/completions"


def answer(message: dict[str, Any], **usage: int) -> dict[str, Any]:
    return {
        "id": "1",
        "object": "chat.completion",
        "created": 1,
        "model": "deepseek-reasoner",
        "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120, **usage},
    }


def test_deepseek_reasoning_and_cache_hits() -> None:
    body = answer({"content": "4", "reasoning_content": "2 and 2 make 4."}, prompt_cache_hit_tokens=64)
    response = cloudburst.parse("deepseek-reasoner", 200, {}, body)
    assert (response.completion, response.thinking) == ("4", "2 and 2 make 4.")
    assert response.usage.cache_read_tokens == 64
    # the reasoning is not sent back: DeepSeek rejects it in earlier turns
    follow_up = cloudburst.Conversation.user("2+2?").add_message(response.message()).user("And 3+3?")
    assert cloudburst.render("deepseek-reasoner", follow_up).body["messages"][1] == {
        "role": "assistant",
        "content": "4",
    }


def test_groq_reasoning_field() -> None:
    body = answer({"content": "4", "reasoning": "Adding."})
    assert cloudburst.parse("llama-3.3-70b-versatile", 200, {}, body).thinking == "Adding."


def test_a_host_refuses_what_it_lacks() -> None:
    with pytest.raises(cloudburst.UnsupportedOptionError, match=r"DeepSeek chat does not support SamplingParams\.seed"):
        cloudburst.render("deepseek-chat", "Hi", SamplingParams(seed=1))
    with pytest.raises(
        cloudburst.UnsupportedOptionError, match=r"DeepSeek chat has no place for OpenAIOptions\.service_tier"
    ):
        cloudburst.render("deepseek-chat", "Hi", options=RequestOptions(provider=OpenAIOptions(service_tier="flex")))
    groq = cloudburst.render(
        "llama-3.3-70b-versatile", "Hi", options=RequestOptions(provider=OpenAIOptions(parallel_tool_calls=False))
    )
    assert groq.body["parallel_tool_calls"] is False


def test_hosts_serving_open_models_take_top_k() -> None:
    model = cloudburst.ModelInfo(
        id="qwen",
        provider="together",
        api="chat",
        name="Qwen/Qwen3-235B",
        context_window=8192,
        prices=cloudburst.Prices(),
    )
    body = build_request(model, "Hi", SamplingParams(top_k=20), RequestOptions(), url="", api_key=None).body
    assert body["top_k"] == 20
    with pytest.raises(cloudburst.UnsupportedOptionError, match=r"Groq chat does not support SamplingParams\.top_k"):
        cloudburst.render("llama-3.3-70b-versatile", "Hi", SamplingParams(top_k=20))


def test_errors_are_classified_by_the_spoken_providers_table() -> None:
    body = {"error": {"message": "Rate limit reached", "type": "rate_limit_error", "code": None}}
    assert isinstance(cloudburst.parse("deepseek-chat", 429, {}, body).error, cloudburst.RateLimitedError)


ACME = """\
# A new host: this file is all it takes.
name: acme
title: Acme Inference
base_url: https://api.acme.example/v1
base_url_env: ACME_BASE_URL
auth: {scheme: bearer, env: ACME_API_KEY}
speaks: openai/chat
changes:
  sampling:
    max_new_tokens: max_tokens
  output:
    thinking: choices.0.message.thoughts
response_fields: [choices.0.message.thoughts]
"""


def test_a_new_host_is_one_yaml_file(specs_copy: Path, tmp_path: Path) -> None:
    (specs_copy / "hosts" / "acme.yaml").write_text(ACME)
    out = tmp_path / "generated"
    generate(specs_copy, out)
    provider = load_module(out / "hosts" / "acme.py", "acme_provider").PROVIDER
    adapter = load_module(out / "hosts" / "acme_chat.py", "acme_chat")
    assert (provider.base_url, provider.auth.env) == ("https://api.acme.example/v1", "ACME_API_KEY")
    body = adapter.build_body(
        "acme-1", cloudburst.Conversation.of("Hi"), SamplingParams(max_new_tokens=5), RequestOptions()
    )
    assert body == {"model": "acme-1", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 5}
    parsed = adapter.parse_body(answer({"content": "Hello", "thoughts": "Greet back."}))
    assert (parsed.completion, parsed.thinking) == ("Hello", "Greet back.")
    assert '("acme", "chat"): acme_chat' in (out / "__init__.py").read_text()


def test_a_host_mistake_is_reported_at_its_line(specs_copy: Path) -> None:
    bad = ACME.replace("response_fields: [choices.0.message.thoughts]\n", "")
    (specs_copy / "hosts" / "acme.yaml").write_text(bad)
    with pytest.raises(SpecError) as caught:
        render_all(specs_copy)
    (problem,) = caught.value.problems
    assert (problem.file.as_posix(), problem.line) == ("specs/hosts/acme.yaml", 12)
    assert (
        problem.message
        == "'choices.0.message.thoughts' is not a field of the response schema 'CreateChatCompletionResponse'"
    )

    (specs_copy / "hosts" / "acme.yaml").write_text(ACME.replace("speaks: openai/chat", "speaks: openai/chatt"))
    with pytest.raises(SpecError) as caught:
        render_all(specs_copy)
    (problem,) = caught.value.problems
    assert problem.line == 7 and "no API 'openai/chatt' to speak (known: " in problem.message


def test_a_host_file_replaces_an_options_values() -> None:
    """Groq's service tiers are its own (on_demand, flex, auto), not OpenAI's."""
    groq = "llama-3.3-70b-versatile"
    for tier in ("on_demand", "flex", "auto"):
        options = RequestOptions(provider=OpenAIOptions(service_tier=tier))
        assert cloudburst.render(groq, "Hi", options=options).body["service_tier"] == tier
    with pytest.raises(
        cloudburst.UnsupportedOptionError,
        match=r"Groq chat takes OpenAIOptions\.service_tier in on_demand, flex, auto, not 'priority'",
    ):
        cloudburst.render(groq, "Hi", options=RequestOptions(provider=OpenAIOptions(service_tier="priority")))
    # OpenAI itself keeps its own values
    with pytest.raises(
        cloudburst.UnsupportedOptionError, match=r"OpenAI chat takes OpenAIOptions\.service_tier in auto"
    ):
        cloudburst.render(
            "gpt-4.1-mini", "Hi", options=RequestOptions(provider=OpenAIOptions(service_tier="on_demand"))
        )


def test_option_values_must_name_an_option_the_host_takes(specs_copy: Path) -> None:
    groq = specs_copy / "hosts" / "groq.yaml"
    groq.write_text(
        groq.read_text().replace("options: [parallel_tool_calls, service_tier]", "options: [parallel_tool_calls]")
    )
    with pytest.raises(SpecError, match="'service_tier' is not among the host's options"):
        render_all(specs_copy)
