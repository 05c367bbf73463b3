"""What an import tells: progress while it runs (ImportProgress) and the outcome per file (ImportReport)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from photojobs.library import Library
from photojobs.storage.repos import job_items as items_repo



@dataclass
class ImportProgress:
    """What the progress callback hears: a stage ("scan", "copy", "done") and counters."""

    stage: str
    files_done: int = 0
    files_total: int = 0
    bytes_done: int = 0
    bytes_total: int = 0
    current: str | None = None


@dataclass
class ImportReport:
    project: dict[str, Any] | None
    dry_run: bool = False
    imported: list[str] = field(default_factory=list)           # files now in the project
    completed_pairs: list[str] = field(default_factory=list)    # basenames whose JPG or RAW joined the other
    sidecars: list[str] = field(default_factory=list)
    # {name, path, reason, identical}: identical files already there, and different files
    # not imported because their name is taken (--on-duplicate skip)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    renamed: list[dict[str, str]] = field(default_factory=list)  # {name, as}
    overwritten: list[str] = field(default_factory=list)        # previous file went to .trash
    rejected: list[dict[str, str]] = field(default_factory=list)  # {name, path, reason}
    ignored: list[dict[str, str]] = field(default_factory=list)   # {name, path, reason}: not photos at all
    failed: list[dict[str, str]] = field(default_factory=list)    # {name, path, reason}
    moved_sources: int = 0
    bytes_copied: int = 0
    job: dict[str, Any] | None = None
    # Without --project: what the project's name was taken from ("the shoot's date"...).
    project_named_after: str | None = None

    @property
    def partly_done(self) -> bool:
        """Some files were rejected or failed; the rest were imported."""
        return bool(self.rejected or self.failed)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "partly_done": self.partly_done}


def processing_failures(lib: Library, task: dict[str, Any] | None) -> list[dict[str, str]]:
    """{name, reason} of each photo an import's processing could not make thumbnails and previews
    for: the failed items of its task (the outcome `engine.inline.outcome` gives)."""
    failed = []
    for job in (task or {}).get("jobs", []):
        if job["progress_failed"]:
            failed += [{"name": r["filename"], "reason": r["message"] or "failed"}
                       for r in items_repo.list_items(lib.conn(), job["id"], status="failed",
                                                      limit=job["progress_total"])]
    return failed
