"""Write examples/demo_prompts.jsonl, the input of `make demo`: 3,000 prompts in every form a
line may take (a string, an object with `prompt`, OpenAI chat `messages`, per-line settings).
Deterministic: running it again gives the same bytes."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

TOPICS = [
    "photosynthesis",
    "TCP handshakes",
    "plate tectonics",
    "compound interest",
    "the Krebs cycle",
    "black holes",
    "vaccines",
    "binary search",
    "the French Revolution",
    "supply and demand",
    "entropy",
    "CRISPR",
    "monsoons",
    "public-key cryptography",
    "the Silk Road",
    "neural networks",
    "coral reefs",
    "inflation",
    "the immune system",
    "volcanoes",
    "hash tables",
    "jazz harmony",
    "the water cycle",
    "Roman aqueducts",
    "quantum tunnelling",
]
ASKS = [
    "Explain {} in two sentences.",
    "Give one surprising fact about {}.",
    "Write a short quiz question about {}.",
    "Summarise {} for a ten-year-old.",
    "What is a common misconception about {}?",
    "Name three terms a student of {} should know.",
]
SYSTEMS = ["You are a patient teacher.", "Answer in one line.", "You are a precise technical writer."]
COUNT = 3000


def lines() -> list[str]:
    out = []
    asks = itertools.cycle(itertools.product(ASKS, TOPICS))
    for n in range(1, COUNT + 1):
        ask, topic = next(asks)
        text = ask.format(topic)
        if n % 10 == 0:
            item: object = text
        elif n % 7 == 0:
            item = {
                "id": f"d{n}",
                "messages": [{"role": "system", "content": SYSTEMS[n % 3]}, {"role": "user", "content": text}],
            }
        elif n % 5 == 0:
            item = {"id": f"d{n}", "prompt": text, "max_new_tokens": 32}
        else:
            item = {"id": f"d{n}", "prompt": text}
        out.append(json.dumps(item))
    return out


if __name__ == "__main__":
    target = Path(__file__).with_name("demo_prompts.jsonl")
    target.write_text("\n".join(lines()) + "\n", encoding="utf-8")
    print(f"wrote {COUNT} prompts to {target}")
