"""Pydantic models of the spec files: what `specs/<provider>/*.yaml` may contain.

Every model forbids unknown keys, so a typo is an error with its line rather than a setting that
silently does nothing. specs/README.md documents each field with an example.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PositiveFloat,
    StringConstraints,
    Tag,
    field_validator,
    model_validator,
)

from codegen.vocabulary import (
    ErrorKind,
    FinishReason,
    OutputType,
    PartKind,
    ReasoningEffort,
    Role,
    SamplingField,
    StreamFormat,
    StreamFraming,
    UsageField,
)

Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_]*$")]
HttpStatus = Annotated[int, Field(ge=100, le=599)]
BodyPath = Annotated[str, StringConstraints(pattern=r"^[^.\s]+(\.[^.\s]+)*$")]
"""A dotted path in a request or answer body (`choices.0.message`): codegen checks it names a
field of the schema."""
MediaType = Annotated[
    str, StringConstraints(pattern=r"^(application|audio|font|image|model|text|video)/[a-z0-9][a-z0-9.+-]*$")
]
T = TypeVar("T")


def _unique(items: list[T]) -> list[T]:
    repeated = [item for index, item in enumerate(items) if item in items[:index]]
    if repeated:
        raise ValueError(f"listed twice: {', '.join(map(str, repeated))}")
    return items


Names = Annotated[list[T], AfterValidator(_unique)]
"""A list that is a set: each entry once."""


class SpecModel(BaseModel):
    """Strict: a number is never a string or true/false, a string never a number."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def _tuple(value: Any) -> Any:
    """YAML has lists only: a fixed-length list is read as a tuple."""
    return tuple(value) if isinstance(value, list) else value


# provider.yaml ------------------------------------------------------------------------------


class Auth(SpecModel):
    scheme: Literal["bearer", "header", "none", "sigv4"]
    """`bearer`: `Authorization: Bearer <key>`; `header`: the key as the value of `header`;
    `sigv4`: AWS Signature V4 with the AWS credential chain, or a bearer key when `env` is set."""
    header: str = "Authorization"
    env: str | list[str] | None = None
    """Environment variable holding the API key; a list where the official SDK reads several,
    in its order (the first set wins)."""
    service: str | None = None
    """The AWS signing name (`bedrock`), for sigv4."""

    @property
    def envs(self) -> tuple[str, ...]:
        return _names(self.env)


class RateLimitHeaders(SpecModel):
    """Names of the headers where the provider reports what is left of its limits."""

    requests_limit: str | None = None
    requests_remaining: str | None = None
    requests_reset: str | None = None
    tokens_limit: str | None = None
    tokens_remaining: str | None = None
    tokens_reset: str | None = None
    input_tokens_remaining: str | None = None
    output_tokens_remaining: str | None = None
    retry_after: str | None = None
    retry_after_ms: str | None = None
    reset_format: Literal["duration", "rfc3339", "seconds"] = "duration"
    """How `*_reset` values are written: `6m0s` (duration), a timestamp (rfc3339), or seconds."""


class ErrorFields(SpecModel):
    """Where an error answer keeps its type, code and message: a body path, or `header:<name>`."""

    type: str | None = None
    code: str | None = None
    message: str | None = None
    retry_delay: str | None = None
    """Body path of how long to wait (`7s`), for providers that say it in the body rather than
    a retry-after header (Gemini's google.rpc.RetryInfo); `*` steps through lists."""


class ErrorRule(SpecModel):
    """One row of the error table; the first row whose every given condition matches wins."""

    status: HttpStatus | list[HttpStatus] | None = None
    type: str | None = None
    code: str | None = None
    message_contains: str | None = None
    kind: ErrorKind


class ServiceSpec(SpecModel):
    """Who to call: a provider's or a host's name, address and authentication."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    base_url: str = Field(pattern=r"^https?://")
    base_url_env: str | list[str] | None = None
    """Environment variable that overrides `base_url`, read as the official SDK reads it; a list
    where the SDK reads several, in its order (the first set wins)."""
    base_url_env_path: str = Field("", pattern=r"^(/[^/]+)*$")
    """What cloudburst appends to that variable's value: the version path (`/v1`), where the
    SDK's variable is the host alone and the SDK adds the version itself."""
    auth: Auth
    headers: dict[str, str] = {}
    """Headers sent on every request (API versions, beta flags)."""
    env_headers: dict[str, str] = {}
    """Headers sent when an environment variable is set, header → variable, as the official
    SDK sends them (OpenAI's `OpenAI-Organization` from `OPENAI_ORG_ID`)."""
    request_id_header: str | None = None
    token_ratio: Annotated[tuple[PositiveFloat, PositiveFloat], BeforeValidator(_tuple)] | None = None
    """Low and high ratio of this provider's token counts to cl100k_base's, for estimates."""

    @field_validator("token_ratio")
    @classmethod
    def _low_then_high(cls, ratio: tuple[float, float] | None) -> tuple[float, float] | None:
        if ratio is not None and ratio[0] > ratio[1]:
            raise ValueError("the low ratio comes first")
        return ratio

    @property
    def base_url_envs(self) -> tuple[str, ...]:
        return _names(self.base_url_env)


