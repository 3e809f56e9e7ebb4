"""What the registry knows about a model: names, limits, prices, capabilities, and its cost."""

from __future__ import annotations

from dataclasses import dataclass

from cloudburst._response import Usage


@dataclass(frozen=True, slots=True)
class PriceTier:
    """Prices for a request whose prompt is longer than `above` tokens (the whole request)."""

    above: int
    input: float
    output: float | None = None
    cached_input: float | None = None


@dataclass(frozen=True, slots=True)
class ServiceTierPrices:
    """Prices of a processing tier billed at its own rates (OpenAI's flex and priority), named
    as the provider's answers name the tier that served them."""

    tier: str
    input: float
    output: float
    cached_input: float | None = None
    """Absent: the base cached price, scaled as input is."""
    cache_write: float | None = None
    """Absent: the base cache-write price, scaled as input is."""


@dataclass(frozen=True, slots=True)
class Prices:
    """USD per million tokens; `per_search` is USD per 1,000 rerank searches."""

    input: float | None = None
    cached_input: float | None = None
    cache_write: float | None = None
    cache_write_1h: float | None = None
    output: float | None = None
    batch_discount: float | None = None
    per_search: float | None = None
    image_input: float | None = None
    """USD per million image tokens, where they are billed apart from text (embeddings)."""
    tiers: tuple[PriceTier, ...] = ()
    service_tiers: tuple[ServiceTierPrices, ...] = ()


@dataclass(frozen=True, slots=True)
class SamplingBound:
    """A sampling setting the model takes only within [min, max]."""

    setting: str
    min: float
    max: float


@dataclass(frozen=True, slots=True)
class Reasoning:
    control: str
    """`effort` (a named effort), `budget` (thinking tokens) or `level` (a thinking level)."""
    values: tuple[str, ...] | None = None
    budget_min: int | None = None
    budget_max: int | None = None
    can_disable: bool = False
    default_on: bool = True
    takes_budget: bool = False
    """An effort model that takes a thinking_budget too."""
    rejects: tuple[str, ...] = ()
    """Sampling settings refused while it thinks."""
    bounds: tuple[SamplingBound, ...] = ()
    """Sampling settings taken while it thinks only within bounds."""


@dataclass(frozen=True, slots=True)
class RateLimitTier:
    tier: str
    rpm: int | None = None
    tpm: int | None = None
    input_tpm: int | None = None
    output_tpm: int | None = None


@dataclass(frozen=True, slots=True)
class ModelInfo:
    id: str
    provider: str
    api: str
    name: str
    """The model name exactly as the provider expects it."""
    context_window: int
    prices: Prices
    aliases: tuple[str, ...] = ()
    kind: str = "chat"
    max_output_tokens: int | None = None
    capabilities: tuple[str, ...] = ()
    refuses: tuple[str, ...] = ()
    """Sampling settings refused on every request."""
    refuses_together: tuple[tuple[str, ...], ...] = ()
    """Sampling settings refused when given together."""
    bounds: tuple[SamplingBound, ...] = ()
    """Sampling settings taken only within bounds."""
    reasoning: Reasoning | None = None
    rate_limits: RateLimitTier | None = None
    dimensions: int | None = None
    base_url: str | None = None
    """Set for models registered at run time on a private endpoint."""
    region: str | None = None
    """Where the model is served, for providers whose URL names a region (Bedrock)."""

    def supports(self, capability: str) -> bool:
        return capability in self.capabilities

    def cost(self, usage: Usage, *, batch: bool = False, service_tier: str | None = None) -> float:
        """USD the provider bills for `usage`: cache reads and writes at their own prices,
        reasoning as output, the long-context tier when the prompt passes it, the prices of
        the service tier that served it where it has its own (else the base ones), the batch
        discount for batch results. A batch result is billed at batch rates whatever tier its
        answer names: batch is a tier of its own, its discount taken off the base prices."""
        p = self.prices
        input_price, output_price = p.input or 0.0, p.output or 0.0
        cached_price, write_5m, write_1h = p.cached_input, p.cache_write, p.cache_write_1h
        in_scale = out_scale = cached_scale = 1.0
        own = None if batch else next((t for t in p.service_tiers if t.tier == service_tier), None)
        if own is not None:
            # the tier's prices replace the base ones; what it does not list keeps its ratio
            in_scale = own.input / input_price if input_price else 1.0
            out_scale = own.output / output_price if output_price else 1.0
            cached_scale = own.cached_input / cached_price if own.cached_input and cached_price else in_scale
            input_price, output_price = own.input, own.output
            cached_price = _scaled(cached_price, cached_scale) if own.cached_input is None else own.cached_input
            write_5m = own.cache_write if own.cache_write is not None else _scaled(write_5m, in_scale)
            write_1h = _scaled(write_1h, in_scale)
        for tier in sorted(p.tiers, key=lambda t: t.above):
            if usage.input_tokens > tier.above:
                # the whole request moves to the tier (scaled as the service tier scales the
                # base prices); cache prices keep their ratio to input
                scale = tier.input * in_scale / input_price if input_price else 1.0
                input_price = tier.input * in_scale
                output_price = tier.output * out_scale if tier.output is not None else output_price
                cached_price = (
                    tier.cached_input * cached_scale if tier.cached_input is not None else _scaled(cached_price, scale)
                )
                write_5m, write_1h = _scaled(write_5m, scale), _scaled(write_1h, scale)
        cached_price = input_price if cached_price is None else cached_price
        write_5m = input_price if write_5m is None else write_5m
        write_1h = write_5m if write_1h is None else write_1h
        writes_5m = usage.cache_write_tokens - usage.cache_write_1h_tokens
        fresh = usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens
        dollars = (
            fresh * input_price
            + usage.cache_read_tokens * cached_price
            + writes_5m * write_5m
            + usage.cache_write_1h_tokens * write_1h
            + usage.output_tokens * output_price
        ) / 1_000_000
        if batch and p.batch_discount:
            dollars *= 1 - p.batch_discount
        return dollars


def _scaled(price: float | None, scale: float) -> float | None:
    return None if price is None else price * scale
