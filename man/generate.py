#!/usr/bin/env python3
"""The one man-page generator: the pages in man/ and their copy installed with the package, and the README's exit-code table, from the Typer app."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))

from photojobs.cli import _manpage  # noqa: E402

README = ROOT / "README.md"
# man/ is what a checkout reads (`man -l man/photojobs.1`); the package ships a copy
# (package-data), so an installed photojobs has its pages too. One run writes both.
OUTPUTS = (HERE, ROOT / "src" / "photojobs" / "man")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python man/generate.py", description=__doc__)
    ap.add_argument("--output", type=Path, action="append",
                    help="write the pages only into this folder (repeatable); default: man/ and src/photojobs/man/")
    ap.add_argument("--check", action="store_true",
                    help="write nothing; exit 1 if a page or the README's exit codes are out of date")
    args = ap.parse_args(argv)
    outputs = [d.expanduser() for d in args.output] if args.output else list(OUTPUTS)
    generated = _manpage.pages()
    readme = README.read_text()
    current = _manpage.readme_with_exit_codes(readme)
    if args.check:
        stale = [d / name for d in outputs for name in _manpage.stale(d, generated)]
        if current != readme:
            stale.append(README)
        for path in stale:
            print(f"out of date: {path}", file=sys.stderr)
        return 1 if stale else 0
    if current != readme:
        tmp = README.with_name(f".{README.name}.tmp")
        tmp.write_text(current)
        os.replace(tmp, README)
        print(f"wrote {README}")
    for directory in outputs:
        for name in _manpage.write(directory, generated):
            print(f"wrote {directory / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