def _names(value: str | list[str] | None) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value or ())


class BatchSpec(SpecModel):
    """The provider's batch API: which of the runtime's batch protocols drives it, and how big
    one batch may be (a job bigger than that is split into parts)."""

    protocol: Literal["openai", "anthropic", "gemini"]
    max_requests: int | None = Field(None, gt=0)
    """The most requests one batch takes; None where the provider documents no count."""
    max_bytes: int = Field(gt=0)
    """The largest input one batch takes: its JSONL file, or its request body."""
    inline_max_bytes: int | None = Field(None, gt=0)
    """Where requests may also go inline in the create call (Gemini), the most they may add up
    to; a bigger part is uploaded as a file."""
    item_error_status: dict[str, HttpStatus] = {}
    """Where an errored result carries the error's type but not its HTTP status (Anthropic): the
    status the provider answers each type with online, so it is classified as online."""


FileKind = Literal["image", "document"]


class FileUpload(SpecModel):
    """A provider's Files API: where a file goes, and what of its answer a request then names."""

    protocol: Literal["multipart", "resumable"]
    """`multipart`: one multipart/form-data POST with a `file` part (OpenAI, Anthropic);
    `resumable`: Google's two-step upload (start, then upload and finalize)."""
    url: str = Field(pattern=r"^\{(base_url|root)\}/")
    """Where to upload: `{base_url}` is the provider's base URL, `{root}` the base URL less
    its last path segment (its version), as google-genai puts `upload/v1beta/files` after its host."""
    purpose: str | None = None
    """The multipart `purpose` field, for providers that ask for one."""
    headers: dict[str, str] = {}
    """Headers the upload, and every request naming an uploaded file, must carry (a beta flag)."""
    max_bytes: int = Field(gt=0)
    """The largest file it takes."""
    media_types: dict[FileKind, Names[MediaType]]
    """What a chat request may name once uploaded, by kind."""
    resource: str | None = None
    """Answer path of the file object in the upload's answer (Gemini's `file`); None: the
    answer is the object, as a status answer always is. The paths below are inside it."""
    reference: str
    """Path of what a request names the file by (`id`; Gemini's `uri`)."""
    name: str | None = None
    """Path of the file's resource name, where polling and deleting use it (Gemini's `name`)."""
    expires: str | None = None
    """Answer path of when the provider deletes it (unix seconds, or an RFC 3339 time)."""
    lifetime_seconds: int | None = Field(None, gt=0)
    """How long an upload lives, where the provider says so in its docs; None: until deleted."""
    state: str | None = None
    """Answer path of a processing state to wait on until it is `ready` (Gemini's `file.state`)."""
    ready: str = "ACTIVE"
    failed: str = "FAILED"
    status_url: str | None = None
    """Where to read the file's state: `{base_url}/{name}`."""
    delete_url: str
    """Where to delete it: `{base_url}/files/{reference}` or `{base_url}/{name}`."""


class FileLimits(SpecModel):
    """What the provider takes as files: its limits, inline and uploaded. Which kinds a request
    may carry by URL (the provider fetching it) is each API's part templates in mapping.yaml."""

    max_request_bytes: int | None = Field(None, gt=0)
    """The largest request body its chat APIs take; None where the provider documents none."""
    inline_max_bytes: dict[FileKind, int] = {}
    """The largest file of each kind sent inline (before base64); a kind left out has no limit
    of its own beyond the request's."""
    inline_media_types: dict[FileKind, Names[MediaType]] = {}
    """Media types it takes inline, by kind; a kind left out is not checked here."""
    upload: FileUpload | None = None
    """Its Files API; None: files are only ever sent inline (or by URL)."""


class ProviderSpec(ServiceSpec):
    rate_limit_headers: RateLimitHeaders = RateLimitHeaders()
    rate_limit_chars_per_token: float | None = Field(None, gt=0)
    """Where the provider counts a request's input against its token limits from its characters
    (this many a token) on arrival, and never corrects the count by the usage it reports."""
    error: ErrorFields
    errors: list[ErrorRule]
    batch: BatchSpec | None = None
    files: FileLimits = FileLimits()


