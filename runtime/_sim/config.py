"""What a simulator does: its limits, latency, faults and batch clock, as one frozen value.

Every default lives here. A limit left at None is not enforced and its rate-limit headers are
not sent; a fault kind absent from `faults` never happens.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

WINDOW_SECONDS = 1.0
"""The default enforcement window: a second, as OpenAI and Anthropic say they may enforce."""
FAULT_KINDS = ("500", "503", "hang", "reset", "malformed", "truncated", "slow_stream", "disconnect")
"""Injectable faults: a 500 server error; the provider's overloaded answer (503 for most, 529
overloaded_error for Anthropic, UNAVAILABLE for Gemini, ServiceUnavailableException for Bedrock); a hang
that sleeps `hang_s` then closes the connection without answering; a connection reset after the
headers and part of the body; a 200 whose JSON body is malformed; a 200 whose JSON body is cut.

On a streamed answer: `hang` sends some events, then nothing for `hang_s`, then closes;
`disconnect` (and `reset`) sends some events and aborts the connection; `truncated` ends the
stream cleanly before its last events; `malformed` breaks one event's JSON; `slow_stream`
sends every event `stream_gap_s` apart, so the whole takes long but is never silent long; `503`,
where the provider reports errors in the stream (Anthropic, Bedrock), sends some events and then
its overloaded error as an event.
On a non-streamed answer `slow_stream` changes nothing and `disconnect` is a `reset`."""


def _check_limit(name: str, value: int | None) -> None:
    if value is not None and value <= 0:
        raise ValueError(f"SimConfig.{name} must be a positive number per minute or None, got {value}")


@dataclass(frozen=True, slots=True)
class SimConfig:
    """How a simulator behaves. Change one at run time with `Simulator.configure(**changes)`."""

    rpm: int | None = None
    """Requests per minute, per API key and model (every provider): one budget per key, shared by
    every connection and process that uses it, as a provider's is."""
    tpm: int | None = None
    """Tokens per minute, per key and model: the prompt estimate plus the max output tokens for
    OpenAI, Mistral, Cohere and Bedrock; the prompt estimate alone for Gemini, which counts input."""
    input_tpm: int | None = None
    """Anthropic input tokens per minute, per key and model."""
    output_tpm: int | None = None
    """Anthropic output tokens per minute, per key and model: max_tokens up front, refunded to
    what was used once answered."""
    window_seconds: float = WINDOW_SECONDS
    """How finely every limit above is enforced, in seconds (0 < w <= 60). Each limited
    dimension per key and model has a minute bucket (capacity the limit, refilled at limit/60
    per second; the rate-limit headers report it) and a window bucket of capacity
    limit * w / 60 refilled at the same rate, enforced silently: a request that does not fit both
    is a 429. This is how OpenAI documents its limits ("rate limits can be quantized, meaning
    they are enforced over shorter periods of time … 60,000 requests/minute may be enforced as
    1,000 requests/second") and Anthropic its token bucket (60 RPM may be enforced as 1 request
    per second). The window admits a request once its level reaches the smaller of the request
    and its capacity and may then go negative, so one request bigger than a window's share
    passes when the window is not in debt. 60 is the full-minute bucket alone: bursts of a whole
    minute's budget pass."""
    latency_ms: float = 0.0
    """Mean time to answer, slept with asyncio so concurrent requests overlap."""
    latency_spread_ms: float = 0.0
    """Standard deviation of a lognormal latency with mean `latency_ms`; 0 for a fixed latency."""
    faults: Mapping[str, float] = field(default_factory=dict)
    """Probability of each fault kind (see FAULT_KINDS) per answerable request; they add up."""
    overload_spikes: float = 0.0
    """Share of time (0..1) each provider spends overloaded, in spikes: during one, every
    answerable request gets the provider's overloaded answer (the "503" fault's: 503, Anthropic's
    529 overloaded_error, Gemini's UNAVAILABLE, Bedrock's ServiceUnavailableException), as real
    overloads hit everyone for seconds at a time. It is counted against the limits first, as
    every admitted request is. Placed by `seed` and the time since the
    config was taken (see `spikes`); counted as `overload_spikes` in `/_sim/stats`."""
    overload_spike_seconds: float = 2.0
    """How long one overload spike lasts."""
    absurd_headers: bool = False
    """Every model answer carries nonsense in the provider's rate-limit header names instead of
    the real values (a remaining of -1000000000, a limit of 0.01, a reset centuries ahead or in
    the past, non-numbers; retry-after too where the provider sends one), in turn, so a client's
    robustness can be tested. Limits are still enforced. Providers without rate-limit headers
    (Gemini, Cohere, Bedrock) get none."""
    hang_s: float = 30.0
    """How long a hang lasts before the connection is closed; set it past the client's timeout."""
    stream_gap_s: float = 0.5
    """Seconds between the events of a `slow_stream` answer."""
    batch_seconds: float = 0.0
    """Time from a batch's creation to its end; states pass at 10% (validating → in_progress) and
    80% (→ finalizing) of it. 0 ends batches at once."""
    batch_error_fraction: float = 0.0
    """Share of batch requests that fail (OpenAI error file, Anthropic `errored`, Gemini an
    INTERNAL error Status), chosen by custom_id hash."""
    batch_expired_fraction: float = 0.0
    """Share of batch requests that expire; a batch with any ends as OpenAI `expired`, Gemini
    BATCH_STATE_EXPIRED."""
    batch_max_requests: int | None = None
    """Most requests one batch may hold; None for each provider's real limit (OpenAI 50,000 per
    input file, Anthropic 100,000 per batch, Gemini none documented). Set it small to make a
    client split its work; a batch over it is refused as the provider refuses one."""
    batch_max_bytes: int | None = None
    """Most bytes one batch's input may have; None for each provider's real limit (OpenAI's
    batch input file 200 MB, Anthropic's batch request 256 MB, Gemini's inline requests 20 MB
    and input file 2 GB)."""
    file_processing_seconds: float = 0.0
    """How long an uploaded Gemini file stays `PROCESSING` before it is `ACTIVE` (real video
    and PDF uploads take a while); a generateContent naming it before then is refused with
    FAILED_PRECONDITION. 0 makes uploads ACTIVE at once."""
    upload_fault_fraction: float = 0.0
    """Share of file uploads (each provider's Files API POST, a resumable upload's first step)
    answered with the provider's 500, drawn with the other faults; 1 fails every upload."""
    blocked_fraction: float = 0.0
    """Share of Gemini prompts blocked for safety (`promptFeedback.blockReason: SAFETY`, no
    candidates), chosen by the request's hash; 0 blocks none."""
    aws_secret_access_key: str | None = None
    """The secret Bedrock's SigV4 signatures are checked with (any access key id); None checks
    only their form and scope."""
    keys: frozenset[str] | None = None
    """Valid API keys (for Bedrock's SigV4, access key ids); None accepts any non-empty key. A
    missing key is always refused (401, or 403 where the provider says so)."""
    seed: int = 0
    """Seeds the fault and latency draws, so a run's faults repeat."""

    def __post_init__(self) -> None:
        for name in ("rpm", "tpm", "input_tpm", "output_tpm"):
            _check_limit(name, getattr(self, name))
        for name in ("batch_max_requests", "batch_max_bytes"):
            if getattr(self, name) is not None and getattr(self, name) <= 0:
                raise ValueError(f"SimConfig.{name} must be a positive number or None, got {getattr(self, name)}")
        unknown = set(self.faults) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kind(s) {sorted(unknown)}; known: {', '.join(FAULT_KINDS)}")
        if any(rate < 0 for rate in self.faults.values()) or sum(self.faults.values()) > 1:
            raise ValueError(f"fault rates must be >= 0 and add up to at most 1, got {dict(self.faults)}")
        for name in ("batch_error_fraction", "batch_expired_fraction", "blocked_fraction", "upload_fault_fraction"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"SimConfig.{name} must be within [0, 1]")
        if self.batch_error_fraction + self.batch_expired_fraction > 1:
            raise ValueError("batch_error_fraction + batch_expired_fraction must be at most 1")
        if not 0 < self.window_seconds <= 60:
            raise ValueError(f"SimConfig.window_seconds must be > 0 and <= 60, got {self.window_seconds}")
        if not 0 <= self.overload_spikes <= 1:
            raise ValueError(f"SimConfig.overload_spikes must be within [0, 1], got {self.overload_spikes}")
        if not self.overload_spike_seconds > 0:
            raise ValueError(f"SimConfig.overload_spike_seconds must be > 0, got {self.overload_spike_seconds}")
        if (
            min(
                self.latency_ms,
                self.latency_spread_ms,
                self.hang_s,
                self.stream_gap_s,
                self.batch_seconds,
                self.file_processing_seconds,
            )
            < 0
        ):
            raise ValueError("latencies and durations must be >= 0")
        object.__setattr__(self, "faults", MappingProxyType(dict(self.faults)))
        if self.keys is not None:
            object.__setattr__(self, "keys", frozenset(self.keys))

    @staticmethod
    def spread_faults(rate: float, kinds: Iterable[str] = FAULT_KINDS) -> dict[str, float]:
        """`rate` shared evenly among `kinds`: what `--fault-rate` with `--faults` means."""
        chosen = list(dict.fromkeys(kinds))
        return {kind: rate / len(chosen) for kind in chosen} if chosen and rate else {}
