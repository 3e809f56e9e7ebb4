"""When a provider is overloaded: spikes placed deterministically in time.

Real providers fail in bursts (Anthropic's 529 overloaded_error, OpenAI's and Gemini's 503s
come for seconds at a time, to everyone), not as independent coin flips. Time since the
simulator was configured is cut in slots of `spike_seconds / share`; each slot holds one spike
of `spike_seconds` at an offset drawn from the seed, the provider and the slot's number, so the
same seed gives the same schedule and providers are overloaded at different times.
"""

from __future__ import annotations

import math
import random


def in_spike(seed: int, provider: str, elapsed: float, share: float, spike_seconds: float) -> bool:
    """Whether `provider` is overloaded `elapsed` seconds after the start; `share` of the time is."""
    if share <= 0:
        return False
    slot = spike_seconds / share
    number = math.floor(elapsed / slot)
    offset = random.Random(f"{seed}:{provider}:{number}").random() * (slot - spike_seconds)
    return offset <= elapsed - number * slot < offset + spike_seconds
