"""Rendering for the CLI: rich tables and progress for people, JSON for scripts, one-line errors."""

from __future__ import annotations

import json
import sys
from typing import Any, Iterable, Sequence

import typer
from rich.console import Console
from rich.table import Table

from ..errors import PhotojobsError

# Piped output (logs, cron mail, grep) gets wide lines instead of rich's default 80 columns,
# so file names and reasons are never cut or folded.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
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
    console.print(t)


def warn(message: str) -> None:
    err_console.print(f"[yellow]warning:[/yellow] {message}", soft_wrap=True)


def fail(message: str, code: int = 1) -> "typer.Exit":
    err_console.print(f"photojobs: error: {message}", soft_wrap=True, markup=False)
    return typer.Exit(code)


def error_exit(exc: PhotojobsError) -> int:
    err_console.print(f"photojobs: error: {exc.message}", soft_wrap=True, markup=False)
    return exc.exit_code
