"""Copy an AWS operation's body shapes from botocore's service model into a spec file.

AWS publishes its APIs as Smithy service models, which botocore ships; this turns one
operation's input or output into the JSON Schemas of `schemas:`, as import_openapi does for
OpenAPI documents:

    python -m codegen.import_botocore bedrock-runtime Converse input \\
        --into specs/bedrock/converse.request.yaml

Members that travel in the URL or headers (the model id) are left out: the body is what is
checked. Structures and unions reject unknown members, as AWS does. Blobs are base64 text, as
in AWS's JSON protocols.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml

from codegen.import_openapi import _defined_elsewhere

_SCALARS = {
    "string": {"type": "string"},
    "blob": {"type": "string"},
    "boolean": {"type": "boolean"},
    "integer": {"type": "integer"},
    "long": {"type": "integer"},
    "float": {"type": "number"},
    "double": {"type": "number"},
    "timestamp": {"type": "string"},
}


def convert(shape: Any, named: dict[str, Any], skip: set[str]) -> dict[str, Any]:
    """The JSON Schema of a botocore shape; structures are added to `named` and referenced."""
    kind = shape.type_name
    if getattr(shape, "is_document_type", False):
        return {}  # free-form JSON (a model's own fields)
    if kind == "structure":
        if shape.name not in named and shape.name not in skip:
            named[shape.name] = {}  # placeholder: recursive shapes refer to themselves
            body = {name: member for name, member in shape.members.items() if not member.serialization.get("location")}
            schema: dict[str, Any] = {
                "type": "object",
                "additionalProperties": False,
                "properties": {name: convert(member, named, skip) for name, member in body.items()},
            }
            required = [name for name in shape.required_members if name in body]
            if required:
                schema["required"] = required
            if shape.metadata.get("union"):
                schema["maxProperties"] = 1
            named[shape.name] = schema
        return {"$ref": f"#/schemas/{shape.name}"}
    if kind == "list":
        return {"type": "array", "items": convert(shape.member, named, skip)}
    if kind == "map":
        return {"type": "object", "additionalProperties": convert(shape.value, named, skip)}
    if kind == "string" and shape.enum:
        return {"type": "string", "enum": list(shape.enum)}
    return dict(_SCALARS.get(kind, {}))


def main(argv: list[str] | None = None) -> None:
    import botocore
    import botocore.session

    parser = argparse.ArgumentParser(prog="python -m codegen.import_botocore", description=__doc__.splitlines()[0])
    parser.add_argument("service", help="botocore service name (bedrock-runtime)")
    parser.add_argument("operation", help="operation name (Converse)")
    parser.add_argument("side", choices=["input", "output"])
    parser.add_argument("--into", type=Path, required=True, help="spec file to write")
    args = parser.parse_args(argv)

    session = botocore.session.get_session()
    model = session.get_service_model(args.service)
    operation = model.operation_model(args.operation)
    root = operation.input_shape if args.side == "input" else operation.output_shape
    named: dict[str, Any] = {}
    convert(root, named, _defined_elsewhere(args.into))
    source = f"botocore {botocore.__version__} {args.service} service model, {args.operation} {args.side}"
    header = "# Imported by `python -m codegen.import_botocore`; refresh it the same way.\n"
    body = {"source": source, "schemas": {name: named[name] for name in sorted(named)}}
    args.into.write_text(header + yaml.safe_dump(body, sort_keys=False, width=100, allow_unicode=True))
    print(f"wrote {len(named)} schemas to {args.into}")


if __name__ == "__main__":
    main()
