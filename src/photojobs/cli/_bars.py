"""The progress bars of _progress.bars: an import's copy and the jobs it started, laid out for 80 columns."""

from __future__ import annotations

import os

from rich.filesize import decimal
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TaskID, TextColumn
from rich.text import Text

from ._progress import doing, duration
from ._render import err_console


class _Detail(ProgressColumn):
    """What follows the bar: the time left first, then the current file, then sizes and speed,
    so a narrow terminal cuts the least useful part."""

    def render(self, task: Task) -> Text:
        parts = []
        left = task.time_remaining if task.total and not task.finished else None
        if left is not None:
            parts.append(f"{duration(left)} left")
        if task.fields.get("job"):
            parts.append(f"job {task.fields['job']}")
        if task.fields.get("file"):
            parts.append(task.fields["file"])
        if task.fields.get("bytes_total"):
            parts.append(f"{decimal(task.fields['bytes_done'])}/{decimal(task.fields['bytes_total'])}")
            if task.speed:
                parts.append(f"{decimal(int(task.speed))}/s")
        return Text("  ".join(parts), no_wrap=True, overflow="ellipsis")


class Bars:
    """One rich Progress for the copy and for every job whose events it hears. Thread-safe: job
    events come from runner threads while the copy reports from the main thread."""

    def __init__(self) -> None:
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(bar_width=20), _Detail(),
                                 console=err_console, transient=True)
        self._copy: TaskID | None = None
        self._jobs: dict[int, TaskID] = {}

    def copy(self, p) -> None:
        """The import's progress callback (photos.importing.ImportProgress). The bar counts bytes, so
        the time left follows the transfer; the line says which file is being copied."""
        if p.stage != "copy":
            return
        if self._copy is None:
            self._copy = self.progress.add_task("copying", total=None)
        name = os.path.basename(p.current) if p.current else ""
        self.progress.update(self._copy, description=f"copying {p.files_done}/{p.files_total}",
                             total=p.bytes_total or None, completed=p.bytes_done, file=name,
                             bytes_done=p.bytes_done, bytes_total=p.bytes_total)

    def copy_done(self) -> None:
        if self._copy is not None:
            self.progress.remove_task(self._copy)
            self._copy = None

    def on_event(self, event: dict) -> None:
        """A job event (engine.events envelope, or the daemon's stream mapped to one)."""
        if event.get("kind") != "job":
            return
        data = event.get("data") or {}
        jid = data["id"]
        done, failed, total = (data.get("progress_done") or 0, data.get("progress_failed") or 0,
                               data.get("progress_total") or 0)
        words = doing(data.get("job_type"))
        if total:
            words += f" {done + failed}/{total}"
        if failed:
            words += f", {failed} failed"
        if data.get("status") in ("queued", "failed", "canceled"):
            words += f" ({data['status']})"
        if jid not in self._jobs:
            self._jobs[jid] = self.progress.add_task(words, total=total or None, job=jid)
        self.progress.update(self._jobs[jid], description=words, completed=done + failed, total=total or None)

    def __enter__(self) -> "Bars":
        self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.__exit__(*exc)
