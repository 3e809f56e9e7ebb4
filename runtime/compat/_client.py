"""lm-deluge's LLMClient: its keywords mapped onto cloudburst's typed settings, and its
`process_prompts_sync` / `process_prompts_async` onto `run`.

Each lm-deluge keyword given warns once (a DeprecationWarning naming the typed setting that
replaces it) and becomes that setting; cloudburst's own keywords (`limits=`, `retry=`, ...) are
taken as they are, so a program can move one setting at a time. Giving both for the same
setting is a ConfigurationError, as is an lm-deluge keyword cloudburst has no counterpart for.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Literal, overload

from cloudburst import _client
from cloudburst._cache import SQLiteCache
from cloudburst._config import RetryPolicy, Timeouts
from cloudburst._errors import ConfigurationError
from cloudburst._models import ModelInfo
from cloudburst._options import CachePattern, RequestOptions
from cloudburst._prompt import InvalidPrompt, Prompt, PromptLike
from cloudburst._registry import apis_of, get_model
from cloudburst._response import APIResponse as TypedResponse
from cloudburst._route import Route
from cloudburst._sampling import ReasoningEffort, SamplingParams
from cloudburst._sync import run_sync
from cloudburst.compat._models import our_name
from cloudburst.compat._prompt import deprecated, to_prompt
from cloudburst.compat._response import APIResponse

RATE_KEYWORDS = {
    "rpm": "max_requests_per_minute",
    "tpm": "max_tokens_per_minute",
    "max_concurrency": "max_concurrent_requests",
}
"""lm-deluge's keyword for each RateLimits field."""

CACHE_PATTERNS: dict[str, CachePattern] = {"tools_only": "tools"}
"""lm-deluge's prompt-cache pattern names where ours differ."""

NO_COUNTERPART = {
    "name": "the progress display names the models",
    "thinking_prefix_mismatch": "thinking is sent back as the provider signed it",
    "stateless_responses": "use OpenAIOptions(store=False) on the model's `@responses` API",
    "background": "use submit_batch() for work that may wait",
    "global_effort": "use SamplingParams(reasoning_effort=...)",
    "verbosity": "use RequestOptions(provider=OpenAIOptions(verbosity=...))",
    "task_budget": "SamplingParams(thinking_budget=...) bounds thinking per request",
    "force_local_mcp": "MCP servers are not supported; give Tool values",
    "postprocess": "post-process the list run() returns",
}
"""lm-deluge keywords with no cloudburst setting, and what to do instead."""


