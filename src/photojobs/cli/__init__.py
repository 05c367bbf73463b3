"""The `photojobs` command line: global options, command groups, and error handling in one place."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import PhotojobsError
from . import jobs, project
from . import scan as scan_cli
from . import process as process_cli
from . import daemon as daemon_cli
from . import culling, maintenance, photos, trash, upload
from . import catalog as catalog_cli
from . import demo as demo_cli
from ._render import error_exit, warn
from ._state import AppState

app = typer.Typer(
    name="photojobs",
    help="Import shoots, cull JPG+RAW pairs, and keep catalog and disk consistent.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _global(
    ctx: typer.Context,
    library: Annotated[Optional[Path], typer.Option(
        "--library", "-L", envvar="PHOTOJOBS_LIBRARY", help="Library folder (default: under the user data dir).")] = None,
    config: Annotated[Optional[Path], typer.Option(
        "--config", envvar="PHOTOJOBS_CONFIG", help="A config.json overlaid on the defaults.")] = None,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="Say more (repeatable).")] = 0,
) -> None:
    st = AppState(library_path=library, config_path=config, verbose=verbose)
    ctx.obj = st
    ctx.call_on_close(st.close)
    for message in st.config.warnings:
        warn(message)


app.add_typer(project.app, name="project")
app.add_typer(jobs.app, name="jobs")
app.command("scan")(scan_cli.scan)
app.command("process", help=process_cli.HELP)(process_cli.process)
app.add_typer(daemon_cli.app, name="daemon")
app.command("upload", help=upload.HELP)(upload.upload)
app.add_typer(photos.app, name="photos")
app.command("keep")(culling.keep)
app.command("revert")(culling.revert)
app.command("commit")(culling.commit)
app.add_typer(trash.app, name="trash")
app.add_typer(maintenance.app, name="maintenance")
app.add_typer(catalog_cli.app, name="catalog")
app.command("demo")(demo_cli.demo)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run a command, turning library errors into one line and an exit code."""
    try:
        app(args=argv, prog_name="photojobs", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except PhotojobsError as exc:
        return error_exit(exc)
    except KeyboardInterrupt:
        print("photojobs: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - a bug still gets one line; -v shows where it was
        if isinstance(exc, OSError) and exc.filename is not None:
            # Not a bug: the disk said no (a read-only folder, a full disk). Say where and why.
            print(f"photojobs: error: {exc.filename}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        if "-v" in (argv or sys.argv[1:]) or "--verbose" in (argv or sys.argv[1:]):
            import traceback
            traceback.print_exc()
        print(f"photojobs: internal error: {type(exc).__name__}: {exc} (run with -v for details)",
              file=sys.stderr)
        return 70
    return 0
