"""One prompt set sprayed across OpenAI, Anthropic, Gemini, Bedrock, Mistral and Cohere models
by one client, through the same code path, against the simulator: every answer normalised the
same way (issue [6]'s "done when")."""

from __future__ import annotations

from collections import Counter

import pytest

import cloudburst
from cloudburst import LLMClient, SamplingParams
from cloudburst._sim import Simulator

MODELS = [
    "gpt-4.1-mini",
    "gpt-4.1-mini@responses",
    "claude-haiku-4-5",
    "gemini-3.8-flash",
    "bedrock-claude-haiku-4-5",
    "bedrock-claude-haiku-4-5@converse",
    "mistral-medium-latest",
    "command-a-03-2025",
]


def test_one_prompt_set_across_every_provider_comes_back_normalised(sim_env: Simulator) -> None:
    client = LLMClient(MODELS, sampling=SamplingParams(max_new_tokens=2048), progress=None, seed=7)
    prompts = [f"Tell me something about the number {i}." for i in range(160)]
    results = client.run(prompts)

    assert len(results) == len(prompts)
    assert all(r.ok for r in results), [str(r.error) for r in results if not r.ok][:3]
    models = Counter(r.model for r in results)
    assert set(models) == set(MODELS)  # every model took part
    for response in results:
        assert response.completion and response.finish_reason in ("stop", "length")
        assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0
        assert response.cost > 0 and response.status == 200
    assert {r.provider for r in results} == {"openai", "anthropic", "gemini", "bedrock", "mistral", "cohere"}
    assert sim_env.stats()["requests"] == len(prompts)


def test_bedrock_without_an_api_key_signs_every_request(sim_env: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """No AWS_BEARER_TOKEN_BEDROCK: the client signs with SigV4 from the AWS credential chain,
    and the simulator checks each signature with the same secret."""
    from cloudburst import _aws

    secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    monkeypatch.delenv("AWS_BEARER_TOKEN_BEDROCK")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    _aws._credentials.cache_clear()
    sim_env.configure(aws_secret_access_key=secret)
    try:
        client = LLMClient(["bedrock-claude-haiku-4-5@converse"], progress=None, seed=1)
        results = client.run(["Hello", "Hi there"])
        assert all(r.ok for r in results), [str(r.error) for r in results]
        sim_env.configure(aws_secret_access_key="not-the-secret")
        (refused,) = client.run(["Hello"])
        assert isinstance(refused.error, cloudburst.ProviderError) and refused.status == 403
    finally:
        _aws._credentials.cache_clear()


def test_bedrock_without_any_credentials_fails_before_sending(
    sim_env: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cloudburst import _aws

    monkeypatch.delenv("AWS_BEARER_TOKEN_BEDROCK")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    _aws._credentials.cache_clear()
    try:
        with pytest.raises(cloudburst.ConfigurationError, match="no AWS credentials found"):
            LLMClient(["bedrock-claude-haiku-4-5"], progress=None)
    finally:
        _aws._credentials.cache_clear()
    assert sim_env.stats()["requests"] == 0
