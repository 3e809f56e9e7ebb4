"""Load one provider folder and check it whole, before anything is generated.

Each file is checked against its pydantic model (unknown keys, wrong types, missing keys), then
the folder as a whole: schema names defined twice, `$ref`s that lead nowhere, and mapping paths
that point at fields the request or response schema does not have. Every problem carries its
file and line; all of them are reported at once.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, get_args

from pydantic import BaseModel, ValidationError

from codegen.errors import Problem, SpecError
from codegen.json_schema import check_keywords
from codegen.load import PathKey, SpecFile, load_spec_file
from codegen.schema_paths import REF_PREFIX, references, schema_at, split_path
from codegen.spec import (
    ApiSpec,
    Capability,
    EmbedApiSpec,
    EmbedPlacement,
    FirstOf,
    MappingSpec,
    ModelsSpec,
    Placement,
    ProviderSpec,
    RerankApiSpec,
    SchemaFileSpec,
)
from codegen.values import check_answer_values, check_chat_values, check_embed_values
from codegen.vocabulary import PART_VARIABLES, SAMPLING_VARIABLES

SCHEMA_FILES = ("request", "response", "tools", "files", "embeddings", "batches", "rerank")
TEMPLATE_VARIABLE = re.compile(r"\$([a-z_]+)")

M = TypeVar("M", bound=BaseModel)


@dataclass
class ProviderBundle:
    """A provider folder, validated: its metadata, its schemas by name, its wire APIs."""

    folder: Path
    provider: ProviderSpec
    schemas: dict[str, dict[str, Any]]
    schema_files: dict[str, str]
    """Schema name -> the spec file (relative) that defines it."""
    mapping: MappingSpec
    schema_lines: dict[str, int] = field(default_factory=dict)
    """Schema name -> the line where its file defines it."""
    sources: list[str] = field(default_factory=list)
    """Relative paths of the files read, for generated headers."""
    apis: dict[str, ApiSpec] = field(default_factory=dict)
    """Its wire APIs, those that extend another provider's resolved (see codegen.hosts)."""
    options_packages: dict[str, str] = field(default_factory=dict)
    """API name -> the provider whose generated options module holds its options model."""
    embed_apis: dict[str, EmbedApiSpec] = field(default_factory=dict)
    """Its embeddings APIs."""
    rerank_apis: dict[str, RerankApiSpec] = field(default_factory=dict)
    """Its rerank APIs."""


def parse_model(model: type[M], spec: SpecFile, problems: list[Problem]) -> M | None:
    """Validate a spec file's data against its spec model, turning pydantic's errors into
    problems with lines."""
    try:
        return model.model_validate(spec.data)
    except ValidationError as exc:
        grouped: dict[PathKey, list[Any]] = {}
        for error in exc.errors():
            grouped.setdefault(_data_loc(spec.data, error["loc"]), []).append(error)
        for where, errors in grouped.items():
            problems.append(spec.problem(where, _describe(errors, where, model)))
        return None


def _data_loc(data: Any, loc: tuple[Any, ...]) -> PathKey:
    """pydantic's error location minus the union-member names it inserts (`str`, `Placement`)."""
    kept: list[str | int] = []
    for part in loc:
        if (isinstance(data, Mapping) and part in data) or (
            isinstance(data, list) and isinstance(part, int) and part < len(data)
        ):
            data = data[part]
            kept.append(part)
    if loc and isinstance(loc[-1], str) and (not kept or kept[-1] != loc[-1]) and not _is_type_name(loc[-1]):
        kept.append(loc[-1])
    return tuple(kept)


def _is_type_name(part: str) -> bool:
    return (
        part[:1].isupper()
        or part in {"str", "int", "float", "bool", "list", "dict"}
        or "[" in part
        or part.startswith("constrained-")
    )


_EXPECTED = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "tuple_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
}


def _describe(errors: list[Any], where: PathKey, model: type[BaseModel]) -> str:
    """One message for all of pydantic's complaints about one place (a union gives several)."""
    at = ".".join(str(p) for p in where) or "top level"
    first = errors[0]
    if first["type"] == "extra_forbidden":
        parent = _model_at(model, where[:-1])
        expected = f" (expected one of: {', '.join(parent.model_fields)})" if parent else ""
        return f"unknown key {where[-1]!r} at {at}{expected}"
    if first["type"] == "missing":
        return f"missing required key {where[-1]!r}" if where else "missing required key"
    wanted = list(dict.fromkeys(_EXPECTED.get(e["type"], e["msg"].removeprefix("Value error, ")) for e in errors))
    phrase = "expected " + " or ".join(wanted) if all(e["type"] in _EXPECTED for e in errors) else "; ".join(wanted)
    return f"{at}: {phrase} (got {first['input']!r})"


