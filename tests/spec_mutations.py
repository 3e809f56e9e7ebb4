"""Mutations of the real spec files, made in their text so every line stays where it was: a value
replaced by one of another type, a key deleted or renamed, a string swapped for a wrong one.
tests/test_spec_fuzz.py draws them with hypothesis; bench/spec_fuzz.py runs many more.
"""

from __future__ import annotations

import sys
import traceback
import types
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel

from codegen.errors import SpecError
from codegen.generate import render_all
from codegen.spec import ApiSpec, BodyPath, HostSpec, MappingSpec, ModelsSpec, ProviderSpec

Loc = tuple[Any, ...]

OTHER_TYPES = {
    "str": ["-1", "2.5", "true", "[1, 2]", "{zz: 1}"],
    "int": ["zz", "true", "[1, 2]", "{zz: 1}", "2.5"],
    "float": ["zz", "true", "[1, 2]", "{zz: 1}"],
    "bool": ["zz", "7", "[1, 2]", "{zz: 1}"],
    "null": ["zz", "-1", "[1, 2]", "{zz: 1}"],
    "list": ["zz", "-1", "true", "{zz: 1}"],
    "dict": ["zz", "-1", "true", "[1, 2]"],
}
"""What a value of each YAML type is replaced by: values of every other type."""


@dataclass(frozen=True)
class Mutation:
    file: str
    """Relative to specs/."""
    kind: str
    """`retype`, `delete`, `rename` or `reword`."""
    loc: Loc
    line: int
    start: int
    end: int
    replacement: str

    def apply(self, text: str) -> str:
        return text[: self.start] + self.replacement + text[self.end :]

    def __str__(self) -> str:
        where = ".".join(str(part) for part in self.loc)
        return f"{self.kind} specs/{self.file}:{self.line} {where} -> {self.replacement!r}"


def _type_of(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "dict"
    if isinstance(node, yaml.SequenceNode):
        return "list"
    value = yaml.safe_load(yaml.serialize(node))
    return {bool: "bool", int: "int", float: "float", type(None): "null"}.get(type(value), "str")


def _entries(node: yaml.Node, loc: Loc = ()) -> Iterator[tuple[Loc, yaml.Node | None, yaml.Node, yaml.Node]]:
    """(where, key node or None for a list item, value node, parent node) for every entry."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            where = (*loc, key.value)
            yield where, key, value, node
            yield from _entries(value, where)
    elif isinstance(node, yaml.SequenceNode):
        for index, value in enumerate(node.value):
            yield (*loc, index), None, value, node
            yield from _entries(value, (*loc, index))


def mutations(file: str, text: str) -> list[Mutation]:
    """Every mutation of one spec file's text."""
    root = yaml.compose(text)
    words = sorted(
        {
            value.value
            for _, _, value, _ in _entries(root)
            if isinstance(value, yaml.ScalarNode) and value.tag.endswith(":str") and value.style is None
        }
    )
    out: list[Mutation] = []
    for loc, key, value, parent in _entries(root):
        line = (key or value).start_mark.line + 1
        start, end = value.start_mark.index, value.end_mark.index
        end = start + len(text[start:end].rstrip())
        kind = _type_of(value)
        for other in OTHER_TYPES[kind]:
            out.append(Mutation(file, "retype", loc, line, start, end, other))
        if kind == "str" and value.style is None:
            other = words[zlib.crc32(value.value.encode()) % len(words)]  # a word from elsewhere in the file
            for word in dict.fromkeys([value.value + "x", "x" + value.value, other]):
                if word != value.value:
                    out.append(Mutation(file, "reword", loc, line, start, end, word))
        if key is None:
            continue
        if key.style is None:
            out.append(Mutation(file, "rename", loc, line, key.start_mark.index, key.end_mark.index, key.value + "x"))
        siblings = [k for k, _ in parent.value]
        index = siblings.index(key)
        if len(siblings) == 1:
            out.append(Mutation(file, "delete", loc, line, parent.start_mark.index, parent.end_mark.index, "{}"))
        elif index + 1 < len(siblings):
            out.append(
                Mutation(file, "delete", loc, line, key.start_mark.index, siblings[index + 1].start_mark.index, "")
            )
        else:
            previous = parent.value[index - 1][1]
            out.append(Mutation(file, "delete", loc, line, previous.end_mark.index, end, ""))
    return out


def spec_files(specs: Path) -> list[str]:
    return sorted(str(p.relative_to(specs)) for p in specs.rglob("*.yaml"))


def is_schema_file(file: str) -> bool:
    """request.yaml, responses.response.yaml, ...: JSON Schema, not a spec model."""
    return _root_model(file) is None


def changed_modules(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))