class LLMClient(_client.LLMClient):
    """cloudburst's LLMClient built from lm-deluge's keywords (see the module docstring), with
    lm-deluge's entry points. Everything of cloudburst's client works on it too."""

    def __init__(
        self,
        model_names: str | Sequence[str] = "gpt-4.1-mini",
        *,
        max_requests_per_minute: float | None = None,
        max_tokens_per_minute: float | None = None,
        max_concurrent_requests: int | None = None,
        sampling_params: SamplingParams | Sequence[SamplingParams] | None = None,
        model_weights: Sequence[float] | Literal["uniform"] | None = None,
        fallback_models: Sequence[str] | None = None,
        max_attempts: int | None = None,
        request_timeout: float | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        json_mode: bool | None = None,
        max_new_tokens: int | None = None,
        reasoning_effort: ReasoningEffort | None = None,
        thinking_budget: int | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        use_responses_api: bool | None = None,
        cache_ttl: Literal["5m", "1h"] | None = None,
        extra_headers: dict[str, str] | None = None,
        extra_body: dict[str, Any] | None = None,
        progress: Literal["rich", "tqdm", "manual"] | None = "rich",
        **typed: Any,
    ) -> None:
        """lm-deluge's rate limits applied to the client as a whole; cloudburst's apply per
        (provider, model), as providers count them, so each model gets the ones given (the
        registry's published limits fill the rest)."""
        unknown = sorted(set(typed) & set(NO_COUNTERPART))
        if unknown:
            raise ConfigurationError(
                "; ".join(f"LLMClient({k}=...) has no counterpart in cloudburst: {NO_COUNTERPART[k]}" for k in unknown)
            )
        old = _Old(typed)
        names = [model_names] if isinstance(model_names, str) else list(model_names)
        fallbacks = list(fallback_models or ())
        resolved = [our_name(name) for name in [*names, *fallbacks]]
        if use_responses_api:
            old.warn("use_responses_api", None, "the model name with '@responses' (gpt-5.5@responses)")
            resolved = [(_on_responses(name), effort) for name, effort in resolved]
        models = [get_model(name) for name, _ in resolved]

        weights = typed.get("weights")
        if model_weights is not None:
            old.warn("model_weights", "weights", "weights=[...] (None, the default, for uniform)")
            if isinstance(model_weights, str) and model_weights != "uniform":
                raise ConfigurationError(f"model_weights={model_weights!r} has no counterpart; give weights=[...]")
            weights = None if model_weights == "uniform" else list(model_weights)
        if fallbacks:
            old.warn("fallback_models", "weights", "models=[*models, *fallbacks], weights=[..., 0] (0: retries only)")
            typed["weights"] = [*(weights or [1.0] * len(names)), *[0.0] * len(fallbacks)]
        elif weights is not None:
            typed["weights"] = weights

        rates = _given(rpm=max_requests_per_minute, tpm=max_tokens_per_minute, max_concurrency=max_concurrent_requests)
        for field, keyword in RATE_KEYWORDS.items():
            if field in rates:
                old.warn(keyword, "limits", f"limits=RateLimits({field}=...)")
        if rates:
            typed["limits"] = {m.id: dataclasses.replace(_client.limits_for(m, None, models), **rates) for m in models}
        if max_attempts is not None:
            old.warn("max_attempts", "retry", "retry=RetryPolicy(max_attempts=...)")
            typed["retry"] = RetryPolicy(max_attempts=max_attempts)
        if request_timeout is not None:
            old.warn("request_timeout", "timeouts", "timeouts=Timeouts(total=...)")
            typed["timeouts"] = Timeouts(total=request_timeout)
        options = _given(cache_ttl=cache_ttl, extra_headers=extra_headers, extra_body=extra_body)
        for keyword in options:
            old.warn(keyword, "options", f"options=RequestOptions({keyword}=...)")
        if options:
            typed["options"] = RequestOptions(**options)
        if progress == "manual":
            old.warn("progress='manual'", None, "progress=None (the summary goes to the `cloudburst` logger)")
        self._progress = typed["progress"] = None if progress == "manual" else progress

        shortcuts = _given(
            temperature=temperature,
            top_p=top_p,
            json_mode=json_mode,
            max_new_tokens=max_new_tokens,
            reasoning_effort=reasoning_effort,
            thinking_budget=thinking_budget,
            logprobs=logprobs,
            top_logprobs=top_logprobs,
        )
        for keyword in shortcuts:
            old.warn(keyword, "sampling", f"sampling=SamplingParams({keyword}=...)")
        if sampling_params is not None:
            old.warn("sampling_params", "sampling", "sampling=SamplingParams(...) (one for every model)")
        params = _per_model(len(names), sampling_params, typed.get("sampling") or SamplingParams())
        per_model = {
            model.id: _with(params[min(i, len(params) - 1)], _given(reasoning_effort=effort), shortcuts)
            for i, (model, (_, effort)) in enumerate(zip(models, resolved, strict=True))
        }
        typed["sampling"] = first = per_model[models[0].id]
        self._per_model: dict[int, tuple[SamplingParams, dict[str, SamplingParams]]] = {}
        """Sampling objects that stand for one SamplingParams per model (lm-deluge's list)."""
        if any(p != first for p in per_model.values()):
            self._per_model[id(first)] = (first, per_model)
        super().__init__([model.id for model in models], **typed)

    @classmethod
    def basic(cls, model_names: str | Sequence[str] = "gpt-4.1-mini", **kwargs: Any) -> LLMClient:
        """lm-deluge's older constructor with defaults: the same as LLMClient(...)."""
        deprecated("LLMClient.basic(...)", "LLMClient(...)")
        return cls(model_names, **kwargs)

    @property
    def max_attempts(self) -> int:
        """`client.retry.max_attempts`; lm-deluge's programs set it on the client."""
        return self.retry.max_attempts

    @max_attempts.setter
    def max_attempts(self, value: int) -> None:
        deprecated("client.max_attempts = n", "LLMClient(retry=RetryPolicy(max_attempts=n))", stacklevel=2)
        self.retry = dataclasses.replace(self.retry, max_attempts=value)

    @property
    def request_timeout(self) -> float | None:
        """`client.timeouts.total` (None: derived from each request's max_new_tokens); lm-deluge's
        programs set it on the client."""
        return self.timeouts.total

    @request_timeout.setter
    def request_timeout(self, value: float) -> None:
        deprecated("client.request_timeout = s", "LLMClient(timeouts=Timeouts(total=s))", stacklevel=2)
        self.timeouts = dataclasses.replace(self.timeouts, total=value)

    def route(self, model: ModelInfo, sampling: SamplingParams, options: RequestOptions) -> Route:
        """With one SamplingParams per model, `sampling` stands for them all: each model gets
        its own."""
        found = self._per_model.get(id(sampling))
        if found is not None:
            sampling = found[1].get(model.id, sampling)
        return super().route(model, sampling, options)

    @overload
    def process_prompts_sync(
        self,
        prompts: Any,
        *,
        return_completions_only: Literal[False] = ...,
        show_progress: bool = ...,
        tools: Sequence[Any] | None = ...,
        output_schema: Any = ...,
        cache: str | None = ...,
    ) -> list[APIResponse]: ...
    @overload
    def process_prompts_sync(
        self,
        prompts: Any,
        *,
        return_completions_only: Literal[True],
        show_progress: bool = ...,
        tools: Sequence[Any] | None = ...,
        output_schema: Any = ...,
        cache: str | None = ...,
    ) -> list[str | None]: ...
    def process_prompts_sync(
        self,
        prompts: Any,
        *,
        return_completions_only: bool = False,
        show_progress: bool = True,
        tools: Sequence[Any] | None = None,
        output_schema: Any = None,
        cache: str | None = None,
    ) -> list[APIResponse] | list[str | None]:
        """`LLMClient.run(prompts)` in cloudburst: each prompt's result, in input order."""
        deprecated("LLMClient.process_prompts_sync(prompts)", "LLMClient.run(prompts)")
        call = self._call("sync", prompts, return_completions_only, show_progress, tools, output_schema, cache)
        return self._shaped(run_sync(self._run(*call, show_progress)), return_completions_only)

    @overload
    async def process_prompts_async(
        self,
        prompts: Any,
        *,
        return_completions_only: Literal[False] = ...,
        show_progress: bool = ...,
        tools: Sequence[Any] | None = ...,
        output_schema: Any = ...,
        cache: str | None = ...,
    ) -> list[APIResponse]: ...
    @overload
    async def process_prompts_async(
        self,
        prompts: Any,
        *,
        return_completions_only: Literal[True],
        show_progress: bool = ...,
        tools: Sequence[Any] | None = ...,
        output_schema: Any = ...,
        cache: str | None = ...,
    ) -> list[str | None]: ...
    async def process_prompts_async(
        self,
        prompts: Any,
        *,
        return_completions_only: bool = False,
        show_progress: bool = True,
        tools: Sequence[Any] | None = None,
        output_schema: Any = None,
        cache: str | None = None,
    ) -> list[APIResponse] | list[str | None]:
        """`await LLMClient.run_async(prompts)` in cloudburst."""
        deprecated("LLMClient.process_prompts_async(prompts)", "await LLMClient.run_async(prompts)")
        call = self._call("async", prompts, return_completions_only, show_progress, tools, output_schema, cache)
        return self._shaped(await self._run(*call, show_progress), return_completions_only)

    def _call(
        self,
        kind: str,
        prompts: Any,
        completions_only: bool,
        show_progress: bool,
        tools: Sequence[Any] | None,
        output_schema: Any,
        cache: str | None,
    ) -> tuple[list[PromptLike], SamplingParams]:
        """The prompts as cloudburst takes them, carrying this call's settings, and the call's
        sampling; one warning for each lm-deluge keyword given (the caller's frame is four up)."""
        replaced = {
            "return_completions_only": (completions_only, "[r.completion for r in client.run(prompts)]"),
            "show_progress": (not show_progress, "LLMClient(progress=None)"),
            "tools": (tools is not None, "LLMClient(options=RequestOptions(tools=[...]))"),
            "output_schema": (output_schema is not None, "LLMClient(sampling=SamplingParams(output_schema=...))"),
            "cache": (cache is not None, "LLMClient(options=RequestOptions(cache=...))"),
        }
        for keyword, (given, new) in replaced.items():
            if given:
                deprecated(f"process_prompts_{kind}({keyword}=...)", new, stacklevel=4)
        sampling, options = self.sampling, self.options
        if output_schema is not None:
            sampling = self._sampling_with(output_schema)
        if tools is not None or cache is not None:
            changes: dict[str, Any] = {}
            if tools is not None:
                changes["tools"] = tools
            if cache is not None:
                changes["cache"] = CACHE_PATTERNS.get(cache, cache)
            options = RequestOptions(**{**dict(self.options), **changes})
        items: list[PromptLike] = [to_prompt(p) for p in (prompts if isinstance(prompts, (list, tuple)) else [prompts])]
        if sampling is self.sampling and options is self.options:
            return items, sampling
        return [_with_call(p, sampling, options) for p in items], sampling

    def _sampling_with(self, output_schema: Any) -> SamplingParams:
        """The client's sampling with this call's schema, per model where they differ."""
        own = self.sampling.model_copy(update={"output_schema": output_schema})
        found = self._per_model.get(id(self.sampling))
        if found is not None:
            mine = {m: p.model_copy(update={"output_schema": output_schema}) for m, p in found[1].items()}
            self._per_model[id(own)] = (own, mine)
        return own

    async def _run(self, items: list[PromptLike], sampling: SamplingParams, show_progress: bool) -> list[TypedResponse]:
        self.progress = self._progress if show_progress else None  # read as the job starts, before any await
        try:
            return await self.run_async(items)
        finally:
            self.progress = self._progress
            if sampling is not self.sampling:
                self._per_model.pop(id(sampling), None)

    @staticmethod
    def _shaped(results: list[TypedResponse], completions_only: bool) -> list[APIResponse] | list[str | None]:
        if completions_only:
            return [r.completion for r in results]
        return [APIResponse.of(r) for r in results]


