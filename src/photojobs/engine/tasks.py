"""Task chains: multi-step tasks whose next step is enqueued in the transaction that ends the last."""

from __future__ import annotations

import uuid

from ..errors import PhotojobsError

# (job type, priority) per step, as the seed's task definitions.
TASKS: dict[str, tuple[tuple[str, int], ...]] = {
    "upload_postprocess": (("upload_postprocess", 90), ("manifest_check", 95), ("folder_check", 95)),
    "change_commit": (("file_removal", 100), ("manifest_check", 95), ("folder_check", 95),
                      ("manifest_cleaning", 80)),
    "maintenance": (("trash_maintenance", 100), ("manifest_check", 95), ("folder_check", 95),
                    ("manifest_cleaning", 80)),
}


# How a web client names each task, and whether it shows it to the user (the original's task
# definitions; maintenance runs in the background and is shown only on request).
LABELS: dict[str, tuple[str, bool]] = {
    "upload_postprocess": ("Upload Post-Process", True),
    "change_commit": ("Commit Changes", True),
    "maintenance": ("Maintenance", False),
}


def definitions() -> dict[str, dict]:
    """Every task: its label, whether it is user_relevant, and its steps with their priorities."""
    return {name: {"label": LABELS[name][0], "user_relevant": LABELS[name][1],
                   "steps": [{"type": t, "priority": p} for t, p in chain]}
            for name, chain in TASKS.items()}


def new_task_id() -> str:
    return uuid.uuid4().hex


def steps(task_type: str) -> tuple[tuple[str, int], ...]:
    try:
        return TASKS[task_type]
    except KeyError:
        raise PhotojobsError(f"unknown task type: {task_type} (one of {', '.join(TASKS)})") from None


def next_step(task_type: str | None, step: int | None) -> tuple[int, str, int] | None:
    """(index, type, priority) of the step after `step`, or None at the end of the chain."""
    if not task_type or step is None or task_type not in TASKS:
        return None
    chain = TASKS[task_type]
    if step + 1 >= len(chain):
        return None
    job_type, priority = chain[step + 1]
    return step + 1, job_type, priority


def is_last_step(task_type: str, job_type: str | None) -> bool:
    """Whether a job of `job_type` ends a task of `task_type` (an unknown task: yes)."""
    chain = TASKS.get(task_type)
    return chain is None or chain[-1][0] == job_type


def summarize(jobs: list[dict]) -> str:
    """A task's status from its jobs: failed/canceled if a step did, completed at the end."""
    if not jobs:
        return "unknown"
    statuses = [j["status"] for j in jobs]
    if "failed" in statuses:
        return "failed"
    if "canceled" in statuses:
        return "canceled"
    last = jobs[-1]
    if last["status"] == "completed" and next_step(last.get("task_type"), last.get("task_step")) is None:
        return "completed"
    return "running" if "running" in statuses or "completed" in statuses else "queued"
