"""lm-deluge's model names, as cloudburst's registry knows the same models.

The table is lm-deluge 0.0.168's registry (`lm_deluge/models/*.py`: each id and alias, matched
to ours by provider and API model name) where its names differ from ours. Its Vertex entries
and endpoints of its own (`deepseek-speciale`) have no counterpart and are left out: they are
unknown names, answered with the closest of ours.
"""

from __future__ import annotations

from cloudburst._errors import UnknownModelError
from cloudburst._registry import REGISTRY

LM_DELUGE_NAMES: dict[str, str] = {
    # Anthropic: lm-deluge puts the version first (claude-4.5-haiku), Anthropic last (claude-haiku-4-5)
    "claude-5.5-haiku": "claude-haiku-5-5",
    "claude-5-5-haiku": "claude-haiku-5-5",
    "claude-haiku-5.5": "claude-haiku-5-5",
    "claude-5.5-sonnet": "claude-sonnet-5-5",
    "claude-5-5-sonnet": "claude-sonnet-5-5",
    "claude-sonnet-5.5": "claude-sonnet-5-5",
    "claude-5.5-opus": "claude-opus-5-5",
    "claude-5-5-opus": "claude-opus-5-5",
    "claude-opus-5.5": "claude-opus-5-5",
    "claude-5-opus": "claude-opus-5",
    "claude-5-sonnet": "claude-sonnet-5",
    "claude-4.8-opus": "claude-opus-4-8",
    "claude-opus-4.8": "claude-opus-4-8",
    "claude-4.6-opus": "claude-opus-4-6",
    "claude-opus-4.6": "claude-opus-4-6",
    "claude-4.6-sonnet": "claude-sonnet-4-6",
    "claude-sonnet-4.6": "claude-sonnet-4-6",
    "claude-4.5-opus": "claude-opus-4-5",
    "claude-opus-4.5": "claude-opus-4-5",
    "claude-4.5-sonnet": "claude-sonnet-4-5",
    "claude-sonnet-4.5": "claude-sonnet-4-5",
    "claude-4.5-haiku": "claude-haiku-4-5",
    "claude-haiku-4.5": "claude-haiku-4-5",
    # Bedrock: lm-deluge's `-bedrock` suffix is our `bedrock-` prefix (`-global`: the same model)
    "claude-5.5-haiku-bedrock": "bedrock-claude-haiku-5-5",
    "claude-haiku-5-5-bedrock": "bedrock-claude-haiku-5-5",
    "claude-haiku-5.5-bedrock": "bedrock-claude-haiku-5-5",
    "claude-5.5-sonnet-bedrock": "bedrock-claude-sonnet-5-5",
    "claude-sonnet-5-5-bedrock": "bedrock-claude-sonnet-5-5",
    "claude-sonnet-5.5-bedrock": "bedrock-claude-sonnet-5-5",
    "claude-5.5-opus-bedrock": "bedrock-claude-opus-5-5",
    "claude-opus-5-5-bedrock": "bedrock-claude-opus-5-5",
    "claude-opus-5.5-bedrock": "bedrock-claude-opus-5-5",
    "claude-4.5-haiku-bedrock": "bedrock-claude-haiku-4-5",
    "claude-4.5-haiku-bedrock-global": "bedrock-claude-haiku-4-5",
    "claude-4.5-sonnet-bedrock": "bedrock-claude-sonnet-4-5",
    "claude-4.5-sonnet-bedrock-global": "bedrock-claude-sonnet-4-5",
    "claude-4.5-opus-bedrock": "bedrock-claude-opus-4-5",
    "claude-4.5-opus-bedrock-global": "bedrock-claude-opus-4-5",
    # OpenAI: lm-deluge's short names for the default variant
    "gpt-6": "gpt-6-sol",
    "gpt-6.1": "gpt-6.1-sol",
    # the others: our ids are the providers' own names
    "command-a": "command-a-03-2025",
    "command-r": "command-r-08-2024",
    "mistral-large": "mistral-large-latest",
    "mistral-medium": "mistral-medium-latest",
    "mistral-small": "mistral-small-latest",
    "codestral": "codestral-latest",
    "deepseek-r1": "deepseek-reasoner",
    "deepseek-reasoner-anthropic-compat": "deepseek-reasoner",
    "llama-3.3-70b-groq": "llama-3.3-70b-versatile",
}

REASONING_SUFFIXES = ("-minimal", "-low", "-medium", "-high", "-xhigh", "-max", "-none")
"""lm-deluge reads `gpt-5-high` as gpt-5 with reasoning_effort="high"."""


def our_name(name: str) -> tuple[str, str | None]:
    """cloudburst's name for an lm-deluge model name, and the reasoning effort its suffix asked
    for (None without one). An unknown name is an UnknownModelError naming the closest of ours."""
    suffixed = [(name.removesuffix(s), s[1:]) for s in REASONING_SUFFIXES if name.endswith(s)]
    for candidate, effort in ((name, None), *suffixed):
        ours = LM_DELUGE_NAMES.get(candidate, candidate)
        try:
            REGISTRY.get(ours)
        except UnknownModelError:
            continue
        return ours, effort
    raise UnknownModelError(name, (n for model in REGISTRY for n in (model.id, *model.aliases)))
