"""EmbeddingOptions and Embedding: how to embed, said once for every provider, and one text's
result. The generated embeddings adapters map the options per provider (the spec's `settings`)
and call the helpers here."""

from __future__ import annotations

import binascii
import math
import sys
from array import array
from base64 import b64decode
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cloudburst._errors import ConfigurationError, ProviderError, UnsupportedOptionError
from cloudburst._response import Usage
from cloudburst._wire import dig

if TYPE_CHECKING:
    from numpy.typing import NDArray

InputKind = Literal["query", "document", "classification", "clustering"]
Truncation = Literal["none", "start", "end"]
OutputType = Literal["float", "base64", "int8", "uint8", "binary", "ubinary"]


class EmbeddingOptions(BaseModel):
    """Unified embedding settings. Unset (None) settings are not sent (or get the provider's
    required default); one the provider has no place for raises UnsupportedOptionError before
    anything is sent."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dimensions: int | None = Field(default=None, gt=0)
    """Length of each vector, where the model can shorten it. OpenAI (text-embedding-3),
    Cohere (embed-v4)."""
    input_kind: InputKind | None = None
    """What the texts are for: search queries, documents to search, classification or
    clustering. Cohere (input_type; documents by default, as it requires one)."""
    truncation: Truncation | None = None
    """A text over the model's token limit: `none` makes it an error on its own result,
    `start` / `end` cut that end off. Cohere (server side; it cuts the end by default);
    OpenAI (cut here, exactly: its tokenizer is the one cloudburst counts with). Unset: the
    provider's default, which for OpenAI is `none`."""
    output_types: tuple[OutputType, ...] | None = Field(default=None, min_length=1)
    """Which vectors to get back: floats; `base64`, the same floats sent as base64 of float32
    (a quarter of the bytes on the wire, decoded here; OpenAI, Cohere); or 8-bit and packed-bit
    ones where the model offers them (Cohere, Mistral: int8, uint8, binary, ubinary)."""


@dataclass(frozen=True, slots=True)
class InlineImage:
    """An image as the embeddings APIs take it, its content inline: base64 and media type."""

    data: str
    media_type: str

    @property
    def data_url(self) -> str:
        return f"data:{self.media_type};base64,{self.data}"


@dataclass(slots=True)
class Vectors:
    """One answer's vectors by output type, in the order of its texts, and the tokens billed."""

    by_type: dict[str, list[Any] | None]
    input_tokens: int
    model: str | None = None
    image_tokens: int = 0
    """Billed apart from `input_tokens`, where the provider does (Cohere's images)."""


@dataclass(slots=True)
class Embedding:
    """One text's result: its vector (and other output types asked for), or `error`.

    `usage` and `cost` are its share of its request's (requests carry many texts, the provider
    bills the request): the request's billed tokens split by the texts' counted sizes, so the
    shares add up exactly to what was billed."""

    index: int
    """The text's place in the input."""
    model: str
    vector: list[float] | NDArray[Any] | None = None
    """The float vector (from `float` or `base64`); None when only integer types were asked
    for, or on error. A numpy array with `as_numpy=True`."""
    vectors: dict[str, list[Any] | NDArray[Any]] = field(default_factory=dict)
    """Each output type asked for -> its vector (ints for int8, uint8 and the packed binaries);
    numpy arrays with `as_numpy=True` (dtypes in `NUMPY_DTYPES`)."""
    usage: Usage = field(default_factory=Usage)
    cost: float = 0.0
    error: ProviderError | None = None
    attempts: int = 1
    """Attempts made for the request that carried the text."""

    @property
    def ok(self) -> bool:
        return self.error is None


NUMPY_DTYPES = {
    "float": "float32",
    "base64": "float32",
    "int8": "int8",
    "uint8": "uint8",
    "binary": "int8",
    "ubinary": "uint8",
}
"""Each output type's numpy dtype with `as_numpy=True`: float32, as the providers compute and
vector stores keep them (half the memory of Python's floats); the packed binaries are bytes,
signed for `binary` as Cohere returns them."""


def numpy_module() -> ModuleType:
    """numpy, imported only when asked for: cloudburst does not depend on it."""
    try:
        import numpy
    except ImportError:
        raise ConfigurationError(
            "as_numpy=True needs numpy, which cloudburst does not install: pip install numpy"
        ) from None
    return numpy


def with_arrays(embedding: Embedding, numpy: ModuleType) -> Embedding:
    """`embedding` with its vectors as numpy arrays (`numpy.stack` of a job's gives one 2-D array)."""
    embedding.vectors = {kind: numpy.asarray(v, dtype=NUMPY_DTYPES[kind]) for kind, v in embedding.vectors.items()}
    if embedding.vector is not None:
        embedding.vector = embedding.vectors.get("float", embedding.vectors.get("base64"))
    return embedding


def check_settings(
    options: EmbeddingOptions,
    values: Mapping[str, Mapping[str, Any] | None],
    output_types: frozenset[str],
    client_truncation: bool,
    many_output_types: bool,
    where: str,
) -> None:
    """Refuse a setting `where` has no place for, or a value it does not take (the generated
    adapters' `check`)."""
    for name in EmbeddingOptions.model_fields:
        given = getattr(options, name)
        if given is None or (name == "truncation" and client_truncation):
            continue
        if name not in values:
            raise UnsupportedOptionError(f"{where} does not take {name} (EmbeddingOptions.{name}={given!r})")
        taken = values[name]
        asked = given if name == "output_types" else (given,)
        for value in asked:
            if (taken is not None and value not in taken) or (name == "output_types" and value not in output_types):
                offered = sorted(output_types if name == "output_types" else taken or ())
                raise UnsupportedOptionError(f"{where} does not take {name} {value!r} (it takes {', '.join(offered)})")
    if options.output_types is not None and len(options.output_types) > 1 and not many_output_types:
        raise UnsupportedOptionError(f"{where} returns one output type a request; got {options.output_types}")


def vectors_at(
    body: Any, path: tuple[str | int, ...], *, base64: bool = False, single: bool = False
) -> list[Any] | None:
    """The list of vectors at `path`: a list itself (`embeddings.float`), one field of each
    element of a list (`data.*.embedding`), or with `single` the one vector there; with
    `base64`, each decoded from base64 of little-endian float32. None when the answer has none
    there (or one is not a list of finite numbers, or does not decode)."""
    vectors: list[Any] | None
    if "*" not in path:
        found = dig(body, path)
        if single:
            vectors = [found] if isinstance(found, (list, str)) else None
        else:
            vectors = found if isinstance(found, list) else None
    else:
        star = path.index("*")
        items = dig(body, path[:star])
        vectors = [dig(item, path[star + 1 :]) for item in items] if isinstance(items, list) else None
    if vectors is None:
        return None
    if not base64:
        return vectors if all(_numbers(vector) for vector in vectors) else None
    try:
        return [_floats(vector) for vector in vectors]
    except (TypeError, ValueError, binascii.Error):
        return None


def _numbers(vector: Any) -> bool:
    """A vector of finite numbers (one sum checks them all at C speed)."""
    try:
        return isinstance(vector, list) and math.isfinite(sum(vector, 0.0))
    except (TypeError, OverflowError):
        return False


def _floats(encoded: str) -> list[float]:
    values = array("f", b64decode(encoded, validate=True))
    if sys.byteorder != "little":  # pragma: no cover - the wire is little-endian
        values.byteswap()
    return values.tolist()