def _model_at(model: type[BaseModel], loc: PathKey) -> type[BaseModel] | None:
    """The spec model class describing the mapping at `loc`, to list the keys it accepts."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if isinstance(current, type) and issubclass(current, BaseModel) and part in current.model_fields:
            current = current.model_fields[part].annotation
            current = _model_in(current)
        elif current is not None and isinstance(part, str):
            continue  # a dict key: the value type stays `current`
        else:
            return None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _model_in(annotation: Any) -> Any:
    """The BaseModel inside `X | None`, `dict[str, X]` or `list[X]`, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def shown_path(path: Path, root: Path) -> Path:
    """How a spec file is named in errors and headers: `specs/...`, wherever the folder is."""
    return Path("specs") / path.relative_to(root)


def load_provider(folder: Path, root: Path) -> ProviderBundle:
    """Load and check every file of a provider folder. Raises SpecError listing all problems."""
    problems: list[Problem] = []
    files: dict[str, SpecFile] = {}
    for path in sorted(folder.glob("*.y*ml")):
        shown = shown_path(path, root)
        if path.suffix != ".yaml":
            problems.append(Problem(shown, 1, "spec files end in .yaml"))
            continue
        if path.stem not in ("provider", "mapping") and _schema_kind(path.stem) not in SCHEMA_FILES:
            expected = ", ".join(f"{n}.yaml" for n in ("provider", "mapping", *SCHEMA_FILES))
            problems.append(
                Problem(
                    shown,
                    1,
                    f"unknown spec file {path.name!r} (expected one of: {expected}; "
                    "or <api>.<kind>.yaml for a second API's schemas, like responses.request.yaml)",
                )
            )
            continue
        try:
            files[path.stem] = load_spec_file(path, shown)
        except SpecError as exc:
            problems.extend(exc.problems)
    for required in ("provider", "mapping"):
        if required not in files and not any(p.file.name == f"{required}.yaml" for p in problems):
            problems.append(
                Problem(shown_path(folder / f"{required}.yaml", root), 1, f"missing spec file {required}.yaml")
            )
    if problems:
        raise SpecError(problems)

    provider = parse_model(ProviderSpec, files["provider"], problems)
    if provider is not None and provider.name != folder.name:
        problems.append(
            files["provider"].problem(("name",), f"name {provider.name!r} must match the folder name {folder.name!r}")
        )
    mapping = parse_model(MappingSpec, files["mapping"], problems)

    schemas: dict[str, dict[str, Any]] = {}
    schema_files: dict[str, str] = {}
    schema_locs: dict[str, tuple[SpecFile, PathKey]] = {}
    schema_stems = [stem for stem in files if stem not in ("provider", "mapping")]
    for stem in sorted(schema_stems, key=lambda stem: (SCHEMA_FILES.index(_schema_kind(stem)), stem)):
        spec = files[stem]
        parsed = parse_model(SchemaFileSpec, spec, problems)
        if parsed is None:
            continue
        for name, schema in parsed.schemas.items():
            if name in schema_locs:
                first_spec, first_loc = schema_locs[name]
                problems.append(
                    spec.problem(
                        ("schemas", name),
                        f"duplicate schema name {name!r} (already defined in "
                        f"{first_spec.path}:{first_spec.line_of(first_loc)})",
                    )
                )
                continue
            schemas[name] = schema
            schema_files[name] = str(spec.path)
            schema_locs[name] = (spec, ("schemas", name))

    for name, (spec, loc) in schema_locs.items():
        _check_schema(schemas[name], loc, spec, schemas, problems)
    if mapping is not None:
        for api_name, api in mapping.apis.items():
            if isinstance(api, ApiSpec):
                check_api(api_name, api, files["mapping"], schemas, problems, frozenset(api.response_fields))
            elif isinstance(api, EmbedApiSpec):
                check_embed_api(api_name, api, files["mapping"], schemas, problems)
            elif isinstance(api, RerankApiSpec):
                check_rerank_api(api_name, api, files["mapping"], schemas, problems)
    if problems or provider is None or mapping is None:
        raise SpecError(problems)
    return ProviderBundle(
        folder=folder,
        provider=provider,
        schemas=schemas,
        schema_files=schema_files,
        schema_lines={name: spec.line_of(loc) for name, (spec, loc) in schema_locs.items()},
        mapping=mapping,
        sources=[str(f.path) for f in files.values()],
        apis={name: api for name, api in mapping.apis.items() if isinstance(api, ApiSpec)},
        options_packages={name: provider.name for name in mapping.apis},
        embed_apis={name: api for name, api in mapping.apis.items() if isinstance(api, EmbedApiSpec)},
        rerank_apis={name: api for name, api in mapping.apis.items() if isinstance(api, RerankApiSpec)},
    )


