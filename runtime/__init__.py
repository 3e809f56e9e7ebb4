"""cloudburst: run very many LLM requests across providers, as fast as their limits allow."""

from cloudburst._conversation import Conversation, Document, Image, Message, Text, Thinking, ToolResult
from cloudburst._errors import (
    AuthError,
    CloudburstError,
    ConfigurationError,
    ConnectionFailedError,
    ContextOverflowError,
    InvalidOutputError,
    InvalidRequestError,
    InvalidResponseError,
    NotFoundError,
    OverloadedError,
    PermissionDeniedError,
    ProviderError,
    QuotaExceededError,
    RateLimitedError,
    RequestTimeoutError,
    ServerError,
    UnknownModelError,
    UnsupportedContentError,
    UnsupportedOptionError,
)
from cloudburst._estimate import Estimate, estimate
from cloudburst._models import ModelInfo, Prices, PriceTier, Reasoning
from cloudburst._options import RequestOptions
from cloudburst._registry import get_model, register_model
from cloudburst._render import RenderedRequest, parse, render
from cloudburst._response import APIResponse, TokenLogprob, Usage
from cloudburst._sampling import SamplingParams
from cloudburst._tools import Tool, ToolCall
from cloudburst.generated.anthropic.options import AnthropicOptions
from cloudburst.generated.openai.options import OpenAIOptions

__all__ = [
    "APIResponse",
    "AnthropicOptions",
    "AuthError",
    "CloudburstError",
    "ConfigurationError",
    "ConnectionFailedError",
    "ContextOverflowError",
    "Conversation",
    "Document",
    "Estimate",
    "Image",
    "InvalidOutputError",
    "InvalidRequestError",
    "InvalidResponseError",
    "Message",
    "ModelInfo",
    "NotFoundError",
    "OpenAIOptions",
    "OverloadedError",
    "PermissionDeniedError",
    "PriceTier",
    "Prices",
    "ProviderError",
    "QuotaExceededError",
    "RateLimitedError",
    "Reasoning",
    "RenderedRequest",
    "RequestOptions",
    "RequestTimeoutError",
    "SamplingParams",
    "ServerError",
    "Text",
    "Thinking",
    "TokenLogprob",
    "Tool",
    "ToolCall",
    "ToolResult",
    "UnknownModelError",
    "UnsupportedContentError",
    "UnsupportedOptionError",
    "Usage",
    "estimate",
    "get_model",
    "parse",
    "register_model",
    "render",
]
