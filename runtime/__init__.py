"""cloudburst: run very many LLM requests across providers, as fast as their limits allow."""

from importlib.metadata import version as _version
from typing import TYPE_CHECKING

from cloudburst._batch import BatchJob, BatchStatus, PartStatus
from cloudburst._cache import Cache, CachedAnswer, SQLiteCache
from cloudburst._client import LLMClient
from cloudburst._config import FileUploadStrategy, RateLimits, RetryPolicy, Timeouts, configure
from cloudburst._conversation import Conversation, Document, Image, Message, Text, Thinking, ToolResult
from cloudburst._deltas import ResponseStream, Restart, TextDelta, ThinkingDelta, ToolCallDelta
from cloudburst._embedding import Embedding, EmbeddingOptions
from cloudburst._errors import (
    AuthError,
    BatchCancelledError,
    BatchExpiredError,
    BlockedError,
    CloudburstError,
    ConfigurationError,
    ConnectionFailedError,
    ContextOverflowError,
    InputError,
    InvalidOutputError,
    InvalidRequestError,
    InvalidResponseError,
    JournalMismatchError,
    LimiterUnavailableError,
    NotFoundError,
    OverloadedError,
    PermissionDeniedError,
    ProviderError,
    QuotaExceededError,
    RateLimitedError,
    RequestTimeoutError,
    ResponseTooLargeError,
    ServerError,
    StreamInterruptedError,
    UnknownModelError,
    UnsupportedContentError,
    UnsupportedOptionError,
)
from cloudburst._estimate import Estimate, estimate
from cloudburst._journal import Journal
from cloudburst._limiter import InProcessLimiter, Limiter, RequestTooLargeError
from cloudburst._models import ModelInfo, Prices, PriceTier, Reasoning, ServiceTierPrices
from cloudburst._options import RequestOptions
from cloudburst._prompt import Completed, InvalidPrompt, Prompt
from cloudburst._registry import get_model, register_model
from cloudburst._render import RenderedRequest, parse, render
from cloudburst._rerank import Ranked, Reranking
from cloudburst._response import APIResponse, TokenLogprob, Usage
from cloudburst._sampling import ReasoningSetting, SamplingParams
from cloudburst._sim import SimConfig, Simulator
from cloudburst._status import StatusTracker
from cloudburst._tools import Tool, ToolCall
from cloudburst._transport import AiohttpTransport, HttpxTransport, Transport
from cloudburst.generated.anthropic.options import AnthropicOptions
from cloudburst.generated.bedrock.options import BedrockOptions
from cloudburst.generated.cohere.options import CohereOptions
from cloudburst.generated.gemini.options import GeminiOptions
from cloudburst.generated.mistral.options import MistralOptions
from cloudburst.generated.openai.options import OpenAIOptions

if TYPE_CHECKING:
    from cloudburst._limiter.redis import RedisLimiter

__version__ = _version("cloudburst")
"""The installed distribution's version (pyproject.toml)."""

__all__ = [
    "APIResponse",
    "AiohttpTransport",
    "AnthropicOptions",
    "AuthError",
    "BatchCancelledError",
    "BatchExpiredError",
    "BatchJob",
    "BatchStatus",
    "BedrockOptions",
    "BlockedError",
    "Cache",
    "CachedAnswer",
    "CloudburstError",
    "CohereOptions",
    "Completed",
    "ConfigurationError",
    "ConnectionFailedError",
    "ContextOverflowError",
    "Conversation",
    "Document",
    "Embedding",
    "EmbeddingOptions",
    "Estimate",
    "FileUploadStrategy",
    "GeminiOptions",
    "HttpxTransport",
    "Image",
    "InProcessLimiter",
    "InputError",
    "InvalidOutputError",
    "InvalidPrompt",
    "InvalidRequestError",
    "InvalidResponseError",
    "Journal",
    "JournalMismatchError",
    "LLMClient",
    "Limiter",
    "LimiterUnavailableError",
    "Message",
    "MistralOptions",
    "ModelInfo",
    "NotFoundError",
    "OpenAIOptions",
    "OverloadedError",
    "PartStatus",
    "PermissionDeniedError",
    "PriceTier",
    "Prices",
    "Prompt",
    "ProviderError",
    "QuotaExceededError",
    "Ranked",
    "RateLimitedError",
    "RateLimits",
    "Reasoning",
    "ReasoningSetting",
    "RedisLimiter",
    "RenderedRequest",
    "RequestOptions",
    "RequestTimeoutError",
    "RequestTooLargeError",
    "Reranking",
    "ResponseStream",
    "ResponseTooLargeError",
    "Restart",
    "RetryPolicy",
    "SQLiteCache",
    "SamplingParams",
    "ServerError",
    "ServiceTierPrices",
    "SimConfig",
    "Simulator",
    "StatusTracker",
    "StreamInterruptedError",
    "Text",
    "TextDelta",
    "Thinking",
    "ThinkingDelta",
    "Timeouts",
    "TokenLogprob",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "ToolResult",
    "Transport",
    "UnknownModelError",
    "UnsupportedContentError",
    "UnsupportedOptionError",
    "Usage",
    "__version__",
    "configure",
    "estimate",
    "get_model",
    "parse",
    "register_model",
    "render",
]


def __getattr__(name: str) -> object:
    """`RedisLimiter` needs redis-py (`pip install 'cloudburst[redis]'`), imported on first use."""
    if name == "RedisLimiter":
        from cloudburst._limiter.redis import RedisLimiter

        return RedisLimiter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