# request.yaml, response.yaml, tools.yaml, files.yaml, embeddings.yaml -----------------------


class SchemaFileSpec(SpecModel):
    source: str | None = None
    """Where the schemas come from (the provider's published document, or 'written by hand')."""
    schemas: dict[str, dict[str, Any]]
    """JSON Schema definitions by name; `$ref: '#/schemas/Name'` points at any schema of the
    same provider folder, whichever file defines it."""


# mapping.yaml -------------------------------------------------------------------------------


class Endpoint(SpecModel):
    method: Literal["GET", "POST", "DELETE"] = "POST"
    path: str = Field(pattern=r"^/")
    """Appended to the base URL; `{model}` is replaced by the provider's model name."""


class Placement(SpecModel):
    """Where a value goes in the request body, and in what shape."""

    path: BodyPath
    """Dotted request-body path (`generationConfig.maxOutputTokens`)."""
    value: Any = "$value"
    """A JSON template; `$value` stands for the setting's value."""
    default: Any = None
    """Sent when the setting is unset, for fields the provider requires."""
    when_off: Any = None
    """A JSON template sent instead when the setting turns the feature off (0 or "none")."""


class MessagesMap(SpecModel):
    path: BodyPath
    """Request field holding the list of messages."""
    system: str = "message"
    """`message`: the system prompt is a message with the system role; otherwise the request
    field path where the system prompt's parts go."""
    roles: dict[Role, str]
    """Unified role -> the provider's role name."""
    role_field: BodyPath = "role"
    content: BodyPath = "content"
    """Message field holding the content parts."""
    text_as_string: bool = False
    """Send a message whose parts are all text as one plain string, as many hosts expect."""
    parts: dict[PartKind, Any]
    """Unified part kind -> JSON template of the provider's part (`$text`, `$url`, ...)."""
    role_parts: dict[Role, dict[PartKind, Any]] = {}
    """Templates that replace `parts` in one role's messages (OpenAI Responses: an assistant's
    text is `output_text`, a user's `input_text`)."""
    tool_result_content: Literal["text", "parts", "blocks", "split"] = "text"
    """What a tool result's `$content` may be: `text` only (a result with images is refused),
    `parts`: the text, or a list of this API's own parts when the result has images,
    `blocks`: always a list of this API's own parts, its text one of them (Converse), or
    `split`: the text, with its images and documents apart in `$parts` as this API's own parts
    (null when there are none: Gemini's `functionResponse.parts`)."""
    tool_result_media: str | None = None
    """The registry capability a model needs for images or documents in a tool result, where
    the API takes them on some models only (Gemini: Gemini 3)."""
    formats: dict[MediaType, str] = {}
    """Media type -> the name this API gives `$format` (Converse: text/plain is `txt`);
    unlisted: the media type's subtype (`png`)."""
    items: Names[PartKind] = []
    """Part kinds that are entries of the message list themselves, not parts of a message
    (OpenAI Responses: function calls and their outputs)."""
    part_fields: dict[PartKind, BodyPath] = {}
    """Part kinds that go to a list in their own message field instead of the content
    (OpenAI: tool calls in `tool_calls`)."""
    message_fields: dict[PartKind, dict[str, Any]] = {}
    """Fields a part of this kind adds to its message (OpenAI: `tool_call_id` of a tool result)."""
    own_message: Names[PartKind] = []
    """Part kinds sent one per message (OpenAI: each tool result is a message of its own)."""
    drop: Names[PartKind] = []
    """Part kinds this API has no place for and leaves out of earlier turns (thinking from
    another provider's model)."""
    only_with: dict[PartKind, list[str]] = {}
    """Part kinds sent only when these template variables are set, else left out as `drop`
    does (OpenAI Responses: thinking without a reasoning item's id came from another API)."""

    @model_validator(mode="after")
    def _text_documents(self) -> MessagesMap:
        """A text document goes where a base64 document goes, unless the API has a text form."""
        for parts in (self.parts, *self.role_parts.values()):
            if "document_base64" in parts and "document_text" not in parts:
                parts["document_text"] = parts["document_base64"]
        return self


class BlockRule(SpecModel):
    when: dict[str, Any] = {}
    """Field values a block must have to count (empty: every block the other rule left); keys
    are paths inside the block, and `$present` matches any value (Bedrock's keyed blocks)."""
    field: BodyPath
    """The block's field holding its text: a path inside the block (`thinking.*.text` joins
    the text of a list of chunks)."""
    signature: BodyPath | None = None
    """Thinking blocks: the field holding the signature that lets it be sent back."""
    id: BodyPath | None = None
    """Thinking blocks: the field holding the block's id, for APIs that take thinking back by id
    (OpenAI Responses' reasoning items)."""


