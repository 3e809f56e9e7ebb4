"""The throttle against a simulator as harsh as production: limits enforced over one-second
windows (as OpenAI and Anthropic document they may be), 200 ms latency with a spread, N=3,000
prompts a scenario. Issue [7]'s table: use of the limit, 429s, failed prompts, idle gaps.

The simulator runs in its own process (`python -m cloudburst sim`); this process is the client.
Shares of a limit are measured from the completions' times, so the first burst (a quarter
second's share) and the last answer's latency fall outside the measured stretch.

    python bench/throttle.py           # every scenario (a few minutes)
    python bench/throttle.py --quick   # N=1,000
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import orjson
from engine import Row, _get, print_table, prompts, simulator

from cloudburst import LLMClient, RateLimits, RetryPolicy, SamplingParams

MAX_TOKENS = 16
LATENCY = ("--latency-ms", "200", "--latency-spread-ms", "60")


@dataclass
class Outcome:
    done_at: list[float]
    wall: float
    failed: Counter[str]
    requests: int
    refused: int
    sim: dict[str, object]

    def share(self, per_second: float) -> float:
        """Completions per second between the 5th and the 95th percentile (past the first
        burst, before the last latencies), as a share of `per_second`."""
        times = sorted(self.done_at)
        first, last = len(times) // 20, len(times) - 1 - len(times) // 20
        return (last - first) / (times[last] - times[first]) / per_second

    def longest_gap(self) -> float:
        times = sorted(self.done_at)
        return max(later - earlier for earlier, later in itertools.pairwise(times))

    @property
    def refused_share(self) -> float:
        return self.refused / max(1, self.requests)


def run(
    url: str, model: str, n: int, limits: RateLimits, *, provider: str = "openai", retry: RetryPolicy | None = None
) -> Outcome:
    engine = LLMClient(
        model,
        base_urls={provider: url},
        api_keys={provider: "sk-bench"},
        sampling=SamplingParams(max_new_tokens=MAX_TOKENS),
        limits=limits,
        retry=retry,
        progress=None,
    )
    done_at: list[float] = []
    failed: Counter[str] = Counter()

    async def job() -> None:
        async for done in engine.as_completed(prompts(n)):
            done_at.append(time.perf_counter())
            if done.response.error is not None:
                failed[done.response.error.kind] += 1

    started = time.perf_counter()
    asyncio.run(job())
    wall = time.perf_counter() - started
    stats = orjson.loads(_get(url.removesuffix("/v1") + "/_sim/stats"))
    refused = sum(stats.get("rate_limited", {}).values())
    return Outcome(done_at, wall, failed, int(stats["requests"]), refused, stats)


def failures(outcome: Outcome) -> str:
    return f"{sum(outcome.failed.values())} failed" + (f" {dict(outcome.failed)}" if outcome.failed else "")


def at_the_limit(n: int) -> Row:
    with simulator("--rpm", "6000", *LATENCY) as url:
        outcome = run(url, "gpt-4.1-mini", n, RateLimits(rpm=6000))
    share = outcome.share(100.0)
    good = share >= 0.99 and outcome.refused_share <= 0.001 and not outcome.failed
    return Row(
        f"1 client = provider = 6,000 RPM, N={n:,}",
        f"{share:.3f} of the limit; {outcome.refused} 429s in {outcome.requests:,} requests "
        f"({outcome.refused_share:.2%}); {failures(outcome)}",
        ">= 0.99, <= 0.1% 429s, 0 failed",
        "ok" if good else "MISS",
    )


def below_the_limit(n: int) -> Row:
    with simulator("--rpm", "3000", *LATENCY) as url:
        outcome = run(url, "gpt-4.1-mini", n, RateLimits(rpm=1500))
    share, gap = outcome.share(25.0), outcome.longest_gap()
    good = abs(share - 1) <= 0.01 and gap <= 1.0 and not outcome.failed
    return Row(
        f"2 client 1,500 RPM below a 3,000 RPM provider, N={n:,}",
        f"{share * 1500:,.0f} RPM ({share:.3f} of 1,500); longest gap {gap:.2f} s; {failures(outcome)}",
        "1,500 +- 1%, no gap > 1 s",
        "ok" if good else "MISS",
    )


def token_bound(n: int) -> list[Row]:
    rows = []
    # OpenAI counts the prompt and the whole max_tokens: ~30 tokens a request here
    per_request = len(prompts(1)[0]) // 4 + 1 + MAX_TOKENS
    tpm = 100 * per_request * 60 // 2  # about 50 requests a second
    with simulator("--tpm", str(tpm), *LATENCY) as url:
        outcome = run(url, "gpt-4.1-mini", n, RateLimits(tpm=tpm))
    rows.append(token_row(f"3 OpenAI TPM-bound, {tpm:,} TPM", n, outcome, tpm / 60 / per_request))
    # Anthropic's output tokens: max_tokens taken on arrival, refunded to what was used
    otpm = 50 * MAX_TOKENS * 60
    with simulator("--output-tpm", str(otpm), "--input-tpm", "100000000", *LATENCY) as url:
        outcome = run(url, "claude-haiku-4-5", n, RateLimits(output_tpm=otpm), provider="anthropic")
    rows.append(token_row(f"3 Anthropic OTPM-bound, {otpm:,} OTPM", n, outcome, served(outcome, "output", otpm)))
    itpm = 50 * 20 * 60
    with simulator("--input-tpm", str(itpm), "--output-tpm", "100000000", *LATENCY) as url:
        outcome = run(url, "claude-haiku-4-5", n, RateLimits(input_tpm=itpm), provider="anthropic")
    rows.append(token_row(f"3 Anthropic ITPM-bound, {itpm:,} ITPM", n, outcome, served(outcome, "input", itpm)))
    return rows


def served(outcome: Outcome, kind: str, per_minute: int) -> float:
    """Requests a second the limit allows, at the tokens of `kind` a request was billed on
    average (what Anthropic's bucket keeps once the unused max_tokens is refunded)."""
    tokens: dict[str, int] = outcome.sim["tokens"]  # type: ignore[assignment]
    return per_minute / 60 / (tokens[kind] / outcome.requests)


def token_row(what: str, n: int, outcome: Outcome, per_second: float) -> Row:
    share = outcome.share(per_second)
    good = share >= 0.98 and outcome.refused_share <= 0.001 and not outcome.failed
    return Row(
        f"{what}, N={n:,}",
        f"{share:.3f} of the limit; {outcome.refused} 429s ({outcome.refused_share:.2%}); {failures(outcome)}",
        ">= 0.98, <= 0.1% 429s",
        "ok" if good else "MISS",
    )


def overloaded(n: int) -> Row:
    limits = RateLimits(rpm=6000)
    with simulator("--rpm", "6000", *LATENCY) as url:
        clean = run(url, "gpt-4.1-mini", n, limits)
    with simulator("--rpm", "6000", "--overload-spikes", "0.05", "--overload-spike-seconds", "0.5", *LATENCY) as url:
        spiky = run(url, "gpt-4.1-mini", n, limits, retry=RetryPolicy(max_attempts=8))
    spiked = spiky.sim.get("overload_spikes", 0)
    ratio = spiky.wall / clean.wall
    return Row(
        f"5 overloaded spikes (5% of the time, 0.5 s each), N={n:,}",
        f"wall {spiky.wall:.1f} s vs {clean.wall:.1f} s fault-free = {ratio:.2f}x; {spiked} overloaded answers; "
        f"{failures(spiky)}",
        "<= 1.3x, 0 failed",
        "ok" if ratio <= 1.3 and not spiky.failed else "MISS",
    )


def absurd(n: int) -> Row:
    with simulator("--rpm", "6000", "--absurd-headers", *LATENCY) as url:
        outcome = run(url, "gpt-4.1-mini", n, RateLimits(rpm=6000, max_concurrency=64))
    complete = len(outcome.done_at) == n and not outcome.failed
    return Row(
        f"6 absurd rate-limit headers, N={n:,}",
        f"{len(outcome.done_at):,}/{n:,} completed in {outcome.wall:.1f} s; {failures(outcome)}",
        "every prompt completes",
        "ok" if complete else "MISS",
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="N=1,000")
    args = parser.parse_args(argv)
    n = 1_000 if args.quick else 3_000
    rows: list[Row] = []
    for name, section in (
        ("at the limit", lambda: [at_the_limit(n)]),
        ("below the limit", lambda: [below_the_limit(n)]),
        ("token-bound", lambda: token_bound(n)),
        ("overloaded", lambda: [overloaded(n)]),
        ("absurd headers", lambda: [absurd(n)]),
    ):
        print(f"... {name}", file=sys.stderr, flush=True)
        rows += section()
    print_table(rows)


if __name__ == "__main__":
    main()
