"""Regenerate the committed golden vectors: ``python -m fmtlib.testing.regenerate --why "reason"``.

Run it from the repository root. It makes every set of
:func:`fmtlib.testing.golden_sets.catalogue` with this fmtlib, rewrites only the sets that
are new or differ from the committed ones (under ``tests/vectors/``), updates
``tests/vectors/index.json`` and appends a dated entry naming the changed sets and the
reason to ``CHANGELOG.md``. It refuses to run without a reason. ``--check`` only reports
what would change (exit status 1 if anything would).

>>> main(["--why", "  ", "--dir", "."])      # prints why it refuses on stderr
2
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .golden import regenerate


def main(argv: list[str] | None = None) -> int:
    """The command line; returns the exit status."""
    p = argparse.ArgumentParser(prog="python -m fmtlib.testing.regenerate", description=__doc__.split("\n\n")[1])
    p.add_argument("--why", default=None, help="the reason, written to the changelog (required unless --check)")
    p.add_argument("--dir", default="tests/vectors", help="the vector directory (default: tests/vectors)")
    p.add_argument("--changelog", default="CHANGELOG.md", help="the changelog (default: CHANGELOG.md)")
    p.add_argument("--check", action="store_true", help="only report which sets would change; exit 1 if any")
    args = p.parse_args(argv)
    if not Path(args.dir).is_dir():
        print(f"no vector directory {args.dir}: run from the repository root or pass --dir", file=sys.stderr)
        return 2
    if args.check:
        r = regenerate(args.dir, args.changelog, "check", dry_run=True)
        return 1 if any(r.values()) else 0
    if not args.why or not args.why.strip():
        print('refusing to regenerate the golden vectors without a reason: pass --why "what changed and why"',
              file=sys.stderr)
        return 2
    regenerate(args.dir, args.changelog, args.why)
    return 0


if __name__ == "__main__":
    sys.exit(main())