class BlocksMap(SpecModel):
    """An answer made of a list of blocks (Anthropic content blocks, Gemini parts): which blocks
    are thinking and which are the answer's text. Thinking is matched first, so a block that is
    thinking is never part of the completion."""

    path: BodyPath | list[BodyPath]
    """Where the list of blocks is; several paths are read in turn, and `*` steps through every
    element of a list (`output.*.content`: the content of every output item)."""
    text: BlockRule
    thinking: BlockRule | None = None
    redacted_thinking: BlockRule | None = None
    """Thinking the provider encrypted: kept (its `field` is the opaque data) to send back."""


class LogprobsMap(SpecModel):
    """Where per-token log probabilities are: a list of tokens, each with its alternatives."""

    path: BodyPath
    token: BodyPath = "token"
    logprob: BodyPath = "logprob"
    top: BodyPath = "top_logprobs"
    top_path: BodyPath | None = None
    """Where the alternatives are a list beside the tokens' own, one entry per token holding
    them in `top` (Gemini's topCandidates); unset, `top` is a field of each token."""


class OutputMap(SpecModel):
    """Where the answer's pieces are in the response body (dotted paths; numbers index lists,
    `*` steps through every element and joins what it finds). The answer's text is either one
    field (`text`, with `thinking` beside it) or `blocks`."""

    id: BodyPath | None = None
    model: BodyPath | None = None
    text: BodyPath | None = None
    thinking: BodyPath | None = None
    refusal: BodyPath | None = None
    """Response path of a refusal message; when present the finish reason is `refusal`."""
    service_tier: BodyPath | None = None
    """Response path of the processing tier that served the request (OpenAI's `service_tier`),
    which picks the prices it is billed at."""
    blocks: BlocksMap | None = None
    logprobs: LogprobsMap | None = None
    tool_calls: ToolCallsMap | None = None
    finish_reason: BodyPath | list[BodyPath]
    """Path of the provider's finish reason; with several paths the first one present wins
    (Responses: `incomplete_details.reason`, else `status`)."""
    finish_reasons: dict[str, FinishReason]
    """The provider's finish reason -> the unified one."""
    usage: dict[UsageField, BodyPath | list[BodyPath] | FirstOf]
    """Unified usage field -> a path, several paths whose values add up, or `first:` paths of
    which the first present counts (one number the provider reports in several places)."""
    failures: list[FailureRule] = []


class FirstOf(SpecModel):
    first: list[BodyPath] = Field(min_length=2)


class FailureRule(SpecModel):
    """A successful status whose body is still a failure (Gemini: a blocked prompt, no
    candidates). The first rule that matches makes the answer's error."""

    path: BodyPath
    """Response path to test."""
    missing: bool = False
    """Match when the path is absent or empty, instead of present."""
    values: list[Any] | None = None
    """Match only these values (with `missing: false`)."""
    kind: ErrorKind
    message: str
    """What went wrong; `$value` is the value found."""


class OptionField(SpecModel):
    """A provider-specific option: a field of the generated options model."""

    path: BodyPath
    """Request-body path; the option's type is read from the request schema there."""
    doc: str
    supported_by: list[str] | None = None
    """Providers that accept it, when not every provider of this API does (compatible hosts)."""
    values: list[str] | None = None
    """The values this API takes, where they are not the schema's (a host's own service tiers)."""
    also: OptionAlso | None = None
    """What the option brings with it when it has a given value."""


class OptionAlso(SpecModel):
    """Items an option's value adds to request lists (OpenAI Responses: `store: false` asks for
    reasoning's encrypted content, as nothing is kept to send back by id)."""

    when: Any
    """The option's value that brings them."""
    append: dict[str, Any]
    """Request path of a list -> the item appended to it (the list is made when missing)."""
    reasoning: bool = False
    """Only for models that reason (the registry's `reasoning`): others refuse the items
    (OpenAI's gpt-4o: "Encrypted content is not supported with this model")."""


SchemaKeyword = Literal[
    "$ref", "$defs", "$anchor", "$comment", "type", "enum", "const", "multipleOf", "maximum",
    "exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength", "minLength", "pattern", "format",
    "maxItems", "minItems", "uniqueItems", "maxContains", "minContains", "contains", "prefixItems", "items",
    "unevaluatedItems", "maxProperties", "minProperties", "required", "dependentRequired",
    "dependentSchemas", "properties", "patternProperties", "additionalProperties",
    "unevaluatedProperties", "propertyNames", "allOf", "anyOf", "oneOf", "not", "if", "then", "else",
    "title", "description", "default", "examples", "deprecated", "readOnly", "writeOnly",
]  # fmt: skip
"""JSON Schema's keywords (draft 2020-12, less the annotations no API constrains)."""


