"""The provider simulator: a real loopback HTTP server that answers like OpenAI, Anthropic,
Gemini, Mistral, Cohere and Bedrock (wire format, rate limits, errors, faults) for tests,
benchmarks and demos.

`server` routes requests and runs the steps every model request shares (auth, validation,
limits, latency, faults); each provider is a `provider.SimProvider` in its own module
(`openai` with `openai_chat`, `openai_responses`, `openai_batches`; `anthropic` with
`anthropic_batches`; `gemini`; `mistral`; `cohere`; `bedrock` with `bedrock_converse` and
`sigv4`), listed in `runner.default_providers`. Each is served where its own SDK and cloudburst's
spec put it (`Simulator.base_urls()`): Mistral under `/mistral/v1` since its chat path is
OpenAI's, Cohere and Bedrock at the root. `answers` and `schema` draw deterministic content,
`limits` holds the token buckets (a minute's and a window's per limit) and the header formats,
`spikes` says when a provider is overloaded, `store` holds the files and batches,
`runner` starts it in a thread (`Simulator`) or the foreground (`serve`, `cloudburst sim`).
"""

from cloudburst._sim.config import FAULT_KINDS, SimConfig
from cloudburst._sim.runner import Simulator, serve

__all__ = ["FAULT_KINDS", "SimConfig", "Simulator", "serve"]
