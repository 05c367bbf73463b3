"""Carrying out a Placement: the file copied (or moved) verified into the project and cataloged, the report told."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from photojobs.library import Library
from photojobs.storage.repos import photos as photos_repo

from .. import catalog
from ..filenames import Rules
from ..fileops import copy_verified, fsync_dir, move_within_filesystem
from ..shapes import display_name
from ..trash import NOT_REPLACED, REPLACED_BY_IMPORT, keep, move_to_trash, put_back
from .accepting import Candidate
from .planning import Action, Placement
from .report import ImportReport


class Touched(dict):
    """Photos this import added files to ({id: display name}), noting which were touched since
    they were last handed to processing (a photo can gain a file in a later group)."""

    def __init__(self) -> None:
        super().__init__()
        self.fresh: dict[int, str] = {}

    def __setitem__(self, photo_id: int, name: str) -> None:
        super().__setitem__(photo_id, name)
        self.fresh[photo_id] = name

    def take_fresh(self) -> dict[int, str]:
        fresh, self.fresh = self.fresh, {}
        return fresh


@dataclass
class ImportRun:
    """What every placement of one import shares: where the files go, how, and what it tells."""

    lib: Library
    project: Any                # the project's row (None: a dry run into a project not made yet)
    path: Path | None           # its folder
    rules: Rules
    report: ImportReport
    move: bool = False
    dry_run: bool = False
    on_bytes: Callable[[int], None] = lambda n: None
    touched: Touched = field(default_factory=Touched)


def place(run: ImportRun, p: Placement) -> None:
    """Carry out one placement. A CopyError (disk full, say) is the caller's to report."""
    cand, target, report = p.cand, p.target, run.report
    if p.action in (Action.SKIP, Action.TWIN):
        report.skipped.append({"name": cand.name, "path": cand.shown, "reason": p.reason or "skipped",
                               "identical": p.action is Action.TWIN})
        return
    if p.action is Action.SAME:
        report.skipped.append({"name": cand.name, "path": cand.shown, "reason": p.reason or "already in the project",
                               "identical": True})
        if run.dry_run:
            return
        if cand.role != "sidecar":
            photo = photos_repo.get_by_basename(run.lib.conn(), run.project["id"], p.basename)
            if photo is None or not photo[f"{cand.role}_available"]:
                _catalog(run, p, pair_before=None)
        _finish_move(run, cand, run.path / target)
        return
    if p.renamed:
        report.renamed.append({"name": cand.name, "as": target})
    if run.dry_run:
        if p.action is Action.OVERWRITE:
            report.overwritten.append(target)
        (report.sidecars if cand.role == "sidecar" else report.imported).append(target)
        return
    replaced = None
    if p.action is Action.OVERWRITE:
        try:
            replaced = move_to_trash(run.path, target, now=run.lib.now(), reason=REPLACED_BY_IMPORT)
        except FileNotFoundError:
            pass  # gone since we looked: there is nothing to replace
    existing = photos_repo.get_by_basename(run.lib.conn(), run.project["id"], p.basename)
    try:
        copied = move_within_filesystem(cand.path, run.path, target) if run.move else None
        if copied is not None:
            run.on_bytes(copied.size)
            report.moved_sources += 1
        else:
            copied = copy_verified(cand.path, run.path, target, on_bytes=run.on_bytes)
    except FileExistsError:
        # Someone put a file there since we looked; never overwrite it.
        why = f"{target} appeared in the project during the import"
        if replaced is not None and not _unreplaced(run, replaced, target):
            why += f"; the previous {target} is kept in .trash as {replaced}"
        report.skipped.append({"name": cand.name, "path": cand.shown, "reason": why, "identical": False})
        return
    except BaseException:
        if replaced is not None:
            _unreplaced(run, replaced, target)
        raise
    if replaced is not None:
        report.overwritten.append(target)
    report.bytes_copied += copied.size
    if cand.role == "sidecar":
        # No photo yet: the file stays in the folder; catalog.add_file attaches it when one arrives.
        catalog.add_sidecar(run.lib, run.project["id"], p.basename, target)
        report.sidecars.append(target)
    else:
        pair_before = None
        # Completed: the other half was in the project before this import, not just copied.
        if existing is not None and cand.role in ("jpg", "raw") and existing["id"] not in run.touched:
            other = "raw" if cand.role == "jpg" else "jpg"
            pair_before = bool(existing[f"{other}_available"]) and not existing[f"{cand.role}_available"]
        _catalog(run, p, pair_before=pair_before)
        report.imported.append(target)
    _finish_move(run, cand, run.path / target)


def _unreplaced(run: ImportRun, replaced: str, target: str) -> bool:
    """No new file took `target`'s place (disk full, or another file appeared there): the old
    one must not expire in .trash. It goes back (True), or, its name being taken, stays in the
    trash for good, until the photographer restores or deletes it."""
    if put_back(run.path, replaced, target):
        return True
    keep(run.path, replaced, target, now=run.lib.now(), reason=NOT_REPLACED)
    return False


def _catalog(run: ImportRun, p: Placement, pair_before: bool | None) -> None:
    photo = catalog.add_file(run.lib, run.project["id"], run.path, p.target, basename=p.basename,
                             role=p.cand.role, rules=run.rules, kind=p.cand.kind)
    run.touched[photo["id"]] = display_name(photo)
    if pair_before:
        run.report.completed_pairs.append(photo["basename"])


def _finish_move(run: ImportRun, cand: Candidate, placed: Path) -> None:
    """--move: drop the source only now that an identical copy is in the project."""
    if not run.move:
        return
    try:
        if os.path.samefile(cand.path, placed):
            return
        # The copy's name must be on disk before the source's removal can be: else a power cut
        # between the two could keep the unlink and lose the new directory entry.
        fsync_dir(placed.parent)
        os.unlink(cand.path)
        run.report.moved_sources += 1
    except FileNotFoundError:
        pass
    except OSError as exc:
        run.report.failed.append({"name": cand.name, "path": cand.shown,
                                  "reason": f"imported, but the source could not be removed: {exc.strerror}"})