class StrictToolsMap(SpecModel):
    """The API's strict tool mode: where its flag goes in one tool, and what the mode demands of
    the parameters' schema (every object is closed either way). A tool whose schema cannot meet
    it goes non-strict, unless it asks for strict (refused before sending)."""

    path: BodyPath
    """Where `true` goes in one tool's shape (`function.strict`); left as the shape has it when
    the tool is not strict."""
    all_required: bool = False
    """Every property must be listed as required (OpenAI)."""
    unsupported: Names[SchemaKeyword] = []
    """Schema keywords the strict mode refuses; a schema using one is not sent strict."""
    bare_refs: bool = False
    """A `$ref` takes no sibling keywords (OpenAI): such a node gets the definition inlined."""


class ToolsMap(SpecModel):
    """How tools are offered: the list's place, each tool's shape, and the tool choice."""

    path: BodyPath
    shape: Any
    """JSON template of one tool: `$name`, `$description`, `$parameters` (a JSON schema)."""
    choice_path: BodyPath
    choices: dict[Literal["auto", "none", "required"], Any]
    """Unified choice -> JSON template of the provider's value; null: the API's default, so
    nothing is sent. A choice left out is refused."""
    named_choice: Any = None
    """JSON template forcing one tool: `$name`; null when the API cannot (refused)."""
    container: Any = None
    """JSON template around the list of tools (`$tools`), when the API nests it
    (Gemini: `[{functionDeclarations: $tools}]`)."""
    strict: StrictToolsMap | None = None
    """The API's strict tool schemas; None: it has none (a tool asking for strict is refused)."""


class ToolCallsMap(SpecModel):
    """Where the calls are in the answer: a list (or the blocks matching `when`), and in each
    call its id, tool name and arguments (JSON text or an object)."""

    path: BodyPath
    when: dict[str, Any] = {}
    id: BodyPath
    """Where the call's id is; calls without one get `call_<n>`."""
    name: BodyPath
    arguments: BodyPath
    signature: BodyPath | None = None
    """Where a call's thought signature is (Gemini), kept to be sent back with the call."""


class CacheMap(SpecModel):
    """Prompt-cache breakpoints set by the caller's pattern: the marker goes on the last block
    of each region the pattern names (system, tools, recent user messages)."""

    field: BodyPath | None = None
    """Block field that carries the marker (`cache_control`); null: the marker is a block of
    its own, after the region's last (Converse's `cachePoint`)."""
    marker: Any
    """JSON template of the marker; `$ttl` is the requested lifetime."""


class StreamMap(SpecModel):
    """How the API streams its answer, to be folded back into the non-streaming body."""

    format: StreamFormat
    """The event format, folded by `cloudburst._stream.<format>`."""
    framing: StreamFraming = "sse"
    """How the bytes are cut into events: server-sent events or AWS's binary event stream."""
    body: dict[str, Any] = {}
    """Top-level request fields a streaming request adds (`stream: true`)."""
    path: str | None = Field(None, pattern=r"^/")
    """The streaming endpoint, when it is not the API's (`{model}` as in `endpoint.path`)."""
    required_above: int | None = Field(None, gt=0)
    """More output tokens than this are answered only streamed: `stream="auto"` streams them."""


class ApiSpec(SpecModel):
    kind: Literal["chat"]
    endpoint: Endpoint
    request: str
    """Name of the request body schema."""
    response: str
    """Name of the response body schema."""
    model: BodyPath | None = "model"
    """Request field carrying the model name; null when the model is in the endpoint path."""
    sampling: dict[SamplingField, BodyPath | Placement | list[Placement]] = {}
    """Unified sampling setting -> where it goes (several places for a setting that sets two
    fields, like Gemini's JSON schema and mime type). A setting left out is unsupported: asking
    for it fails before anything is sent."""
    messages: MessagesMap
    tools: ToolsMap | None = None
    """How tools are offered; None: the API takes none."""
    cache: CacheMap | Literal["automatic"] | None = None
    """Prompt caching: breakpoints set by pattern, `automatic` (the provider caches prefixes by
    itself; a pattern is then not needed and ignored), or None (no prompt caching)."""
    output: OutputMap
    stream: StreamMap | None = None
    """How the API streams; None: it does not (`stream=True` is refused)."""
    options_class: str | None = Field(None, pattern=r"^[A-Z][A-Za-z0-9]*Options$")
    """Name of the generated provider options model (`OpenAIOptions`). APIs of one provider may
    share it: each takes the options it maps and refuses the others."""
    options: dict[Identifier, OptionField] = {}
    """Option name (a Python identifier: it becomes a field of the options model) -> field."""
    constants: dict[str, Any] = {}
    """Request path -> a value sent with every request (`anthropic_version` on Bedrock)."""
    response_fields: list[BodyPath] = []
    """Answer paths real answers carry that the published response schema lacks (the wire is
    the authority), accepted by the mapping check."""


