"""APIs that are another provider's with changes: compatible hosts, and mapping entries that
`extends:` another provider's API (Bedrock's InvokeModel takes Anthropic's body).

A host is one YAML file under specs/hosts/: where it lives, and how its dialect differs from
the API it speaks. Either way the other API's schemas, mapping and options model are reused,
the merged mapping is checked like any other, and every problem is reported at its line in the
file that made the change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codegen.bundle import ProviderBundle, check_api, parse_model, shown_path
from codegen.errors import Problem, SpecError
from codegen.load import PathKey, SpecFile, load_spec_file
from codegen.spec import ApiSpec, ExtendsSpec, HostSpec, ProviderSpec, ServiceSpec

HOSTS_FOLDER = "hosts"


@dataclass
class Host:
    """A host file, validated and merged: its provider metadata and the one API it speaks."""

    source: str
    provider: ProviderSpec
    base: ProviderBundle
    api_name: str
    api: ApiSpec


class _ChangeLines(SpecFile):
    """Problems in a merged mapping (`apis.<api>.<...>`) point at the change that made that key
    (`<changes>.<...>`), else at the line naming the API extended."""

    def __init__(self, spec: SpecFile, data: Any, changes: PathKey, fallback: PathKey) -> None:
        super().__init__(spec.path, data, spec.lines)
        self.changes, self.fallback = changes, fallback

    def line_of(self, loc: PathKey) -> int:
        rest = loc[2:] if loc[:1] == ("apis",) else loc
        for end in range(len(rest), 0, -1):
            if (*self.changes, *rest[:end]) in self.lines:
                return self.lines[(*self.changes, *rest[:end])]
        return self.lines.get(self.fallback, 1)


def merge(base: Any, changes: Any, top: bool = True) -> Any:
    """`changes` over `base`: mappings merge key by key, None removes (a top-level key is set
    to None, so `model: null` means "no model field"), the rest replaces."""
    if not isinstance(base, Mapping) or not isinstance(changes, Mapping):
        return changes
    out = dict(base)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
            if top:
                out[key] = None
        else:
            out[key] = merge(base.get(key), value, top=False)
    return out


def extend(
    spec: SpecFile,
    loc: PathKey,
    extension: HostSpec | ExtendsSpec,
    providers: Mapping[str, ProviderBundle],
    problems: list[Problem],
) -> tuple[ProviderBundle, str, ApiSpec] | None:
    """The API `extension` names, with its changes: (the provider it comes from, its name, the
    merged mapping), or None after recording the problems."""
    target = extension.speaks if isinstance(extension, HostSpec) else extension.extends
    target_key = "speaks" if isinstance(extension, HostSpec) else "extends"
    provider_name, api_name = target.split("/")
    base = providers.get(provider_name)
    base_api = base.apis.get(api_name) if base else None
    if base is None or base_api is None:
        known = ", ".join(f"{b.provider.name}/{a}" for b in providers.values() for a in b.apis)
        problems.append(spec.problem((*loc, target_key), f"no API {target!r} to {target_key[:-1]} (known: {known})"))
        return None
    merged = merge(base_api.model_dump(exclude_unset=True), extension.changes)
    merged["options"] = {o: f for o, f in base_api.model_dump()["options"].items() if o in extension.options}
    for option in extension.options:
        if option not in base_api.options:
            problems.append(spec.problem((*loc, "options"), f"{target} has no option {option!r}"))
    for option, values in getattr(extension, "option_values", {}).items():
        if option not in merged["options"]:
            problems.append(
                spec.problem((*loc, "option_values", option), f"{option!r} is not among the host's options")
            )
        else:
            merged["options"][option] = {**merged["options"][option], "values": values}
    lines = _ChangeLines(spec, merged, (*loc, "changes"), (*loc, target_key))
    api = parse_model(ApiSpec, lines, problems)
    if api is None:
        return None
    check_api(
        api_name,
        api,
        lines,
        base.schemas,
        problems,
        known_response_paths=frozenset(extension.response_fields),
        known_request_paths=frozenset(extension.request_fields),
    )
    return base, api_name, api


def resolve_extends(bundles: list[ProviderBundle]) -> None:
    """Fill each bundle's `apis` with its `extends:` entries, merged and checked."""
    providers = {bundle.provider.name: bundle for bundle in bundles}
    problems: list[Problem] = []
    for bundle in bundles:
        mapping_file = next(s for s in bundle.sources if s.endswith("mapping.yaml"))
        spec = load_spec_file(bundle.folder / "mapping.yaml", Path(mapping_file))
        for name, entry in bundle.mapping.apis.items():
            if isinstance(entry, ExtendsSpec):
                extended = extend(spec, ("apis", name), entry, providers, problems)
                if extended is not None:
                    base, _, api = extended
                    bundle.apis[name] = api
                    bundle.options_packages[name] = base.options_packages[entry.extends.split("/")[1]]
    if problems:
        raise SpecError(problems)


def load_hosts(specs: Path, bundles: list[ProviderBundle]) -> list[Host]:
    """Every file under specs/hosts/, checked against the API it speaks."""
    folder = specs / HOSTS_FOLDER
    if not folder.is_dir():
        return []
    providers = {bundle.provider.name: bundle for bundle in bundles}
    hosts: list[Host] = []
    problems: list[Problem] = []
    for path in sorted(folder.glob("*.y*ml")):
        try:
            spec = load_spec_file(path, shown_path(path, specs))
        except SpecError as exc:
            problems.extend(exc.problems)
            continue
        host = _load_host(spec, providers, problems)
        if host is not None:
            hosts.append(host)
    if problems:
        raise SpecError(problems)
    return hosts


def _load_host(spec: SpecFile, providers: Mapping[str, ProviderBundle], problems: list[Problem]) -> Host | None:
    parsed = parse_model(HostSpec, spec, problems)
    if parsed is None:
        return None
    if parsed.name != Path(spec.path).stem:
        problems.append(spec.problem(("name",), f"name {parsed.name!r} must match the file name {spec.path.name!r}"))
    if parsed.name in providers:
        problems.append(spec.problem(("name",), f"{parsed.name!r} is already a provider folder under specs/"))
    extended = extend(spec, (), parsed, providers, problems)
    if extended is None:
        return None
    base, api_name, api = extended
    provider = ProviderSpec(
        **parsed.model_dump(include=set(ServiceSpec.model_fields)),
        rate_limit_headers=parsed.rate_limit_headers or base.provider.rate_limit_headers,
        error=parsed.error or base.provider.error,
        errors=parsed.errors if parsed.errors is not None else base.provider.errors,
    )
    return Host(str(spec.path), provider, base, api_name, api)
