"""The `cloudburst` command's entry point. It lives outside the package so that Ctrl-C while the
package is still importing (about a second) is one line and exit code 130 too, not a traceback."""

from __future__ import annotations

import sys


def main() -> int:
    try:
        from cloudburst._cli import main as command
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return command()


if __name__ == "__main__":
    sys.exit(main())