class ExtendsSpec(SpecModel):
    """An API that is another provider's, with changes (Bedrock's InvokeModel takes Anthropic's
    messages body): its mapping, schemas and options model are reused."""

    extends: str = Field(pattern=r"^[a-z][a-z0-9_]*/[a-z][a-z0-9_]*$")
    """`<provider>/<api>`."""
    changes: dict[str, Any] = {}
    """Merged into that API's mapping: mappings merge key by key, anything else replaces, and
    null removes (`model: null` when the model travels in the URL)."""
    request_fields: list[BodyPath] = []
    """Request paths this API adds to the other's body (`anthropic_version`)."""
    response_fields: list[BodyPath] = []
    """Answer paths this API adds."""
    options: list[Identifier] = []
    """Which of the other API's provider options this one takes; the others are refused."""


class EmbedPlacement(SpecModel):
    """Where one `EmbeddingOptions` setting goes, and its values as the provider names them."""

    path: BodyPath
    """Dotted request-body path."""
    values: dict[str, Any] | None = None
    """Unified value -> the provider's; None: sent as given. A value left out is refused."""
    default: Any = None
    """Sent when the setting is unset, for fields the provider requires (Cohere's input_type)."""
    as_list: bool = False
    """Output types: the provider takes a list of them (Cohere), not one (OpenAI)."""
    per_item: bool = False
    """The field is one of each text's entry (Gemini's `requests[].taskType`), not the body's."""


class EmbedLimits(SpecModel):
    """What one request may carry; texts are packed up to both, and split beyond."""

    max_texts: int = Field(gt=0)
    max_tokens: int | None = Field(None, gt=0)
    """Tokens of all its texts together; null: the provider documents no such limit."""


class EmbedOutput(SpecModel):
    vectors: dict[OutputType, BodyPath] = Field(min_length=1)
    """Output type (`float`, `int8`, ...) -> response path of the list of vectors, in input
    order; the types offered are these."""
    input_tokens: str
    """Response path of the tokens billed, or `header:<name>` (Bedrock's token-count header)."""
    image_tokens: BodyPath | None = None
    """Response path of image tokens billed apart from the text's (Cohere), at `image_input`."""
    model: BodyPath | None = None
    base64: Names[OutputType] = []
    """Output types whose vectors come as base64 of little-endian float32, decoded to floats."""


class EmbedImages(SpecModel):
    """How a pack that holds images is sent, where the API embeds them (the model's registry
    capability `images` says which models do)."""

    field: BodyPath | None = None
    """Request field of the list of entries of such a pack; null: `texts`, as for text."""
    text: Any = None
    """JSON template of a text's entry there (`$text`); null: `item`, as for text."""
    image: Any
    """JSON template of an image's entry (`$data_url`, `$data` (base64), `$media_type`, `$model`);
    the per-item settings apply to it as to a text's."""
    max_bytes: int = Field(gt=0)
    """The most base64 image bytes one request carries (more go in the next)."""
    media_types: Annotated[Names[MediaType], Field(min_length=1)]
    """The image types it takes; another is an error on its own result."""


EmbedSetting = Literal["dimensions", "input_kind", "truncation", "output_types"]


class EmbedApiSpec(SpecModel):
    """An embeddings API: many texts in one request, one vector (per output type) back for each."""

    kind: Literal["embeddings"]
    endpoint: Endpoint
    request: str
    response: str
    model: BodyPath | None = "model"
    texts: BodyPath
    """Request field holding the list of texts (with `single`, the one text)."""
    single: bool = False
    """The API embeds one text a request, sent as a string, and answers one vector at each
    `output.vectors` path (Bedrock's Titan); `limits.max_texts` must then be 1."""
    item: Any = None
    """JSON template of each text's entry in that list (`$text`, `$model`); null: the text itself."""
    server_truncation: bool = False
    """The provider cuts a text over the model's limit itself unless `truncation` is `none`
    (Cohere); otherwise such a text is refused (or cut here, with `client_truncation`)."""
    limits: EmbedLimits
    settings: dict[EmbedSetting, str | EmbedPlacement] = {}
    """`EmbeddingOptions` field -> where it goes. A setting left out is refused before sending
    (`truncation` aside, with `client_truncation`)."""
    client_truncation: bool = False
    """No truncation field: `truncation` cuts texts here, exactly where the reference tokenizer
    is the provider's (OpenAI's cl100k_base)."""
    constants: dict[str, Any] = {}
    images: EmbedImages | None = None
    """Null: the API embeds text only."""
    output: EmbedOutput


