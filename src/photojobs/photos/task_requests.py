"""Starting a task by its name (the original web API's `{task_type, source, items}`): each through the flow that prepares it."""

from __future__ import annotations

from typing import Any

from photojobs.engine.queue import start_task
from photojobs.engine.tasks import steps
from photojobs.library import Library

from . import culling, maintenance


def start_named_task(lib: Library, project: str | int, task_type: str, *, items: list[str] | None = None,
                     source: str = "api") -> dict[str, Any] | None:
    """Start task `task_type` for `project`; returns its first job (None: nothing to do).

    A commit plans its items from the keep flags and maintenance runs its chain, as their own
    commands do; other tasks take `items` (photo basenames or file names) as their job items,
    or pick their photos when they run."""
    steps(task_type)  # an unknown task is the caller's error, whatever the flow
    if task_type == "change_commit":
        return culling.commit(lib, project, source=source)["job"]
    if task_type == "maintenance":
        return maintenance.start(lib, project, source=source)[0]
    return start_task(lib, task_type, project=project, source=source,
                      items=[(None, name) for name in items] if items else None)
