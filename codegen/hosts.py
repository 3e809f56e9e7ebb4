"""Hosts that speak another provider's API (OpenAI-compatible servers), one YAML file each.

A host reuses the spoken API's schemas, mapping and options model; its file says where it lives
and how its dialect differs. The merged mapping is checked like any other, and every problem is
reported at its line in the host's file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codegen.bundle import ProviderBundle, check_api, parse_model, shown_path
from codegen.errors import Problem, SpecError
from codegen.load import PathKey, SpecFile, load_spec_file
from codegen.spec import ApiSpec, HostSpec, ProviderSpec

HOSTS_FOLDER = "hosts"


@dataclass
class Host:
    """A host file, validated and merged: its provider metadata and the one API it speaks."""

    source: str
    provider: ProviderSpec
    base: ProviderBundle
    api_name: str
    api: ApiSpec


class _HostLines(SpecFile):
    """Problems in the merged mapping (`apis.<api>.<...>`) point at `changes.<...>` in the host
    file when the host changed that key, else at `speaks`."""

    def line_of(self, loc: PathKey) -> int:
        rest = loc[2:] if loc[:1] == ("apis",) else loc
        for end in range(len(rest), 0, -1):
            if ("changes", *rest[:end]) in self.lines:
                return self.lines[("changes", *rest[:end])]
        return self.lines.get(("speaks",), 1)


def merge(base: Any, changes: Any) -> Any:
    """`changes` over `base`: mappings merge key by key, None removes, the rest replaces."""
    if not isinstance(base, Mapping) or not isinstance(changes, Mapping):
        return changes
    out = dict(base)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge(base.get(key), value)
    return out


def load_hosts(specs: Path, bundles: list[ProviderBundle]) -> list[Host]:
    """Every file under specs/hosts/, checked against the API it speaks."""
    folder = specs / HOSTS_FOLDER
    if not folder.is_dir():
        return []
    by_name = {bundle.provider.name: bundle for bundle in bundles}
    hosts: list[Host] = []
    problems: list[Problem] = []
    for path in sorted(folder.glob("*.y*ml")):
        shown = shown_path(path, specs)
        try:
            spec = load_spec_file(path, shown)
        except SpecError as exc:
            problems.extend(exc.problems)
            continue
        host = _load_host(spec, by_name, problems)
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
    provider_name, api_name = parsed.speaks.split("/")
    base = providers.get(provider_name)
    base_api = base.mapping.apis.get(api_name) if base else None
    if base is None or base_api is None:
        known = ", ".join(f"{b.provider.name}/{a}" for b in providers.values() for a in b.mapping.apis)
        problems.append(spec.problem(("speaks",), f"no API {parsed.speaks!r} to speak (known: {known})"))
        return None
    merged = merge(base_api.model_dump(exclude_unset=True), parsed.changes)
    merged["options"] = {o: f for o, f in base_api.model_dump()["options"].items() if o in parsed.options}
    for option in parsed.options:
        if option not in base_api.options:
            problems.append(spec.problem(("options",), f"{parsed.speaks} has no option {option!r}"))
    lines = _HostLines(spec.path, merged, spec.lines)
    api = parse_model(ApiSpec, lines, problems)
    if api is None:
        return None
    check_api(api_name, api, lines, base.schemas, problems, known_response_paths=frozenset(parsed.response_fields))
    provider = ProviderSpec(
        name=parsed.name,
        title=parsed.title,
        base_url=parsed.base_url,
        base_url_env=parsed.base_url_env,
        auth=parsed.auth,
        headers=parsed.headers,
        request_id_header=parsed.request_id_header,
        rate_limit_headers=parsed.rate_limit_headers or base.provider.rate_limit_headers,
        token_ratio=parsed.token_ratio,
        error=parsed.error or base.provider.error,
        errors=parsed.errors if parsed.errors is not None else base.provider.errors,
    )
    return Host(str(spec.path), provider, base, api_name, api)