class RerankOutput(SpecModel):
    results: BodyPath
    """Response path of the list of ranked documents."""
    index: BodyPath
    """Field of a result holding the document's index in the request."""
    score: BodyPath
    """Field of a result holding its relevance score."""
    searches: BodyPath | None = None
    """Response path of the searches billed (Cohere's search units); null: one a request."""


class RerankApiSpec(SpecModel):
    """A rerank API: one query, many documents, their indices back ranked by relevance."""

    kind: Literal["rerank"]
    endpoint: Endpoint
    request: str
    response: str
    model: BodyPath | None = "model"
    query: BodyPath
    """Request field of the query."""
    documents: BodyPath
    """Request field of the list of documents (texts)."""
    top_n: BodyPath | None = None
    """Request field of how many results to return; null: all come back, cut here."""
    max_documents: int = Field(gt=0)
    """The most documents one request takes; more are ranked in parts and merged by score."""
    output: RerankOutput


def _api_kind(data: Any) -> str:
    if isinstance(data, dict) and data.get("kind") in ("embeddings", "rerank"):
        return str(data["kind"])
    return "extends" if isinstance(data, dict) and "extends" in data else "api"


class MappingSpec(SpecModel):
    apis: dict[
        str,
        Annotated[
            Annotated[ApiSpec, Tag("api")]
            | Annotated[ExtendsSpec, Tag("extends")]
            | Annotated[EmbedApiSpec, Tag("embeddings")]
            | Annotated[RerankApiSpec, Tag("rerank")],
            Discriminator(_api_kind),
        ],
    ]


# models.yaml --------------------------------------------------------------------------------

Capability = Literal[
    "images",
    "pdfs",
    "tools",
    "json_mode",
    "structured_output",
    "logprobs",
    "batch",
    "files",
    "embeddings",
    "rerank",
    "audio",
    "tool_result_media",
]


class PriceTier(SpecModel):
    """Prices for requests whose prompt is longer than `above` tokens (the whole request)."""

    above: int = Field(gt=0)
    input: float = Field(ge=0)
    output: float | None = Field(None, ge=0)
    cached_input: float | None = Field(None, ge=0)


class ServiceTierPrices(SpecModel):
    """Prices of a processing tier the provider bills at rates of its own (OpenAI's flex and
    priority), named as its answers name the tier that served them."""

    tier: str = Field(min_length=1)
    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(None, ge=0)
    cache_write: float | None = Field(None, ge=0)


class Prices(SpecModel):
    """USD per million tokens."""

    input: float | None = Field(None, ge=0)
    cached_input: float | None = Field(None, ge=0)
    cache_write: float | None = Field(None, ge=0)
    """Writing the prompt cache (Anthropic: 5-minute entries)."""
    cache_write_1h: float | None = Field(None, ge=0)
    """Writing 1-hour prompt-cache entries (Anthropic)."""
    output: float | None = Field(None, ge=0)
    batch_discount: float | None = Field(None, ge=0, lt=1)
    """Fraction the batch API takes off every price (0.5: half price)."""
    per_search: float | None = Field(None, ge=0)
    """Rerank models: USD per 1,000 searches."""
    image_input: float | None = Field(None, ge=0)
    """Embedding models that bill image tokens apart from text (Cohere embed-v4)."""
    tiers: list[PriceTier] = []
    service_tiers: list[ServiceTierPrices] = []
    """Tiers the answer may say served it, at their own prices; other tiers get the base ones."""

    @model_validator(mode="after")
    def _one_price_list_a_tier(self) -> Prices:
        names = [t.tier for t in self.service_tiers]
        if len(names) != len(set(names)):
            raise ValueError(f"service_tiers names a tier twice: {', '.join(names)}")
        return self


class SamplingBound(SpecModel):
    """A sampling setting the model takes only within [min, max]."""

    setting: SamplingField
    min: float
    max: float

    @model_validator(mode="after")
    def _min_below_max(self) -> SamplingBound:
        if self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


