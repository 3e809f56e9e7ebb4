"""`python -m codegen [--check]`: regenerate generated/ from specs/, or check it is up to date."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from codegen.errors import SpecError
from codegen.generate import check, generate

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codegen", description=__doc__)
    parser.add_argument("--specs", type=Path, default=ROOT / "specs")
    parser.add_argument("--out", type=Path, default=ROOT / "generated")
    parser.add_argument("--check", action="store_true", help="fail if --out differs from a fresh generation")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        changed = check(args.specs, args.out) if args.check else generate(args.specs, args.out)
    except SpecError as exc:
        print(f"spec error ({len(exc.problems)} problem(s)):\n{exc}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - started
    if args.check:
        if changed:
            print(f"{args.out} is stale; run `make generate`. Differing files:", file=sys.stderr)
            print("\n".join(f"  {path}" for path in changed), file=sys.stderr)
            return 1
        print(f"{args.out} is up to date ({elapsed:.2f}s)")
        return 0
    print(f"generated {len(changed)} changed file(s) in {elapsed:.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
