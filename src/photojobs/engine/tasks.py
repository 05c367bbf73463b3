"""Task chains: multi-step tasks whose next step is enqueued in the transaction that ends the last."""

from __future__ import annotations

import uuid
from typing import Iterable

from ..errors import PhotojobsError
from . import registry

# What the domain defined (when its handlers were loaded, see registry.load): the (job type,
# priority) of each step, and how a web client names the task and whether it shows it to the
# user (a background task is shown only on request).
TASKS: dict[str, tuple[tuple[str, int], ...]] = {}
LABELS: dict[str, tuple[str, bool]] = {}


def define(name: str, steps: Iterable[tuple[str, int]], *, label: str | None = None,
           user_relevant: bool = True) -> None:
    """Define task `name`: its steps (job type, priority), each queued when the one before it
    completes."""
    chain = tuple((str(t), int(p)) for t, p in steps)
    if not chain:
        raise ValueError(f"task {name} has no steps")
    TASKS[name] = chain
    LABELS[name] = (label or name, user_relevant)


def definitions() -> dict[str, dict]:
    """Every task: its label, whether it is user_relevant, and its steps with their priorities."""
    registry.load()
    out = {}
    for name, chain in TASKS.items():
        label, user_relevant = LABELS.get(name, (name, True))
        out[name] = {"label": label, "user_relevant": user_relevant,
                     "steps": [{"type": t, "priority": p} for t, p in chain]}
    return out


def new_task_id() -> str:
    return uuid.uuid4().hex


def steps(task_type: str) -> tuple[tuple[str, int], ...]:
    registry.load()
    try:
        return TASKS[task_type]
    except KeyError:
        raise PhotojobsError(f"unknown task type: {task_type} (one of {', '.join(TASKS)})") from None


def next_step(task_type: str | None, step: int | None) -> tuple[int, str, int] | None:
    """(index, type, priority) of the step after `step`, or None at the end of the chain."""
    registry.load()
    if not task_type or step is None or task_type not in TASKS:
        return None
    chain = TASKS[task_type]
    if step + 1 >= len(chain):
        return None
    job_type, priority = chain[step + 1]
    return step + 1, job_type, priority


def is_last_step(task_type: str, job_type: str | None) -> bool:
    """Whether a job of `job_type` ends a task of `task_type` (an unknown task: yes)."""
    registry.load()
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