class Reasoning(SpecModel):
    control: Literal["effort", "budget", "level"]
    """How thinking is steered: an effort name, a token budget, or a thinking level."""
    values: Names[ReasoningEffort] | None = None
    budget_min: int | None = Field(None, ge=0)
    budget_max: int | None = Field(None, gt=0)
    can_disable: bool = False
    default_on: bool = True
    """Whether the model thinks when not asked to (Anthropic's budget models do not)."""
    takes_budget: bool = False
    """An effort model that also takes a thinking_budget as it is (Claude 4.6's deprecated budgets)."""
    rejects: Names[SamplingField] = []
    """Sampling settings the model refuses while it thinks."""
    bounds: list[SamplingBound] = []
    """Settings it takes while it thinks only within bounds (Claude: top_p from 0.95 to 1)."""

    @model_validator(mode="after")
    def _budget_range(self) -> Reasoning:
        if self.budget_min is not None and self.budget_max is not None and self.budget_min > self.budget_max:
            raise ValueError(f"budget_min {self.budget_min} is above budget_max {self.budget_max}")
        return self


class RateLimitTier(SpecModel):
    tier: str
    rpm: int | None = Field(None, gt=0)
    tpm: int | None = Field(None, gt=0)
    input_tpm: int | None = Field(None, gt=0)
    output_tpm: int | None = Field(None, gt=0)


class ModelSpec(SpecModel):
    provider: str
    api: Literal[
        "chat",
        "responses",
        "messages",
        "generate",
        "converse",
        "embeddings",
        "rerank",
        "titan_embeddings",
        "cohere_embeddings",
    ]
    name: str
    """The model name exactly as the provider expects it."""
    aliases: Names[str] = []
    kind: Literal["chat", "embedding", "rerank"] = "chat"
    context_window: int = Field(gt=0)
    max_output_tokens: int | None = Field(None, gt=0)
    prices: Prices
    capabilities: Names[Capability] = []
    refuses: Names[SamplingField] = []
    """Sampling settings the model refuses on every request (Claude 4.7 on: temperature, top_p, top_k)."""
    refuses_together: list[list[SamplingField]] = []
    """Settings it refuses when given together (Claude 4.5 and 4.6: temperature with top_p)."""
    bounds: list[SamplingBound] = []
    """Settings it takes only within bounds narrower than SamplingParams' (Claude: temperature up to 1)."""
    reasoning: Reasoning | None = None
    rate_limits: RateLimitTier | None = None
    dimensions: int | None = Field(None, gt=0)
    region: str | None = None
    """Where the model is served, for providers whose URL names a region (Bedrock)."""


class EffortBudgets(SpecModel):
    """The thinking_budget each reasoning_effort stands for, on a model of the other control."""

    minimal: int = Field(gt=0)
    low: int = Field(gt=0)
    medium: int = Field(gt=0)
    high: int = Field(gt=0)
    xhigh: int = Field(gt=0)
    max: int = Field(gt=0)


class ModelsSpec(SpecModel):
    effort_budgets: EffortBudgets
    models: dict[str, ModelSpec]


# hosts/<name>.yaml ----------------------------------------------------------------------------


class HostSpec(ServiceSpec):
    """An OpenAI-compatible host (or any host speaking another provider's API): who to call,
    and how its dialect differs from the API it speaks. Adding one is this file only. Its
    `token_ratio` is not inherited: a host serves other models, with other tokenizers."""

    rate_limit_headers: RateLimitHeaders | None = None
    """Default: the spoken provider's."""
    error: ErrorFields | None = None
    """Default: the spoken provider's error fields and table."""
    errors: list[ErrorRule] | None = None
    speaks: str = Field(pattern=r"^[a-z][a-z0-9_]*/[a-z][a-z0-9_]*$")
    """`<provider>/<api>` whose mapping this host reuses (`openai/chat`)."""
    changes: dict[str, Any] = {}
    """Merged into that API's mapping: a mapping merges key by key, anything else replaces,
    and null removes (a sampling setting removed is refused before sending)."""
    request_fields: list[BodyPath] = []
    """Request paths the host adds to the spoken API's body (`top_k`), accepted by the mapping
    check though the provider's schema lacks them."""
    response_fields: list[BodyPath] = []
    """Answer paths the host adds to the spoken API's response (`choices.0.message.reasoning`),
    accepted by the mapping check though the provider's schema lacks them."""
    options: list[Identifier] = []
    """Which of the spoken API's provider options the host takes; the others are refused."""
    option_values: dict[Identifier, list[str]] = {}
    """Options (of `options`) whose values the host narrows or replaces: the values it takes."""
