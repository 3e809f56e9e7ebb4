"""Gemini's `streamGenerateContent?alt=sse`: every event is a GenerateContentResponse of its own,
holding the next pieces of each candidate's parts.

Text arrives piecewise, thought summaries (`thought: true`) apart from the answer, and the
pieces of one kind that follow each other are one part of the whole answer; a `thoughtSignature`
rides on one of them (in practice an empty last piece), so it is kept on the part it closes. A
function call comes whole, its signature on it. The candidate's `finishReason` and safety
ratings come on its last chunk; `usageMetadata` grows chunk by chunk, so the last one seen is
what was spent, even when the stream is cut off. A blocked prompt is one chunk with
`promptFeedback` and no candidates. An error mid-stream is a chunk `{"error": {code, message,
status}}`, the body Google answers the same error with when not streaming.
"""

from __future__ import annotations

from typing import Any

SIGNATURE = "thoughtSignature"


class _Part:
    """One part being rebuilt: its fields, and for text the pieces so far."""

    __slots__ = ("fields", "texts")

    def __init__(self, piece: dict[str, Any]) -> None:
        self.fields = {key: value for key, value in piece.items() if key != "text"}
        self.texts: list[str] | None = [piece["text"]] if isinstance(piece.get("text"), str) else None

    def takes(self, piece: dict[str, Any]) -> bool:
        """Whether `piece` continues this part: text of the same kind, at most one signed."""
        return (
            self.texts is not None
            and isinstance(piece.get("text"), str)
            and bool(piece.get("thought")) == bool(self.fields.get("thought"))
            and not (SIGNATURE in piece and SIGNATURE in self.fields)
        )

    def add(self, piece: dict[str, Any]) -> None:
        assert self.texts is not None
        self.texts.append(piece["text"])
        if len(piece) > 1:  # most pieces are text alone
            self.fields.update((key, value) for key, value in piece.items() if key != "text")

    def body(self) -> dict[str, Any]:
        return self.fields.copy() if self.texts is None else {"text": "".join(self.texts), **self.fields}


class _Candidate:
    """One candidate being rebuilt; its logprobs are each chunk's, one after the other."""

    __slots__ = ("chosen", "content", "fields", "logprob_sum", "parts", "top", "weighted")

    def __init__(self) -> None:
        self.fields: dict[str, Any] = {}
        self.content: dict[str, Any] | None = None
        self.parts: list[_Part] | None = None
        self.chosen: list[Any] | None = None
        self.top: list[Any] = []
        self.logprob_sum: float | None = None
        self.weighted = 0.0
        """Each chunk's `avgLogprobs` times its tokens: over all tokens, the whole's average."""

    def add(self, piece: dict[str, Any]) -> None:
        fields = self.fields
        fields.update(piece)  # the closing fields, last one wins; content and logprobs add up
        content = piece.get("content")
        if isinstance(content, dict):
            del fields["content"]
            self._content(content)
        logprobs = piece.get("logprobsResult")
        if isinstance(logprobs, dict):
            del fields["logprobsResult"]
            self._logprobs(logprobs, piece.get("avgLogprobs"))

    def _content(self, content: dict[str, Any]) -> None:
        if self.content is None:
            self.content = {}
        self.content.update(content)
        if "parts" not in content:
            return
        del self.content["parts"]
        if self.parts is None:
            self.parts = []
        parts = self.parts
        for piece in content["parts"] or ():
            if not isinstance(piece, dict):
                continue
            if parts and parts[-1].takes(piece):
                parts[-1].add(piece)
            else:
                parts.append(_Part(piece))

    def _logprobs(self, result: dict[str, Any], average: Any) -> None:
        chosen = result.get("chosenCandidates") or []
        if self.chosen is None:
            self.chosen = []
        self.chosen.extend(chosen)
        self.top.extend(result.get("topCandidates") or [])
        if isinstance(result.get("logProbabilitySum"), int | float):
            self.logprob_sum = (self.logprob_sum or 0.0) + result["logProbabilitySum"]
        if isinstance(average, int | float):
            self.weighted += average * len(chosen)
            self.fields["avgLogprobs"] = self.weighted / len(self.chosen) if self.chosen else average

    def body(self) -> dict[str, Any]:
        out = dict(self.fields)
        if self.content is not None:
            out["content"] = dict(self.content)
            if self.parts is not None:
                out["content"]["parts"] = [part.body() for part in self.parts]
        if self.chosen is not None:
            result: dict[str, Any] = {"topCandidates": list(self.top), "chosenCandidates": list(self.chosen)}
            if self.logprob_sum is not None:
                result["logProbabilitySum"] = self.logprob_sum
            out["logprobsResult"] = result
        return out


class GeminiFold:
    """Chunks in, the GenerateContentResponse Gemini answers without streaming out."""

    __slots__ = ("_candidates", "_top", "failed")

    def __init__(self) -> None:
        self.failed: tuple[int, dict[str, Any]] | None = None
        self._top: dict[str, Any] = {}
        self._candidates: dict[int, _Candidate] = {}

    @property
    def done(self) -> bool:
        """Every candidate has its finish reason, or the prompt was blocked: Gemini sends
        nothing after."""
        if (self._top.get("promptFeedback") or {}).get("blockReason") is not None:
            return True
        candidates = self._candidates.values()
        return bool(candidates) and all("finishReason" in candidate.fields for candidate in candidates)

    def feed(self, event: str | None, data: Any) -> None:
        if not isinstance(data, dict):
            return
        error = data.get("error")
        if isinstance(error, dict):
            code = error.get("code")
            self.failed = (code if isinstance(code, int) and code >= 400 else 500, data)
            return
        self._top.update(data)
        candidates = data.get("candidates")
        if candidates is None:
            return
        del self._top["candidates"]
        for piece in candidates if isinstance(candidates, list) else ():
            if isinstance(piece, dict):
                index = piece.get("index", 0)
                index = index if isinstance(index, int) else 0
                candidate = self._candidates.get(index)
                if candidate is None:
                    candidate = self._candidates[index] = _Candidate()
                candidate.add(piece)

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self._candidates:
            out["candidates"] = [self._candidates[index].body() for index in sorted(self._candidates)]
        out.update(self._top)
        return out


FOLD = GeminiFold