def check_rerank_api(
    name: str, api: RerankApiSpec, spec: SpecFile, schemas: Mapping[str, Any], problems: list[Problem]
) -> None:
    """Every path of a rerank mapping against its request and response schemas."""
    base: PathKey = ("apis", name)
    for key, root in (("request", api.request), ("response", api.response)):
        if root not in schemas:
            problems.append(spec.problem((*base, key), f"{key} schema {root!r} is not defined in this provider folder"))
            return
    output = api.output
    paths = [
        ("request", ("model",), api.model),
        ("request", ("query",), api.query),
        ("request", ("documents",), api.documents),
        ("request", ("top_n",), api.top_n),
        ("response", ("output", "results"), output.results),
        ("response", ("output", "index"), f"{output.results}.0.{output.index}"),
        ("response", ("output", "score"), f"{output.results}.0.{output.score}"),
        ("response", ("output", "searches"), output.searches),
    ]
    for side, loc, path in paths:
        root = api.request if side == "request" else api.response
        if path is not None and schema_at(schemas, root, split_path(path)) is None:
            problems.append(spec.problem((*base, *loc), f"{path!r} is not a field of the {side} schema {root!r}"))


def check_embed_api(
    name: str, api: EmbedApiSpec, spec: SpecFile, schemas: Mapping[str, Any], problems: list[Problem]
) -> None:
    """Every path of an embeddings mapping against its request and response schemas."""
    base: PathKey = ("apis", name)
    for key, root in (("request", api.request), ("response", api.response)):
        if root not in schemas:
            problems.append(spec.problem((*base, key), f"{key} schema {root!r} is not defined in this provider folder"))
            return
    request = [("model", api.model), ("texts", api.texts)] + [(f"constants.{p}", p) for p in api.constants]
    for setting, placement in api.settings.items():
        path = placement.path if isinstance(placement, EmbedPlacement) else placement
        per_item = isinstance(placement, EmbedPlacement) and placement.per_item
        request.append((f"settings.{setting}", f"{api.texts}.0.{path}" if per_item else path))
    _check_template(api.item, frozenset({"text", "model"}), (*base, "item"), spec, problems)
    if api.images is not None:
        if api.images.field is None and api.item is None:
            problems.append(spec.problem((*base, "images"), "images in the texts' list need an `item` template"))
        request.append(("images.field", api.images.field or api.texts))
        _check_template(api.images.text, frozenset({"text"}), (*base, "images", "text"), spec, problems)
        variables = frozenset({"data_url", "data", "media_type", "model"})
        _check_template(api.images.image, variables, (*base, "images", "image"), spec, problems)
    for where, path in request:
        if path is not None and schema_at(schemas, api.request, split_path(path)) is None:
            loc = (*base, *where.split(".", 1))
            problems.append(spec.problem(loc, f"{path!r} is not a field of the request schema {api.request!r}"))
    check_embed_values(api, base, spec, schemas, problems)
    for kind in api.output.base64:
        if kind not in api.output.vectors:
            problems.append(spec.problem((*base, "output", "base64"), f"{kind!r} is not an output type under vectors"))
    if api.single and api.limits.max_texts != 1:
        problems.append(spec.problem((*base, "limits", "max_texts"), "an API with single: true takes 1 text a request"))
    response = [(("output", "vectors", kind), path) for kind, path in api.output.vectors.items()]
    tokens = api.output.input_tokens
    response += [(("output", "input_tokens"), None if tokens.startswith("header:") else tokens)]
    response += [(("output", "model"), api.output.model)]
    for loc, path in response:
        if path is not None and schema_at(schemas, api.response, split_path(path)) is None:
            problems.append(
                spec.problem((*base, *loc), f"{path!r} is not a field of the response schema {api.response!r}")
            )


