"""Options shared by many commands, declared once."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")]
WaitOpt = Annotated[Optional[bool], typer.Option(
    "--wait/--no-wait",
    help="Wait for the jobs to finish (default without a daemon: run them here, with progress).")]
ProjectArg = Annotated[str, typer.Argument(help="Project name or folder.", show_default=False)]
