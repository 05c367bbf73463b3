"""The `photojobs` command line (cli/_app.py: global options, the commands, error handling).

Importing this package loads nothing else: the `photojobs` console script imports it, and every
derivative worker process runs that script again as it starts (so do all processes started by
multiprocessing's forkserver and spawn methods), where none of the command line is wanted.
"""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    """Entry point: run a command, turning library errors into one line and an exit code."""
    from ._app import main as run
    return run(argv)


def __getattr__(name: str):
    if name == "app":   # the whole command line, for whoever walks it (man pages, tests)
        from ._app import build_app
        return build_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
