"""`cloudburst run --dry-run`: every line and every per-line setting checked against every model
of the job, and the job's estimate per model, with nothing sent (and no API key needed).

Exit 0 when every line would become a request; 2, with each bad line listed as
`file:line: what is wrong`, when any would not.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from cloudburst._errors import ConfigurationError
from cloudburst._estimate import estimate
from cloudburst._input import PromptReader
from cloudburst._options import RequestOptions
from cloudburst._prompt import InvalidPrompt, Prompt
from cloudburst._registry import get_model
from cloudburst._render import check_options
from cloudburst._sampling import SamplingParams


def dry_run(path: Path, model_names: Sequence[str], sampling: SamplingParams) -> int:
    models = [get_model(name) for name in model_names]
    for model in models:  # the job's own settings: a mistake here is the whole job's (exit 2)
        check_options(model, sampling, RequestOptions())
    reader = PromptReader(path, sampling, models, unique_ids=True)
    lines = bad = 0
    for item in reader:
        lines += 1
        if isinstance(item, InvalidPrompt):
            bad += 1
            print(item.error, file=sys.stderr)
    for model in models:
        good = (item for item in PromptReader(path, sampling, models) if isinstance(item, Prompt))
        try:
            print(estimate(model, good, sampling))
        except ConfigurationError as exc:
            bad += 1
            print(f"{path}: {exc}", file=sys.stderr)
    print(f"{lines:,} lines checked against {len(models)} model(s), {bad:,} bad; nothing was sent")
    return 2 if bad else 0