def runs(source: str, name: str) -> None:
    """Execute a generated module's source as a fresh module (its imports are the installed
    package's), as importing it would."""
    module = types.ModuleType(f"cloudburst.generated._fuzz_{name.replace('/', '_')[:-3]}")
    sys.modules[module.__name__] = module  # pydantic resolves a model's annotations there
    try:
        exec(compile(source, name, "exec"), module.__dict__)
    finally:
        del sys.modules[module.__name__]


ROOT_MODELS: dict[str, type[BaseModel]] = {
    "provider.yaml": ProviderSpec,
    "mapping.yaml": MappingSpec,
    "models.yaml": ModelsSpec,
}


def _root_model(file: str) -> type[BaseModel] | None:
    """The spec model of a file; None for schema files (JSON Schema, checked by keyword)."""
    if file.startswith("hosts/"):
        return HostSpec
    return ROOT_MODELS.get(Path(file).name)


def _members(annotation: Any) -> list[Any]:
    """The types of a union (`X | None`, a discriminated union), each kept as written."""
    bare = _bare(annotation)
    if get_origin(bare) in (Union, types.UnionType):
        return [m for arg in get_args(bare) for m in _members(arg)]
    return [annotation]


def _bare(annotation: Any) -> Any:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _admits(member: Any) -> set[str]:
    """YAML types a member type takes."""
    bare = _bare(member)
    origin = get_origin(bare) or bare
    if bare is Any:
        return set(OTHER_TYPES)
    if origin is Literal:
        return {_type_name(v) for v in get_args(bare)}
    if isinstance(origin, type) and issubclass(origin, BaseModel):
        return {"dict"}
    return {
        str: {"str"},
        int: {"int"},
        float: {"int", "float"},
        bool: {"bool"},
        list: {"list"},
        tuple: {"list"},
        dict: {"dict"},
        type(None): {"null"},
    }.get(origin, set(OTHER_TYPES))


def _type_name(value: Any) -> str:
    return {bool: "bool", int: "int", float: "float", type(None): "null", list: "list", dict: "dict"}.get(
        type(value), "str"
    )


def _pick(annotation: Any, data: Any) -> Any:
    """The member of a union that describes `data`."""
    members = _members(annotation)
    for member in members:
        origin = get_origin(_bare(member)) or _bare(member)
        if isinstance(origin, type) and issubclass(origin, BaseModel):
            if isinstance(data, dict) and set(data) <= set(origin.model_fields):
                return member
        elif _type_name(data) in _admits(member):
            return member
    return members[0]


def field_at(file: str, data: Any, loc: Loc) -> tuple[Any, Any]:
    """(the type of the value at `loc`, of the mapping holding it): what the spec models say the
    value is, or Any inside free JSON (templates, schemas)."""
    annotation: Any = _root_model(file) or Any
    parent: Any = Any
    for part in loc:
        parent = _pick(annotation, data)
        bare = _bare(parent)
        origin = get_origin(bare) or bare
        if isinstance(origin, type) and issubclass(origin, BaseModel):
            field = origin.model_fields.get(part)
            annotation = ApiSpec if part == "changes" else field.annotation if field else Any
        elif origin is dict:
            annotation = get_args(bare)[1]
        elif origin in (list, tuple):
            arguments = get_args(bare)
            annotation = arguments[min(part, len(arguments) - 1)] if origin is tuple else arguments[0]
        else:
            return Any, Any
        data = data[part]
    return annotation, parent


