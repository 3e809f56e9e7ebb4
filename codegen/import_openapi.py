"""Copy schemas from a provider's published OpenAPI document into a spec file.

When a provider changes its API, refresh the spec from its document instead of retyping it:

    python -m codegen.import_openapi openapi.json CreateChatCompletionRequest \\
        --into specs/openai/request.yaml --source "openai/openai-openapi openapi.json @ f85dbe2" \\
        --strict CreateChatCompletionRequest

The named schemas and everything they reference are written under `schemas:`, with references
rewritten to `#/schemas/Name`. A request body written inline in an operation (Cohere's) is
named on the way in: `ChatRequestV2="POST /v2/chat"`, and an inline answer by its status:
`RerankResponseV2="POST /v2/rerank 200"`. Schemas another file of the same folder already defines are left
out. Documentation-only keys are dropped; `--strict` marks a request root as rejecting unknown
fields, as the provider's server does.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml

_DROPPED_KEYS = {"description", "example", "examples", "title", "deprecated", "externalDocs"}


def _strip(node: Any, names: bool = False) -> Any:
    """Drop documentation keys, except where the keys are field names (under `properties`)."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if not names and (key in _DROPPED_KEYS or key.startswith("x-")):
                continue
            if key == "$ref" and not names:
                value = "#/schemas/" + value.rsplit("/", 1)[-1]
            out[key] = _strip(value, names=not names and key == "properties")
        return out
    if isinstance(node, list):
        return [_strip(item) for item in node]
    return node


def _references(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.add(value.rsplit("/", 1)[-1])
            else:
                found |= _references(value)
    elif isinstance(node, list):
        for item in node:
            found |= _references(item)
    return found


def closure(schemas: dict[str, Any], roots: list[str], skip: set[str]) -> dict[str, Any]:
    """The roots and every schema they reach, minus `skip`, sorted by name."""
    todo, seen = list(roots), set()
    while todo:
        name = todo.pop()
        if name in seen or name in skip:
            continue
        if name not in schemas:
            raise SystemExit(f"schema {name!r} is not in the document")
        seen.add(name)
        todo.extend(_references(schemas[name]))
    return {name: _strip(schemas[name]) for name in sorted(seen)}


def _inline_body(document: dict[str, Any], operation: str) -> Any:
    """The JSON schema of `METHOD /path`'s request body, or of its answer with `METHOD /path STATUS`."""
    method, path, *status = operation.split(" ")
    try:
        spec = document["paths"][path][method.lower()]
        body = spec["responses"][status[0]] if status else spec["requestBody"]
        return body["content"]["application/json"]["schema"]
    except KeyError:
        raise SystemExit(f"no JSON body for {operation!r} in the document") from None


def _defined_elsewhere(target: Path) -> set[str]:
    names: set[str] = set()
    for other in sorted(target.parent.glob("*.yaml")):
        if other.resolve() != target.resolve():
            data = yaml.safe_load(other.read_text()) or {}
            names |= set((data.get("schemas") or {}).keys())
    return names


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m codegen.import_openapi", description=__doc__.splitlines()[0])
    parser.add_argument("document", type=Path, help="OpenAPI document (JSON or YAML)")
    parser.add_argument("roots", nargs="+", help="schema names to import")
    parser.add_argument("--into", type=Path, required=True, help="spec file to write")
    parser.add_argument("--source", required=True, help="where the document comes from (kept in the file)")
    parser.add_argument("--strict", nargs="*", default=[], help="roots that reject unknown fields")
    args = parser.parse_args(argv)

    document = yaml.load(args.document.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    schemas = dict(document["components"]["schemas"])
    roots = []
    for root in args.roots:
        name, _, operation = root.partition("=")
        if operation:
            schemas[name] = _inline_body(document, operation)
        roots.append(name)
    picked = closure(schemas, roots, _defined_elsewhere(args.into))
    for name in args.strict:
        picked[name] = {**picked[name], "additionalProperties": False}
    header = "# Imported by `python -m codegen.import_openapi`; refresh it the same way.\n"
    body = yaml.safe_dump({"source": args.source, "schemas": picked}, sort_keys=False, width=100, allow_unicode=True)
    args.into.write_text(header + body)
    print(f"wrote {len(picked)} schemas to {args.into}")


if __name__ == "__main__":
    main()
