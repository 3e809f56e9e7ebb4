"""One prompt set sprayed across OpenAI, Anthropic, Gemini, Bedrock, Mistral and Cohere models
by one client, through the same code path, against the simulator: every answer normalised the
same way (issue [6]'s "done when")."""

from __future__ import annotations

from collections import Counter

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
