"""Gemini's `streamGenerateContent?alt=sse` as the simulator plays it: the answer
`generateContent` would give, sent as a run of GenerateContentResponse chunks.

Each chunk holds the next piece of each candidate (text and thought summaries cut into pieces, a
function call whole), with `modelVersion`, `responseId` and a `usageMetadata` whose output count
grows to the answer's. A text part's `thoughtSignature` comes last, on an empty text piece, as
Gemini sends it; the candidate's `finishReason` and its other closing fields come on its last
chunk. Logprobs come with the text they score: each chunk has the `logprobsResult` and
`avgLogprobs` of its own tokens. A blocked prompt is one chunk, the whole answer.
"""

from __future__ import annotations

import random
from typing import Any

from cloudburst._sim.answers import cut

TEXT_PIECE = (8, 32)
"""Characters a text chunk carries, low and high."""
TOKENS_PIECE = (3, 12)
"""Tokens a text chunk carries when logprobs score them."""
_SCORED = ("logprobsResult", "avgLogprobs")


def events(answer: dict[str, Any], request: dict[str, Any]) -> list[tuple[str | None, dict[str, Any]]]:
    if not answer.get("candidates"):
        return [(None, answer)]
    rng = random.Random(str(answer.get("responseId")))
    runs = [_chunks(candidate, rng) for candidate in answer["candidates"]]
    steps = max(map(len, runs))
    usage = answer.get("usageMetadata")
    rest = {key: value for key, value in answer.items() if key not in ("candidates", "usageMetadata")}
    out: list[tuple[str | None, dict[str, Any]]] = []
    for step in range(steps):
        chunk: dict[str, Any] = {"candidates": [run[step] for run in runs if step < len(run)]}
        if isinstance(usage, dict):
            chunk["usageMetadata"] = usage if step == steps - 1 else _so_far(usage, (step + 1) / steps)
        out.append((None, {**chunk, **rest}))
    return out


def _chunks(candidate: dict[str, Any], rng: random.Random) -> list[dict[str, Any]]:
    """The candidate's pieces, one a chunk, its closing fields on the last."""
    content = candidate.get("content") or {}
    scored = candidate.get("logprobsResult")
    pieces: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for part in content.get("parts") or ():
        if isinstance(scored, dict) and _scores_text(part, scored):
            pieces.extend(_scored_pieces(part, scored, rng))
            scored = None
        else:
            pieces.extend(_pieces(part, rng))
    head = {key: value for key, value in content.items() if key != "parts"}
    index = {"index": candidate["index"]} if "index" in candidate else {}
    chunks = [{"content": {"parts": [piece], **head}, **index, **scores} for piece, scores in pieces]
    if not chunks:
        chunks = [{"content": content, **index}] if "content" in candidate else [dict(index)]
    closing = {key: value for key, value in candidate.items() if key not in ("content", "index", *_SCORED)}
    if scored is not None:  # logprobs that match no text part's tokens go whole on the last chunk
        closing.update((key, candidate[key]) for key in _SCORED if key in candidate)
    chunks[-1].update(closing)
    return chunks


def _scores_text(part: dict[str, Any], scored: dict[str, Any]) -> bool:
    """Whether `scored` holds exactly this answer text's tokens."""
    if part.get("thought") or not isinstance(part.get("text"), str):
        return False
    tokens = [str(step.get("token", "")) for step in scored.get("chosenCandidates") or ()]
    return bool(tokens) and "".join(tokens) == part["text"]


def _pieces(part: dict[str, Any], rng: random.Random) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    text = part.get("text")
    if not isinstance(text, str):
        return [(part, {})]
    kind = {"thought": part["thought"]} if "thought" in part else {}
    out: list[tuple[dict[str, Any], dict[str, Any]]] = [
        ({"text": piece, **kind}, {}) for piece in cut(text, rng, TEXT_PIECE) or [""]
    ]
    return out + _signed(part, kind)


def _scored_pieces(
    part: dict[str, Any], scored: dict[str, Any], rng: random.Random
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The text in runs of tokens, each with the logprobs of its own."""
    chosen = scored["chosenCandidates"]
    top = scored.get("topCandidates")
    out: list[tuple[dict[str, Any], dict[str, Any]]] = []
    start = 0
    while start < len(chosen):
        end = start + rng.randint(*TOKENS_PIECE)
        steps = chosen[start:end]
        total = sum(step.get("logProbability", 0.0) for step in steps)
        result = {"chosenCandidates": steps, "logProbabilitySum": round(total, 6)}
        if top is not None:
            result = {"topCandidates": top[start:end], **result}
        text = "".join(str(step.get("token", "")) for step in steps)
        out.append(({"text": text}, {"avgLogprobs": total / len(steps), "logprobsResult": result}))
        start = end
    return out + _signed(part, {})


def _signed(part: dict[str, Any], kind: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """A text part's signature, on an empty last piece."""
    if "thoughtSignature" not in part:
        return []
    return [({"text": "", **kind, "thoughtSignature": part["thoughtSignature"]}, {})]


def _so_far(usage: dict[str, Any], share: float) -> dict[str, Any]:
    """`usage` as it stands `share` of the way through: the prompt and thoughts counted from the
    first chunk (the model thinks before it writes), the answer's tokens as they are sent."""
    written = int(usage.get("candidatesTokenCount", 0) * share)
    out = {key: value for key, value in usage.items() if key != "candidatesTokenCount"}
    if written:
        out["candidatesTokenCount"] = written
    if "totalTokenCount" in usage:
        out["totalTokenCount"] = usage["totalTokenCount"] - usage.get("candidatesTokenCount", 0) + written
    return out
