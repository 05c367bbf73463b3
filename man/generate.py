#!/usr/bin/env python3
"""Regenerate the man pages from the Typer app (src/photojobs/man/*.1, installed, linked from man/ here)
and the README's exit-code table; `--check` only says whether they are up to date."""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGE_MAN = HERE.parent / "src" / "photojobs" / "man"
sys.path.insert(0, str(HERE.parent / "src"))

from photojobs.cli import _manpage  # noqa: E402

README = HERE.parent / "README.md"


def main() -> int:
    readme = README.read_text()
    current = _manpage.readme_with_exit_codes(readme)
    if "--check" in sys.argv[1:]:
        if current != readme:
            print(f"out of date: {README} (its exit codes)", file=sys.stderr)
        return max(_manpage.main(["--check", "--output", str(PACKAGE_MAN)]), int(current != readme))
    if current != readme:
        tmp = README.with_name(f".{README.name}.tmp")
        tmp.write_text(current)
        os.replace(tmp, README)
        print(f"wrote {README}")
    code = _manpage.main(["--output", str(PACKAGE_MAN)])
    # man/ holds links, so `man -l man/photojobs.1` works from a checkout; the files live in the package.
    wanted = {p.name for p in PACKAGE_MAN.glob("photojobs*.1")}
    for link in HERE.glob("photojobs*.1"):
        if link.name not in wanted:
            link.unlink()
    for name in sorted(wanted):
        link = HERE / name
        if not link.is_symlink():
            if link.exists():
                link.unlink()
            os.symlink(os.path.relpath(PACKAGE_MAN / name, HERE), link)
    return code


if __name__ == "__main__":
    sys.exit(main())
