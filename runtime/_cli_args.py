"""What every `cloudburst` subcommand shares: one-line usage errors, flag value types that say
what they accept, the checks of the files a command reads and writes, and the exit codes."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

EXIT_OK = 0
EXIT_FAILED = 1
"""Some prompts (or texts) ended in errors; every result is written all the same."""
EXIT_USAGE = 2
"""A usage or input mistake (a bad flag, a missing file), found before anything was sent."""
EXIT_SIGINT = 130
"""128 + the signal: 130 for SIGINT (Ctrl-C), 143 for SIGTERM."""
EXIT_CODES = f"""\
exit codes:
  {EXIT_OK}    every prompt succeeded
  {EXIT_FAILED}    some prompts ended in errors (the summary counts them by kind)
  {EXIT_USAGE}    a usage or input mistake, found before sending (a bad line is its own result)
  {EXIT_SIGINT}  interrupted by SIGINT (143: SIGTERM)
"""


class Parser(argparse.ArgumentParser):
    """A parser whose usage errors are one line, naming the command and where to read more
    (argparse's own repeat the whole usage first, which buries the mistake)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _number(kind: Callable[[str], float], test: Callable[[float], bool], what: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not test(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        return value

    parse.__name__ = what  # argparse names the type in its messages
    return parse


positive_int = _number(int, lambda v: v > 0, "a whole number above 0")
positive_float = _number(float, lambda v: v > 0, "a number above 0")
non_negative_float = _number(float, lambda v: v >= 0, "a number, 0 or more")
fraction = _number(float, lambda v: 0 <= v <= 1, "a share between 0 and 1")


def input_file(text: str) -> Path:
    """A file this process can read (an argparse type: a mistake is a one-line usage error)."""
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{path}: no such file")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a directory; give a JSONL file")
    if not os.access(path, os.R_OK):
        raise argparse.ArgumentTypeError(f"{path}: permission denied")
    return path


def output_file(text: str) -> Path:
    """A file that can be written: not a directory, in a folder that exists (an argparse type)."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a directory; name the file to write in it")
    folder = path.parent
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"the folder {folder} does not exist; create it first")
    if not os.access(folder, os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot write in {folder}: permission denied")
    return path


def report(message: str) -> None:
    """One line on stderr: what a person did wrong, or how the command ended."""
    print(message, file=sys.stderr)
