"""A Route: one (model, sampling, options) combination, checked once per job, holding what
every request to it needs: URL, headers, bucket key, output budget, and how to check answers."""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import ModuleType
from typing import Literal
from urllib.parse import quote

import orjson

from cloudburst._cache import request_identity
from cloudburst._config import Timeouts
from cloudburst._constants import STREAM_ABOVE_TOKENS
from cloudburst._conversation import Conversation, Text
from cloudburst._errors import UnsupportedOptionError
from cloudburst._estimate import DEFAULT_TOKEN_RATIO
from cloudburst._limiter import Need
from cloudburst._models import ModelInfo
from cloudburst._options import RequestOptions
from cloudburst._providers import ProviderInfo
from cloudburst._reasoning import for_model
from cloudburst._render import check_options, endpoint_path, request_headers
from cloudburst._sampling import SamplingParams
from cloudburst._stream import Streaming
from cloudburst._tokens import prompt_tokens

StreamPolicy = Literal["auto"] | bool
"""`LLMClient(stream=)`: True streams every request, False none, "auto" those allowed more than
`_constants.STREAM_ABOVE_TOKENS` output tokens, or more than the API takes without streaming."""


def streaming(policy: StreamPolicy, adapter: ModuleType, max_new_tokens: int | None, where: str) -> Streaming | None:
    """How a request to `adapter` with this output budget streams under `policy`; None: not.
    With "auto", an unset max_new_tokens counts as the API's default when it sends one, and
    otherwise does not stream (most answers are short)."""
    spec: Streaming | None = getattr(adapter, "STREAM", None)
    if policy is False:
        return None
    if spec is None:
        if policy is True:
            raise UnsupportedOptionError(f"{where} cannot stream (its spec has no `stream` section); use stream=False")
        return None
    if policy is True:
        return spec
    budget = max_new_tokens or int(getattr(adapter, "DEFAULT_MAX_NEW_TOKENS", None) or 0)
    above = min(STREAM_ABOVE_TOKENS, spec.required_above or STREAM_ABOVE_TOKENS)
    return spec if budget > above else None


class Route:
    __slots__ = (
        "adapter",
        "base_url",
        "check_json",
        "headers",
        "identity",
        "key",
        "max_output",
        "method",
        "model",
        "options",
        "output_schema",
        "provider",
        "ratio",
        "reads_limits",
        "reasoning",
        "sampling",
        "signs",
        "stream",
        "stream_suffix",
        "stream_url",
        "timeouts",
        "uncounted",
        "url",
    )

    def __init__(
        self,
        model: ModelInfo,
        sampling: SamplingParams,
        options: RequestOptions,
        *,
        key: str,
        base_url: str,
        api_key: str | None,
        timeouts: Timeouts,
        stream: StreamPolicy = "auto",
    ) -> None:
        provider, adapter = check_options(model, sampling, options)
        self.model = model
        self.provider: ProviderInfo = provider
        self.adapter: ModuleType = adapter
        self.sampling, self.reasoning = for_model(model, sampling)
        """The sampling the model gets (its reasoning in its own control), and that control."""
        self.options = options.for_api(adapter.Options, strict_tools=model.supports("structured_output"))
        """The options the API gets: its own provider options object only."""
        self.key = key
        self.base_url = base_url
        self.method: str = adapter.METHOD
        self.url = base_url + endpoint_path(adapter, model)
        self.headers = request_headers(provider, options, api_key)
        self.identity = request_identity(model.id, self.url, self.headers, provider.auth.header)
        """With the body, what makes a request the same as another (the cache's key)."""
        self.signs = provider.auth.scheme == "sigv4" and api_key is None
        """AWS requests without an API key are signed, each attempt anew (signatures expire)."""
        self.max_output = sampling.max_new_tokens or model.max_output_tokens or 0
        self.timeouts = timeouts.for_output(self.max_output)
        self.stream = streaming(stream, adapter, sampling.max_new_tokens, f"{model.id} ({provider.title})")
        """How this route's requests stream; None: they do not."""
        self.stream_url = self.url
        self.stream_suffix = b""
        if self.stream is not None:
            if self.stream.path is not None:
                self.stream_url = base_url + self.stream.path.replace("{model}", quote(model.name, safe=""))
            self.stream_suffix = b"," + orjson.dumps(dict(self.stream.body or {}))[1:] if self.stream.body else b"}"
        self.output_schema = sampling.output_schema
        self.check_json = bool(sampling.json_mode) and sampling.output_schema is None
        self.ratio = provider.token_ratio or DEFAULT_TOKEN_RATIO
        self.uncounted = Need(0, self.max_output)
        """What every request reserves when nothing counts tokens."""
        names = provider.rate_limit_headers
        self.reads_limits = bool(
            names.requests_remaining
            or names.tokens_remaining
            or names.input_tokens_remaining
            or names.output_tokens_remaining
        )

    def headers_for(self, body: bytes, url: str | None = None) -> Mapping[str, str]:
        """The headers to send `body` (to `url`, the route's by default) with: the route's
        own, signed when the provider wants it."""
        if not self.signs:
            return self.headers
        from cloudburst._aws import region_of, sign

        url = url or self.url
        service = self.provider.auth.service or ""
        return sign(self.method, url, self.headers, body, service, region_of(url))

    def streamed(self, body: bytes) -> bytes:
        """`body` with the fields that make it stream: added only when sent, so the cache and
        the journal know a request by what it asks, however it travels."""
        return body[:-1] + self.stream_suffix

    def body(self, conversation: Conversation) -> bytes:
        """The request body, serialised once."""
        body = self.adapter.build_body(
            self.model.name, conversation, self.sampling, self.options, reasoning=self.model.reasoning is not None
        )
        if self.options.extra_body:
            body.update(self.options.extra_body)
        return orjson.dumps(body)


