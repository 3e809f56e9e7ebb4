"""cloudburst's unified concepts: the names a spec maps onto provider fields.

The runtime's types carry the same names (`SamplingParams` fields, `FinishReason`, `ErrorKind`,
`Usage` fields); a test keeps both sides equal, so a spec can never map a concept the runtime
does not have.
"""

from __future__ import annotations

from typing import Literal

SamplingField = Literal[
    "temperature",
    "top_p",
    "top_k",
    "max_new_tokens",
    "stop",
    "seed",
    "reasoning_effort",
    "thinking_budget",
    "logprobs",
    "top_logprobs",
    "json_mode",
    "output_schema",
]

ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"]

FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "refusal"]

UsageField = Literal[
    "input_tokens",
    "output_tokens",
    "reasoning_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
]

ErrorKind = Literal[
    "rate_limited",
    "overloaded",
    "server",
    "timeout",
    "context_overflow",
    "blocked",
    "invalid_response",
    "auth",
    "permission",
    "not_found",
    "quota",
    "invalid_request",
]

InputKind = Literal["query", "document", "classification", "clustering"]
Truncation = Literal["none", "start", "end"]
OutputType = Literal["float", "base64", "int8", "uint8", "binary", "ubinary"]

Role = Literal["system", "user", "assistant", "tool"]

StreamFormat = Literal[
    "openai_chat",
    "openai_responses",
    "anthropic_messages",
    "gemini",
    "cohere_chat",
    "bedrock_converse",
    "bedrock_invoke",
]
"""The streamed answer formats the runtime folds (`cloudburst._stream.<format>`)."""
StreamFraming = Literal["sse", "aws_eventstream"]

PartKind = Literal[
    "text",
    "image_url",
    "image_base64",
    "document_base64",
    "document_text",
    "document_url",
    "file_id",
    "image_file_id",
    "tool_call",
    "tool_result",
    "thinking",
    "redacted_thinking",
]

# Variables each part template may use (`$text`, `$url`, ...).
PART_VARIABLES: dict[str, frozenset[str]] = {
    "text": frozenset({"text"}),
    "image_url": frozenset({"url", "media_type", "detail", "detail_or_auto"}),
    "image_base64": frozenset({"data", "media_type", "format", "detail", "detail_or_auto"}),
    "document_base64": frozenset({"data", "media_type", "filename", "format", "title"}),
    # a text/* document: its text as well, for APIs that take documents as text
    "document_text": frozenset({"text", "data", "media_type", "filename", "format", "title"}),
    "document_url": frozenset({"url", "media_type", "filename"}),
    "file_id": frozenset({"file_id", "media_type", "filename"}),
    "image_file_id": frozenset({"file_id", "media_type", "detail", "detail_or_auto"}),
    "tool_call": frozenset({"id", "name", "arguments", "arguments_json", "signature"}),
    "tool_result": frozenset({"call_id", "content", "parts", "name", "is_error", "status"}),
    "thinking": frozenset({"thinking", "signature", "id", "summary"}),
    "redacted_thinking": frozenset({"data"}),
}

# Variables a sampling placement's template may use; `$value` unless listed here.
SAMPLING_VARIABLES: dict[str, dict[str, str]] = {
    "output_schema": {
        "schema": "json_schema(sampling.output_schema)",
        "strict_schema": "strict_json_schema(sampling.output_schema)",
        "name": "schema_name(sampling.output_schema)",
        "schema_json": "json_text(json_schema(sampling.output_schema))",
    },
}

# The JSON type of each sampling setting's value, as `$value` sends it.
SAMPLING_TYPES: dict[str, str] = {
    "temperature": "number",
    "top_p": "number",
    "top_k": "integer",
    "max_new_tokens": "integer",
    "stop": "array",
    "seed": "integer",
    "reasoning_effort": "string",
    "thinking_budget": "integer",
    "logprobs": "boolean",
    "top_logprobs": "integer",
    "json_mode": "boolean",
    "output_schema": "object",
}
