"""The exit codes of every command: one table that the commands, the man page and the README read."""

from __future__ import annotations

from ..errors import ConfigError, NotFound, PhotojobsError, SchemaTooNew, UsageError, WrongLibrary

OK = 0
ERROR = 1
USAGE = 2
NOT_FOUND = 3
CATALOG_TOO_NEW = 4
PARTLY_DONE = 5
JOB_FAILED = 6
WRONG_LIBRARY = 7
INTERNAL = 70
INTERRUPTED = 130

# (code, meaning): `python man/generate.py` writes it into the man page's EXIT STATUS and
# into the README between its exit-codes markers.
TABLE: list[tuple[int, str]] = [
    (OK, "Success, or nothing to do (also work queued with --no-wait or handed to the daemon)."),
    (ERROR, "An error the one-line message explains (e.g. a commit not confirmed)."),
    (USAGE, "Bad usage (a missing or contradictory argument) or an invalid configuration file."),
    (NOT_FOUND, "Something named does not exist: a project, photo, trash entry, job, task or a running daemon."),
    (CATALOG_TOO_NEW, "The catalog was written by a newer photojobs."),
    (PARTLY_DONE, "Partly done: some files were rejected or stayed in the trash, or some photos failed "
                  "(the rest went through; the output names each one)."),
    (JOB_FAILED, "A job failed or was canceled (for a task: one of its steps); `photojobs jobs show ID` says why."),
    (WRONG_LIBRARY, "The catalog belongs to another library than the folder given (library ids differ): "
                     "a wrong --library or catalog.url, or a project folder copied in from another library."),
    (INTERNAL, "An internal error (a bug): run again with -v for the traceback."),
    (INTERRUPTED, "Interrupted (Ctrl-C). Ctrl-C in `jobs watch` exits 0."),
]

# The library raises typed errors; this is the one place that turns them into exit codes.
_BY_ERROR: tuple[tuple[type[PhotojobsError], int], ...] = (
    (UsageError, USAGE), (ConfigError, USAGE), (NotFound, NOT_FOUND), (SchemaTooNew, CATALOG_TOO_NEW),
    (WrongLibrary, WRONG_LIBRARY))


def for_error(exc: PhotojobsError) -> int:
    for cls, code in _BY_ERROR:
        if isinstance(exc, cls):
            return code
    return ERROR


def markdown() -> str:
    """The table as the README shows it."""
    rows = "\n".join(f"| {code} | {meaning} |" for code, meaning in TABLE)
    return f"| code | meaning |\n| --- | --- |\n{rows}\n"
