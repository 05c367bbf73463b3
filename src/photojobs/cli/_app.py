"""The `photojobs` command line: global options, command groups, and error handling in one place."""

from __future__ import annotations

import gc
import importlib
import re
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from .. import __version__
from ..errors import PhotojobsError, UsageError
from . import exit_codes
from ._render import console, error_exit, warn
from ._state import AppState


def _show_version(value: bool) -> None:
    if value:
        print(f"photojobs {__version__}")
        raise typer.Exit()


def _global(
    ctx: typer.Context,
    library: Annotated[Optional[Path], typer.Option(
        "--library", "-L", envvar="PHOTOJOBS_LIBRARY", help="Library folder (default: under the user data dir).")] = None,
    config: Annotated[Optional[Path], typer.Option(
        "--config", envvar="PHOTOJOBS_CONFIG", help="A config.json overlaid on the defaults.")] = None,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="Say more (repeatable).")] = 0,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="Say less: no progress bars or status lines (errors, warnings, tables and "
                              "--json output still print).")] = False,
    version: Annotated[bool, typer.Option(
        "--version", callback=_show_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    if verbose and quiet:
        raise UsageError("--verbose and --quiet contradict each other; give one")
    st = AppState(library_path=library, config_path=config, verbose=verbose, quiet=quiet)
    console.quiet = quiet   # one console per process: set (or reset) for every command
    ctx.obj = st
    ctx.call_on_close(st.close)
    for message in st.config.warnings:
        warn(message)


# The commands, in the order `photojobs --help` lists them: name -> (module of cli/, its
# attribute: a Typer group, or a command function whose help is the module's HELP if it has one,
# else its docstring). A command line imports only the module of the command it runs, so
# `photojobs upload` starts without the PostgreSQL driver, the HTTP client or the other
# commands' code (a third of a second less before any work begins).
COMMANDS: dict[str, tuple[str, str]] = {
    "project": ("project", "app"),
    "jobs": ("jobs", "app"),
    "scan": ("scan", "scan"),
    "process": ("process", "process"),
    "daemon": ("daemon", "app"),
    "upload": ("upload", "upload"),
    "photos": ("photos", "app"),
    "keep": ("culling", "keep"),
    "reject": ("culling", "reject"),
    "revert": ("culling", "revert"),
    "commit": ("culling", "commit"),
    "trash": ("trash", "app"),
    "maintenance": ("maintenance", "app"),
    "catalog": ("catalog", "app"),
    "demo": ("demo", "demo"),
}


def build_app(names: list[str] | None = None) -> typer.Typer:
    """The command line with the commands `names` (default: all of them)."""
    app = typer.Typer(
        name="photojobs",
        help="Import shoots, cull JPG+RAW pairs, and keep catalog and disk consistent.\n\n"
             "The options below may also follow the command: `photojobs jobs list -v` is `photojobs -v jobs list`.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
    )
    app.callback()(_global)
    for name in names or COMMANDS:
        module_name, attribute = COMMANDS[name]
        module = importlib.import_module(f"{__package__}.{module_name}")
        target = getattr(module, attribute)
        if isinstance(target, typer.Typer):
            app.add_typer(target, name=name)
        else:
            app.command(name, help=getattr(module, "HELP", None))(target)
    return app


def _command_at(argv: list[str]) -> int:
    """Where the command's name is in `argv`: after the global options typed before it."""
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        i += 1 + (argv[i] in _GLOBAL_WITH_VALUE)
    return i


def app_for(argv: list[str]) -> typer.Typer:
    """The command line for running `argv`: with only its command when it names one (no help on
    the whole command line, no typo to suggest a command for), else with all of them."""
    i = _command_at(argv)
    return build_app([argv[i]] if i < len(argv) and argv[i] in COMMANDS else None)


_VERBOSE = re.compile(r"-v+|--verbose")
_GLOBAL_FLAGS = re.compile(rf"{_VERBOSE.pattern}|-q|--quiet")
_GLOBAL_WITH_VALUE = ("-L", "--library", "--config")


def hoist_global_options(argv: list[str]) -> list[str]:
    """`argv` with the global options typed after the command moved in front of it, where the
    parser expects them: `photojobs jobs list -v` works as `photojobs -v jobs list` (as in
    git or beets). A command's own option of the same spelling, an option's value and
    anything after `--` stay where they are."""
    i = _command_at(argv)
    head = argv[:i]   # the options already before the command
    if not any(_GLOBAL_FLAGS.fullmatch(a) or a.split("=", 1)[0] in _GLOBAL_WITH_VALUE for a in argv[i:]):
        return argv   # the usual case; building the command tree to look closer costs 30 ms
    command, path = typer.main.get_command(app_for(argv)), []
    while i < len(argv) and argv[i] in (getattr(command, "commands", None) or {}):
        command = command.commands[argv[i]]
        path.append(argv[i])
        i += 1
    own = {flag: bool(getattr(p, "nargs", 0)) and not (getattr(p, "is_flag", False) or getattr(p, "count", False))
           for p in command.params if type(p).__name__.endswith("Option")
           for flag in [*p.opts, *p.secondary_opts]}
    moved, rest = [], []
    while i < len(argv):
        token, name = argv[i], argv[i].split("=", 1)[0]
        if token == "--":
            rest += argv[i:]
            break
        if name in own:   # the command's own option, with its value when it takes one
            n = 1 + (own[name] and "=" not in token)
            rest += argv[i:i + n]
        elif name in _GLOBAL_WITH_VALUE or _GLOBAL_FLAGS.fullmatch(token):
            n = 2 if token in _GLOBAL_WITH_VALUE else 1
            moved += argv[i:i + n]
        else:
            n = 1
            rest.append(token)
        i += n
    return [*head, *moved, *path, *rest]


def _freeze_startup() -> None:
    """Leave what the command's imports made (classes, functions, modules: alive until the exit)
    out of the garbage collector's passes: a full pass no longer walks them while the command
    runs, nor does the one at exit, which otherwise takes ~0.1 s to tear them down. Only in a
    process that is this one command: frozen objects are never collected, so a caller that runs
    commands in its own process (the tests) would keep whatever it held at that moment."""
    gc.freeze()


def main(argv: list[str] | None = None) -> int:
    """Entry point: run a command, turning library errors into one line and an exit code."""
    args = hoist_global_options(sys.argv[1:] if argv is None else list(argv))
    try:
        app = app_for(args)
        if argv is None:   # the process's own command line: it ends with this command
            _freeze_startup()
        app(args=args, prog_name="photojobs", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except PhotojobsError as exc:
        return error_exit(exc)
    except KeyboardInterrupt:
        print("photojobs: interrupted", file=sys.stderr)
        return exit_codes.INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - a bug still gets one line; -v shows where it was
        if isinstance(exc, OSError) and exc.filename is not None:
            # Not a bug: the disk said no (a read-only folder, a full disk). Say where and why.
            print(f"photojobs: error: {exc.filename}: {exc.strerror or exc}", file=sys.stderr)
            return exit_codes.ERROR
        if any(_VERBOSE.fullmatch(a) for a in args):
            import traceback
            traceback.print_exc()
        print(f"photojobs: internal error: {type(exc).__name__}: {exc} (run with -v for details)",
              file=sys.stderr)
        return exit_codes.INTERNAL
    return exit_codes.OK
