"""Progress bars on stderr: an import's copy and the jobs it started, said in words (the bars are
drawn by _bars.Bars, imported only when they are shown)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

from ._render import err_console
from ._state import current_state

if TYPE_CHECKING:
    from ._bars import Bars

# What a job of each type is doing, in the photographer's words (the id is shown beside it
# for `photojobs jobs show`).
DOING = {
    "upload_postprocess": "making previews",
    "generate_derivatives": "making previews",
    "manifest_check": "checking files",
    "folder_check": "looking for new files",
    "file_removal": "moving to .trash",
    "trash_maintenance": "emptying old trash",
    "manifest_cleaning": "tidying the catalog",
}


def doing(job_type: str | None) -> str:
    return DOING.get(job_type or "", job_type or "working")


def duration(seconds: float | None) -> str:
    """0:07, 1:02:03; "" when unknown."""
    if seconds is None:
        return ""
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


@contextmanager
def bars(enabled: bool = True) -> Iterator[Bars | None]:
    """Bars on stderr when it is a terminal, `enabled` and not --quiet; else None."""
    if not enabled or not err_console.is_terminal or getattr(current_state(), "quiet", False):
        yield None
        return
    from ._bars import Bars   # rich's progress display is imported only when it is shown
    with Bars() as b:
        yield b