def _with_call(prompt: PromptLike, sampling: SamplingParams, options: RequestOptions) -> PromptLike:
    """The prompt carrying a call's settings, where it has none of its own."""
    if isinstance(prompt, InvalidPrompt):
        return prompt
    if isinstance(prompt, Prompt):
        return dataclasses.replace(prompt, sampling=prompt.sampling or sampling, options=prompt.options or options)
    return Prompt(prompt, sampling=sampling, options=options)


class _Old:
    """lm-deluge keywords given, each warned about once, and refused beside its typed twin."""

    def __init__(self, typed: dict[str, Any]) -> None:
        self.typed = typed

    def warn(self, keyword: str, twin: str | None, new: str) -> None:
        if twin is not None and twin in self.typed:
            raise ConfigurationError(f"LLMClient got {keyword}= and {twin}=; give {twin}= only")
        deprecated(f"LLMClient({keyword}=...)", new, stacklevel=4)


def _on_responses(name: str) -> str:
    """The model through its provider's Responses API, where the provider has one."""
    model = get_model(name)
    if "responses" in apis_of(model.provider) and model.api != "responses":
        return f"{model.id}@responses"
    return name


def _per_model(
    count: int, given: SamplingParams | Sequence[SamplingParams] | None, base: SamplingParams
) -> list[SamplingParams]:
    """lm-deluge's sampling_params: one for every model, or one per model (fallbacks take the
    first)."""
    if given is None:
        return [base]
    params = [given] if isinstance(given, SamplingParams) else list(given)
    if len(params) not in (1, count):
        raise ConfigurationError(f"sampling_params has {len(params)} entries for {count} models; give 1 or one each")
    return params


def _given(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _with(params: SamplingParams, *updates: dict[str, Any]) -> SamplingParams:
    merged = {k: v for update in updates for k, v in update.items()}
    return SamplingParams(**{**dict(params), **merged}) if merged else params


def SqliteCache(path: str, cache_key: str = "default") -> SQLiteCache:
    """lm-deluge's SQLite response cache, as cloudburst's: answers are keyed by the whole
    rendered request, so `cache_key` (lm-deluge's namespace within a file) is not needed."""
    deprecated("SqliteCache(path)", "LLMClient(cache=path) or cloudburst.SQLiteCache(path)", stacklevel=2)
    return SQLiteCache(path)
