"""lm-deluge's entry points on cloudburst: change `from lm_deluge import ...` to
`from cloudburst.compat import ...` and a program written for lm-deluge runs on cloudburst.

Each lm-deluge keyword and builder whose name differs warns (DeprecationWarning) with what to
write in cloudburst instead; the README's "Coming from lm-deluge" has the whole table. What comes
back is cloudburst's APIResponse, which also answers to lm-deluge's names (`is_error`,
`error_message`, `input_tokens`, ...). Mapped from lm-deluge 0.0.168.
"""

from cloudburst._sampling import SamplingParams
from cloudburst._tools import Tool
from cloudburst.compat._client import LLMClient, SqliteCache
from cloudburst.compat._models import LM_DELUGE_NAMES
from cloudburst.compat._prompt import Conversation, File, Message
from cloudburst.compat._response import APIResponse

__all__ = [
    "LM_DELUGE_NAMES",
    "APIResponse",
    "Conversation",
    "File",
    "LLMClient",
    "Message",
    "SamplingParams",
    "SqliteCache",
    "Tool",
]