def _schema_kind(stem: str) -> str:
    """`request` for request.yaml and for an API's own responses.request.yaml."""
    return stem.rpartition(".")[2]


def _check_schema(node: Any, loc: PathKey, spec: SpecFile, schemas: Mapping[str, Any], problems: list[Problem]) -> None:
    """Structural checks JSON Schema itself would make, plus references that resolve."""
    for ref_loc, ref in references(node, loc):
        name = ref.removeprefix(REF_PREFIX)
        if not ref.startswith(REF_PREFIX):
            problems.append(spec.problem((*ref_loc, "$ref"), f"$ref {ref!r} must look like '{REF_PREFIX}Name'"))
        elif name not in schemas:
            problems.append(
                spec.problem(
                    (*ref_loc, "$ref"), f"dangling $ref {ref!r}: no schema named {name!r} in this provider folder"
                )
            )
    check_keywords(node, loc, spec, problems)


def check_api(
    name: str,
    api: ApiSpec,
    spec: SpecFile,
    schemas: Mapping[str, Any],
    problems: list[Problem],
    known_response_paths: frozenset[str] = frozenset(),
    known_request_paths: frozenset[str] = frozenset(),
) -> None:
    """Every path of the mapping against the request and response schemas, and every template
    against the variables its place offers. `known_response_paths` are accepted as they are
    (fields a compatible host adds to the answer)."""
    base: PathKey = ("apis", name)
    missing = [
        (key, root) for key, root in (("request", api.request), ("response", api.response)) if root not in schemas
    ]
    for key, root in missing:
        problems.append(spec.problem((*base, key), f"{key} schema {root!r} is not defined in this provider folder"))
    if missing:
        return

    def request_path(path: str, loc: PathKey) -> None:
        if path in known_request_paths:
            return
        if any(isinstance(part, int) or part == "*" for part in split_path(path)):
            problems.append(spec.problem(loc, f"{path!r}: a request path names fields only (no list indexes)"))
        elif schema_at(schemas, api.request, split_path(path)) is None:
            problems.append(spec.problem(loc, f"{path!r} is not a field of the request schema {api.request!r}"))

    def response_path(path: str, loc: PathKey) -> None:
        if path not in known_response_paths and schema_at(schemas, api.response, split_path(path)) is None:
            problems.append(spec.problem(loc, f"{path!r} is not a field of the response schema {api.response!r}"))

    if api.model is not None:
        request_path(api.model, (*base, "model"))
    for setting, placements in api.sampling.items():
        for index, placement in enumerate(placements if isinstance(placements, list) else [placements]):
            loc = (*base, "sampling", setting, *((index,) if isinstance(placements, list) else ()))
            path = placement.path if isinstance(placement, Placement) else placement
            request_path(path, (*loc, "path") if isinstance(placement, Placement) else loc)
            if isinstance(placement, Placement):
                allowed = frozenset(SAMPLING_VARIABLES.get(setting, {"value": ""}))
                _check_template(placement.value, allowed, (*loc, "value"), spec, problems)
                _check_template(placement.when_off, frozenset(), (*loc, "when_off"), spec, problems)
    messages = api.messages
    request_path(messages.path, (*base, "messages", "path"))
    if messages.system != "message":
        request_path(messages.system, (*base, "messages", "system"))
    elif "system" not in messages.roles:
        problems.append(
            spec.problem((*base, "messages", "roles"), "roles must name the system role when system is 'message'")
        )
    for kind, template in messages.parts.items():
        _check_template(template, PART_VARIABLES[kind], (*base, "messages", "parts", kind), spec, problems)
    for role, templates in messages.role_parts.items():
        if role not in messages.roles:
            problems.append(spec.problem((*base, "messages", "role_parts", role), f"role {role!r} is not under roles"))
        for kind, template in templates.items():
            loc = (*base, "messages", "role_parts", role, kind)
            _check_template(template, PART_VARIABLES[kind], loc, spec, problems)
    for kind, fields in messages.message_fields.items():
        _check_template(fields, PART_VARIABLES[kind], (*base, "messages", "message_fields", kind), spec, problems)
    for kind, names in messages.only_with.items():
        for name in names:
            if name not in PART_VARIABLES[kind]:
                problems.append(
                    spec.problem(
                        (*base, "messages", "only_with", kind),
                        f"{kind} parts have no variable ${name} (expected one of: ${', $'.join(sorted(PART_VARIABLES[kind]))})",
                    )
                )
    for key in ("part_fields", "message_fields", "own_message", "items"):
        for kind in getattr(messages, key):
            if kind not in messages.parts:
                problems.append(
                    spec.problem((*base, "messages", key), f"{kind!r} has no template under messages.parts")
                )
    if messages.tool_result_media is not None and messages.tool_result_media not in get_args(Capability):
        problems.append(
            spec.problem(
                (*base, "messages", "tool_result_media"),
                f"{messages.tool_result_media!r} is not a capability; known: {', '.join(get_args(Capability))}",
            )
        )
    if api.cache is not None and api.cache != "automatic":
        _check_template(api.cache.marker, frozenset({"ttl"}), (*base, "cache", "marker"), spec, problems)
    if api.tools is not None:
        tools_loc = (*base, "tools")
        request_path(api.tools.path, (*tools_loc, "path"))
        request_path(api.tools.choice_path, (*tools_loc, "choice_path"))
        _check_template(
            api.tools.shape, frozenset({"name", "description", "parameters"}), (*tools_loc, "shape"), spec, problems
        )
        for choice, template in api.tools.choices.items():
            _check_template(template, frozenset(), (*tools_loc, "choices", choice), spec, problems)
        _check_template(api.tools.named_choice, frozenset({"name"}), (*tools_loc, "named_choice"), spec, problems)
        _check_template(api.tools.container, frozenset({"tools"}), (*tools_loc, "container"), spec, problems)
        strict = api.tools.strict
        if strict is not None and api.tools.container is None:
            flag = split_path(f"{api.tools.path}.0.{strict.path}")
            if schema_at(schemas, api.request, flag) is None:
                problems.append(
                    spec.problem(
                        (*tools_loc, "strict", "path"), f"{strict.path!r} is not a field of one tool in {api.request!r}"
                    )
                )
    output = api.output
    if output.tool_calls is not None:
        calls = output.tool_calls
        for key in ("id", "name", "arguments", "signature"):
            if getattr(calls, key) is not None:
                response_path(f"{calls.path}.0.{getattr(calls, key)}", (*base, "output", "tool_calls", key))
    for index, failure in enumerate(output.failures):
        response_path(failure.path, (*base, "output", "failures", index, "path"))
        _check_template(failure.message, frozenset({"value"}), (*base, "output", "failures", index), spec, problems)
    for key in ("id", "model", "text", "thinking", "refusal", "service_tier"):
        path = getattr(output, key)
        if path is not None:
            response_path(path, (*base, "output", key))
    if isinstance(output.finish_reason, str):
        response_path(output.finish_reason, (*base, "output", "finish_reason"))
    else:
        for index, path in enumerate(output.finish_reason):
            response_path(path, (*base, "output", "finish_reason", index))
    if (output.text is None) == (output.blocks is None):
        problems.append(
            spec.problem((*base, "output"), "give the answer's text as either `text` or `blocks`, not both")
        )
    if output.logprobs is not None:
        lp = output.logprobs
        top_from = lp.top_path or lp.path
        for key, path in (
            ("path", lp.path),
            ("token", f"{lp.path}.0.{lp.token}"),
            ("logprob", f"{lp.path}.0.{lp.logprob}"),
            ("top_path" if lp.top_path else "top", f"{top_from}.0.{lp.top}.0.{lp.token}"),
        ):
            response_path(path, (*base, "output", "logprobs", key))
    if output.blocks is not None:
        block_paths = [output.blocks.path] if isinstance(output.blocks.path, str) else output.blocks.path
        for index, path in enumerate(block_paths):
            path_loc = (*base, "output", "blocks", "path")
            response_path(path, path_loc if isinstance(output.blocks.path, str) else (*path_loc, index))
        for rule_name in ("text", "thinking", "redacted_thinking"):
            rule = getattr(output.blocks, rule_name)
            for key in ("field", "signature", "id"):
                value = getattr(rule, key) if rule is not None else None
                if value is not None and not any(
                    schema_at(schemas, api.response, split_path(f"{path}.0.{value}")) for path in block_paths
                ):
                    problems.append(
                        spec.problem(
                            (*base, "output", "blocks", rule_name, key),
                            f"{value!r} is not a field of the blocks at {', '.join(block_paths)} "
                            f"in the response schema {api.response!r}",
                        )
                    )
    for usage_field, paths in output.usage.items():
        if isinstance(paths, str):
            response_path(paths, (*base, "output", "usage", usage_field))
        else:
            listed, where = (paths.first, ("first",)) if isinstance(paths, FirstOf) else (paths, ())
            for index, path in enumerate(listed):
                response_path(path, (*base, "output", "usage", usage_field, *where, index))
    for option, spec_field in api.options.items():
        request_path(spec_field.path, (*base, "options", option, "path"))
        for path in spec_field.also.append if spec_field.also else ():
            request_path(path, (*base, "options", option, "also", "append", path))
    for path in api.constants:
        request_path(path, (*base, "constants", path))
    for path in api.stream.body if api.stream else ():
        request_path(path, (*base, "stream", "body", path))
    if api.options and api.options_class is None:
        problems.append(spec.problem((*base, "options"), "options need options_class: the name of the generated model"))
    entry = (*split_path(messages.path), 0)
    relative = [(("role_field",), messages.role_field), (("content",), messages.content)]
    relative += [(("part_fields", kind), name) for kind, name in messages.part_fields.items()]
    for where, name in relative:
        if schema_at(schemas, api.request, (*entry, *split_path(name))) is None:
            message = f"{name!r} is not a field of a message in {messages.path!r}"
            problems.append(spec.problem((*base, "messages", *where), message))
    check_chat_values(api, base, spec, schemas, problems)
    check_answer_values(api, base, spec, schemas, problems)


