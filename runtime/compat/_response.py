"""lm-deluge's APIResponse: cloudburst's, with the names lm-deluge's users read."""

from __future__ import annotations

import dataclasses

from cloudburst import _response
from cloudburst._conversation import Message


class APIResponse(_response.APIResponse):
    """A cloudburst APIResponse (every field of it is here) that also answers to lm-deluge's
    names. Shared names mean the same, except `id` (the provider's response id, not the
    prompt's index), `logprobs` (TokenLogprob values, not OpenAI's dicts), `cost` (0.0, not
    None, without usage) and `input_tokens`, which is the whole prompt for every provider
    (lm-deluge left Anthropic's cache reads and writes out of it)."""

    __slots__ = ()

    @classmethod
    def of(cls, response: _response.APIResponse) -> APIResponse:
        return cls(**{f.name: getattr(response, f.name) for f in dataclasses.fields(response)})

    @property
    def is_error(self) -> bool:
        """`not response.ok` in cloudburst; `response.error` says why, as a typed error."""
        return self.error is not None

    @property
    def error_message(self) -> str | None:
        """`response.error.message` in cloudburst."""
        return None if self.error is None else self.error.message

    @property
    def status_code(self) -> int | None:
        """`response.status` in cloudburst."""
        return self.status

    @property
    def input_tokens(self) -> int:
        """`response.usage.input_tokens` in cloudburst."""
        return self.usage.input_tokens

    @property
    def output_tokens(self) -> int:
        """`response.usage.output_tokens` in cloudburst."""
        return self.usage.output_tokens

    @property
    def cache_read_tokens(self) -> int:
        """`response.usage.cache_read_tokens` in cloudburst."""
        return self.usage.cache_read_tokens

    @property
    def cache_write_tokens(self) -> int:
        """`response.usage.cache_write_tokens` in cloudburst."""
        return self.usage.cache_write_tokens

    @property
    def cache_hit(self) -> bool:
        """The provider served part of the prompt from its cache: `usage.cache_read_tokens > 0`."""
        return self.usage.cache_read_tokens > 0

    @property
    def local_cache_hit(self) -> bool:
        """`response.cached` in cloudburst (from the client's cache, or shared in flight)."""
        return self.cached

    @property
    def model_internal(self) -> str:
        """`response.model` in cloudburst: the registry's id."""
        return self.model

    @property
    def model_external(self) -> str | None:
        """`response.provider_model` in cloudburst: the name the provider reported."""
        return self.provider_model

    @property
    def raw_response(self) -> object:
        """`response.raw` in cloudburst."""
        return self.raw

    @property
    def content(self) -> Message | None:
        """`response.message()` in cloudburst; None for an error."""
        return None if self.error is not None else self.message()