def _vocabulary(annotation: Any) -> set[Any]:
    """The words of a closed vocabulary (a Literal, or a list of one); empty for open text."""
    words: set[Any] = set()
    for member in _members(annotation):
        bare = _bare(member)
        if get_origin(bare) is Literal:
            words.update(get_args(bare))
        elif get_origin(bare) is list:
            words |= _vocabulary(get_args(bare)[0])
    return words


def strict(mutation: Mutation, data: Any) -> bool:
    """Whether the mutated spec is wrong by construction, so codegen must refuse it (or generate
    the same files): a value of a type its field does not take, a key its mapping does not
    have, a word outside a closed vocabulary, a path that starts off the schema. A deleted key,
    text, names, and anything inside free JSON (templates, schemas) may be a valid change."""
    annotation, parent = field_at(mutation.file, data, mutation.loc)
    if mutation.kind == "delete":
        return False
    if mutation.kind == "rename":
        holder = get_origin(_bare(parent)) or _bare(parent)
        if isinstance(holder, type) and issubclass(holder, BaseModel):
            return True
        return holder is dict and get_origin(_bare(get_args(_bare(parent))[0])) is Literal
    if mutation.kind == "retype":
        replaced = _type_name(yaml.safe_load(mutation.replacement))
        return not any(replaced in _admits(member) for member in _members(annotation))
    paths = any(member is BodyPath for member in _members(annotation))
    words = _vocabulary(annotation)
    return (bool(words) and mutation.replacement not in words) or (paths and mutation.replacement.startswith("x"))


SPECS = Path(__file__).resolve().parent.parent / "specs"
TEXTS = {file: (SPECS / file).read_text() for file in spec_files(SPECS)}
DATA = {file: yaml.safe_load(text) for file, text in TEXTS.items()}
MUTATIONS = {file: mutations(file, text) for file, text in TEXTS.items()}
"""Every mutation of every spec file, by file: drawing a file first tries small files as often
as the 3,000-line schema documents."""


class Baseline:
    """A copy of specs/ that every example changes (and puts back), and what it generates."""

    def __init__(self, specs: Path) -> None:
        self.specs = specs
        self.generated = render_all(specs)

    def __repr__(self) -> str:
        return f"Baseline({self.specs})"


def check_mutation(baseline: Baseline, mutation: Mutation) -> str:
    """Apply `mutation` to the copy, generate, and check the outcome; returns `refused`, `same`
    or `changed` (a valid change, whose changed modules ran). Raises AssertionError otherwise."""
    specs = baseline.specs
    path = specs / mutation.file
    path.write_text(mutation.apply(TEXTS[mutation.file]))
    try:
        files = render_all(specs)
    except SpecError as error:
        assert error.problems, mutation
        for problem in error.problems:
            shown = specs.parent / problem.file
            assert shown.is_file(), f"{mutation}: {problem} names no spec file"
            assert 1 <= problem.line <= len(shown.read_text().splitlines()) + 1, f"{mutation}: {problem}"
        # a wrong value is named where it is; a schema changed may make a mapping wrong instead
        where = str(Path("specs") / (Path(mutation.file).parent if is_schema_file(mutation.file) else mutation.file))
        if mutation.kind not in ("delete", "rename"):
            assert any(p.file.as_posix().startswith(where) for p in error.problems), (mutation, error)
        return "refused"
    except Exception as exc:
        raise AssertionError(f"{mutation}: traceback\n{''.join(traceback.format_exception(exc))}") from exc
    finally:
        path.write_text(TEXTS[mutation.file])
    changed = changed_modules(baseline.generated, files)
    assert not (changed and strict(mutation, DATA[mutation.file])), f"{mutation}: accepted, changing {changed}"
    for name in changed:
        if name in files:
            runs(files[name], name)
    return "changed" if changed else "same"