def _check_template(
    template: Any, allowed: frozenset[str], loc: PathKey, spec: SpecFile, problems: list[Problem]
) -> None:
    if isinstance(template, str):
        for variable in TEMPLATE_VARIABLE.findall(template):
            if variable not in allowed:
                problems.append(
                    spec.problem(
                        loc, f"unknown template variable ${variable} (expected one of: ${', $'.join(sorted(allowed))})"
                    )
                )
    elif isinstance(template, Mapping):
        for key, value in template.items():
            _check_template(value, allowed, (*loc, key), spec, problems)
    elif isinstance(template, list):
        for index, value in enumerate(template):
            _check_template(value, allowed, (*loc, index), spec, problems)


PLANNED_PROVIDERS = frozenset({"anthropic", "gemini", "bedrock", "mistral", "cohere"})
"""Providers the registry may list before their spec folder exists (their adapters are coming);
any provider with a folder under specs/ is accepted too."""


def load_registry(path: Path, root: Path, apis: Mapping[str, Collection[str]] | None = None) -> ModelsSpec:
    """Load and check specs/models.yaml: each entry, its provider, and names used twice; with
    `apis` (provider -> its API names), that each model's API is one its provider has."""
    shown = shown_path(path, root)
    if not path.exists():
        raise SpecError([Problem(shown, 1, "missing spec file models.yaml (the model registry)")])
    spec = load_spec_file(path, shown)
    problems: list[Problem] = []
    registry = parse_model(ModelsSpec, spec, problems)
    if registry is not None:
        owners: dict[str, str] = {}
        for model_id, model in registry.models.items():
            for index, name in enumerate((model_id, *model.aliases)):
                loc: PathKey = ("models", model_id) if index == 0 else ("models", model_id, "aliases", index - 1)
                if name in owners and owners[name] != model_id:
                    problems.append(
                        spec.problem(loc, f"duplicate model name {name!r} (already used by {owners[name]!r})")
                    )
                owners.setdefault(name, model_id)
            known = (
                PLANNED_PROVIDERS
                | {p.name for p in root.iterdir() if (p / "provider.yaml").exists()}
                | {p.stem for p in (root / "hosts").glob("*.yaml")}
            )
            if model.provider not in known:
                problems.append(
                    spec.problem(
                        ("models", model_id, "provider"),
                        f"unknown provider {model.provider!r} (expected a folder under specs/: {', '.join(sorted(known))})",
                    )
                )
            elif apis is not None and model.provider in apis and model.api not in apis[model.provider]:
                problems.append(
                    spec.problem(
                        ("models", model_id, "api"),
                        f"{model.provider} has no API {model.api!r} (expected one of: {', '.join(sorted(apis[model.provider]))})",
                    )
                )
            if model.kind == "chat" and model.max_output_tokens is None:
                problems.append(spec.problem(("models", model_id), "a chat model needs max_output_tokens"))
    if problems or registry is None:
        raise SpecError(problems)
    return registry