class Estimate:
    """A prompt's size in reference tokens, counted at most once and only when a limit or a
    context window needs it."""

    __slots__ = ("chars", "extra", "messages", "plain", "text_tokens")

    def __init__(self, conversation: Conversation, text: str | None = None) -> None:
        """`text`: the prompt, when it was one plain string (nothing to walk through)."""
        self.text_tokens: int | None = None
        self.extra: tuple[int, int] | None = None
        if text is not None:
            self.chars, self.plain, self.messages = len(text), True, 1
            return
        self.chars = 0
        self.plain = True
        self.messages = len(conversation.messages)
        for message in conversation.messages:
            for part in message.parts:
                if isinstance(part, Text):
                    self.chars += len(part.text)
                else:
                    self.plain = False

    def count(self, conversation: Conversation) -> tuple[int, tuple[int, int]]:
        if self.text_tokens is None or self.extra is None:
            self.text_tokens, self.extra = prompt_tokens(conversation)
        return self.text_tokens, self.extra

    def surely_fits(self, window: int) -> bool:
        """True without counting when even 4 tokens a character (the most UTF-8 allows) fits."""
        return self.plain and 4 * self.chars + 8 * self.messages + 8 < window

    def need(self, route: Route, conversation: Conversation) -> Need:
        """What to reserve on `route`: the prompt as the provider counts it against its limits
        (from characters where it says so, else at its high ratio), plus the whole output budget."""
        per_token = route.provider.rate_limit_chars_per_token
        if per_token is not None:
            extra = 0 if self.plain else self.count(conversation)[1][1]
            return Need(int(self.chars // per_token) + 1 + extra, route.max_output, as_counted=True)
        text, (_, extra_high) = self.count(conversation)
        tokens = min(math.ceil(text * route.ratio[1]) + extra_high, route.model.context_window)
        return Need(tokens, route.max_output)

    def overflow(self, route: Route, conversation: Conversation) -> int | None:
        """The fewest tokens the prompt can be when that is over the model's context window."""
        window = route.model.context_window - (route.sampling.max_new_tokens or 0)
        if self.surely_fits(window):
            return None
        text, (extra_low, _) = self.count(conversation)
        low = math.floor(text * route.ratio[0]) + extra_low
        return low if low > window else None
