"""Rendering for the CLI: rich tables and progress for people, JSON for scripts, one-line errors."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any, Iterable, Sequence

import typer
from rich.console import Console
from rich.table import Table

from ..errors import PhotojobsError
from . import exit_codes

# Piped output (logs, cron mail, grep) gets wide lines instead of rich's default 80 columns,
# so file names and reasons are never cut or folded. `console` says what a command did and
# is silenced by --quiet; `out` prints what was asked for (tables, `show`), never silenced.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
out = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True, highlight=False)


def state(ctx: typer.Context):
    return ctx.find_root().obj


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None) -> None:
    t = Table(title=title, show_lines=False, header_style="bold")
    for c in columns:
        t.add_column(c, overflow="fold")  # wrap long values; never cut a file name or a reason
    for r in rows:
        t.add_row(*("" if v is None else str(v) for v in r))
    out.print(t)


def fields(pairs: Iterable[tuple[str, Any]], width: int = 16) -> None:
    """`key: value` lines, keys right-aligned (what `show` commands print)."""
    for key, value in pairs:
        out.print(f"{key:>{width}}: {'' if value is None else value}", markup=False, soft_wrap=True)


def human_size(n: int | None) -> str:
    """Bytes as people read them: 812 B, 24.3 MB (powers of 1000, as file managers count)."""
    if n is None:
        return ""
    if n < 1000:
        return f"{n} B"
    size = n / 1000
    for unit in ("kB", "MB", "GB"):
        if size < 1000:
            return f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"


def local_time(iso: str | None) -> str:
    """An ISO UTC time of the JSON output as the local wall clock, to the minute."""
    if not iso:
        return ""
    return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")


def warn(message: str) -> None:
    err_console.print(f"[yellow]warning:[/yellow] {message}", soft_wrap=True)


def note(message: str) -> None:
    """How photojobs understood the request (say, which project it chose), on stderr."""
    err_console.print(f"photojobs: {message}", soft_wrap=True, markup=False)


def fail(message: str, code: int = 1) -> "typer.Exit":
    err_console.print(f"photojobs: error: {message}", soft_wrap=True, markup=False)
    return typer.Exit(code)


def error_exit(exc: PhotojobsError) -> int:
    err_console.print(f"photojobs: error: {exc.message}", soft_wrap=True, markup=False)
    return exit_codes.for_error(exc)
