"""The model registry: find a model by id or alias, and add custom models at run time."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator

from cloudburst._errors import ConfigurationError, UnknownModelError
from cloudburst._models import ModelInfo, Prices, Reasoning
from cloudburst.generated import APIS, PROVIDERS
from cloudburst.generated.registry import MODELS


class Registry:
    """Models by id and alias. The generated registry fills it; `register_model` extends it."""

    def __init__(self, models: Iterable[ModelInfo] = ()) -> None:
        self._models: dict[str, ModelInfo] = {}
        self._names: dict[str, str] = {}
        self._variants: dict[str, ModelInfo] = {}
        """`model@api` entries made on first use; not listed."""
        for model in models:
            self.add(model)

    def add(self, model: ModelInfo, *, replace: bool = False) -> ModelInfo:
        for name in (model.id, *model.aliases):
            owner = self._names.get(name)
            if owner is not None and not (replace and owner == model.id):
                raise ConfigurationError(
                    f"model name {name!r} is already taken by {owner!r}; pass replace=True to redefine it"
                )
        if replace and model.id in self._models:
            for name in (model.id, *self._models[model.id].aliases):
                self._names.pop(name, None)
        self._models[model.id] = model
        self._variants.clear()
        for name in (model.id, *model.aliases):
            self._names[name] = model.id
        return model

    def get(self, name: str) -> ModelInfo:
        model_id = self._names.get(name)
        if model_id is not None:
            return self._models[model_id]
        if name in self._variants:
            return self._variants[name]
        base, _, api = name.rpartition("@")
        if base and base in self._names:
            return self._on_api(self._models[self._names[base]], api)
        raise UnknownModelError(name, self._names)

    def _on_api(self, model: ModelInfo, api: str) -> ModelInfo:
        """`gpt-5.5@responses`: the model spoken to through another of its provider's APIs."""
        apis = apis_of(model.provider)
        if api not in apis:
            raise ConfigurationError(f"{model.provider} has no {api!r} API for {model.id}; it has: {', '.join(apis)}")
        variant = dataclasses.replace(model, id=f"{model.id}@{api}", api=api, aliases=())
        self._variants[variant.id] = variant
        return variant

    def __iter__(self) -> Iterator[ModelInfo]:
        return iter(self._models.values())

    def __len__(self) -> int:
        return len(self._models)


def apis_of(provider: str) -> list[str]:
    """The wire APIs a provider's spec defines, the default first."""
    return [api_name for (owner, api_name) in APIS if owner == provider]


REGISTRY = Registry(MODELS)


def get_model(name: str) -> ModelInfo:
    """The registry entry for a model id or alias; UnknownModelError names the closest ones.
    `<model>@<api>` speaks to the model through another of its provider's wire APIs
    (`gpt-5.5@responses`)."""
    return REGISTRY.get(name)


def register_model(
    id: str,
    *,
    provider: str,
    context_window: int,
    name: str | None = None,
    api: str | None = None,
    max_output_tokens: int | None = None,
    prices: Prices | None = None,
    capabilities: Iterable[str] = (),
    reasoning: Reasoning | None = None,
    aliases: Iterable[str] = (),
    base_url: str | None = None,
    replace: bool = False,
) -> ModelInfo:
    """Add a model the registry lacks (a fine-tune, a new release, a private endpoint).

    `api` defaults to the provider's first wire API; `base_url` points this model at another
    host speaking the provider's protocol (a vLLM server speaking OpenAI chat, say).
    """
    if provider not in PROVIDERS:
        raise ConfigurationError(f"unknown provider {provider!r}; known: {', '.join(sorted(PROVIDERS))}")
    apis = apis_of(provider)
    api = api or apis[0]
    if api not in apis:
        raise ConfigurationError(f"{provider} has no {api!r} API; it has: {', '.join(apis)}")
    model = ModelInfo(
        id=id,
        provider=provider,
        api=api,
        name=name or id,
        context_window=context_window,
        max_output_tokens=max_output_tokens,
        prices=prices or Prices(),
        capabilities=tuple(capabilities),
        reasoning=reasoning,
        aliases=tuple(aliases),
        base_url=base_url,
    )
    return REGISTRY.add(model, replace=replace)
