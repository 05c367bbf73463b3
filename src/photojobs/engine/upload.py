"""Import (upload): bring files into a project safely, pair JPG+RAW, catalog them, start processing.

The flow does not know who drives it: progress goes to a plain callback (the CLI draws rich
bars from it, the daemon forwards it), and the result is an ImportReport.
"""

from __future__ import annotations

import errno
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from ..errors import PhotojobsError
from ..storage import atomic
from ..storage.repos import photos as photos_repo
from . import media
from .fileops import CopyError, copy_verified, fsync_dir, move_within_filesystem, same_content
from .library import Library
from .media_scan import Rules, is_ignored, safe_name
from .projects import get_or_create, project_to_dict
from .feed import Feed
from .queue import resolve_project
from .trash import move_to_trash, put_back

DUPLICATE_POLICIES = ("skip", "overwrite", "rename")
EXIT_OK = 0
EXIT_SOME_FILES = 5   # some files were rejected or failed; the rest were imported


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
    failed: list[dict[str, str]] = field(default_factory=list)    # {name, path, reason}
    moved_sources: int = 0
    bytes_copied: int = 0
    job: dict[str, Any] | None = None

    @property
    def exit_code(self) -> int:
        return EXIT_SOME_FILES if self.rejected or self.failed else EXIT_OK

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "exit_code": self.exit_code}


@dataclass
class _Candidate:
    path: Path             # where to read it
    shown: str             # how to name it in messages (the source path, or the uploaded name)
    name: str              # the safe name it gets in the project
    basename: str
    role: str
    size: int = 0


def import_files(lib: Library, sources: list[Path], *, project: str | None = None, move: bool = False,
                 recursive: bool = True, on_duplicate: str = "skip", dry_run: bool = False,
                 source_names: dict[Path, str] | None = None,
                 progress: Callable[[ImportProgress], None] | None = None, source: str = "cli",
                 arriving: Iterable[tuple[Path, str | None]] | None = None,
                 on_job: Callable[[dict], None] | None = None) -> ImportReport:
    """Import files and folders into `project` (default: named after the first source folder).

    Every accepted file (extension AND content) is copied verified into the project, then
    cataloged; a JPG and a RAW of the same basename are one photo. `source_names` maps a path
    to the (untrusted) name it should have, for the daemon's uploaded temp files. Rejections
    and failures are reported per file and never stop the rest of the batch (a full disk
    does: every later copy would fail too).

    The upload_postprocess task starts with the first photo in place and is given each next
    one as it lands (uploader.process_during_import; else it starts at the end with all of
    them); `on_job(job)` hears when it is queued. `arriving` imports files while they are
    still being received, into an existing `project`: (path, name) once a file is whole,
    (None, name) when the next one begins (see _arriving_groups)."""
    if on_duplicate not in DUPLICATE_POLICIES:
        raise PhotojobsError(f"--on-duplicate must be one of {', '.join(DUPLICATE_POLICIES)}, got {on_duplicate!r}")
    if not sources and arriving is None:
        raise PhotojobsError("nothing to import: give at least one file or folder")
    sources = [Path(s) for s in sources]
    source_names = {Path(k): v for k, v in (source_names or {}).items()}
    notify = progress or (lambda p: None)
    rules = Rules.from_config(lib.config)

    name = project or _default_project_name(sources)
    report = ImportReport(project=None, dry_run=dry_run)
    notify(ImportProgress("scan"))
    candidates = _collect(sources, recursive, rules, source_names, report) if arriving is None else []

    conn = lib.conn()
    if arriving is not None:
        row = resolve_project(conn, name)
        report.project = project_to_dict(row)
    # Nothing acceptable (a mistyped card path, a folder of junk): report it without leaving
    # a new empty project behind.
    elif dry_run or not candidates:
        try:
            row = resolve_project(conn, name)
        except PhotojobsError:
            row = None
        report.project = project_to_dict(row) if row is not None else {"name": name, "folder": None, "new": True}
    else:
        row = get_or_create(lib, name)
        report.project = project_to_dict(row)
    path = lib.project_path(row["folder"]) if row is not None else None

    total_bytes = sum(c.size for c in candidates)
    state = ImportProgress("copy", files_total=len(candidates), bytes_total=total_bytes)
    notify(state)
    touched = _Touched()
    feed = Feed(lib, "upload_postprocess", row["id"], source=source, on_start=on_job,
                incremental=bool(lib.config.get("uploader.process_during_import", True))) \
        if row is not None and not dry_run else None
    groups = _groups(candidates) if arriving is None else _arriving_groups(arriving, rules, report, state, notify)
    disk_full = False
    try:
        for group in groups:
            plan = _plan_group(lib, row, path, group, on_duplicate) if not disk_full else [
                (c, "full", c.name, None, c.basename) for c in group]
            for cand, action, target, why, basename in plan:
                state.current = cand.shown
                notify(state)
                if disk_full:
                    report.failed.append({"name": cand.name, "path": cand.shown, "reason": "not copied: the disk is full"})
                else:
                    try:
                        _place(lib, row, path, cand, action, target, why, basename, report=report, move=move,
                               dry_run=dry_run,
                               touched=touched, on_bytes=lambda n: _bytes(state, n, notify))
                    except CopyError as exc:
                        report.failed.append({"name": cand.name, "path": cand.shown, "reason": exc.strerror or str(exc)})
                        disk_full = exc.errno == errno.ENOSPC
                state.files_done += 1
                notify(state)
            if feed is not None:
                # The photo's files are verified in place and cataloged: process it now, while
                # the next ones copy.
                feed.add(touched.take_fresh().items())
    finally:
        # Also when the import is interrupted: what was given is processed, nothing waits forever.
        if feed is not None:
            report.job = feed.close()
    if path is not None and not dry_run:
        fsync_dir(path)
    state.stage, state.current = "done", None
    notify(state)
    return report


class _Touched(dict):
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


def _arriving_groups(arriving: Iterable[tuple[Path, str | None]], rules: Rules, report: ImportReport,
                     state: ImportProgress, notify: Callable[[ImportProgress], None]) -> Iterator[list[_Candidate]]:
    """Photo groups from files that arrive one by one (an upload still being received).

    Files of one photo come next to each other (file pickers sort by name), so a group is held
    until a file of another photo begins or the upload ends. A JPG and RAW far apart in the
    upload still become one photo (the later file joins the cataloged one), but each is then
    judged on its own under --on-duplicate."""
    held: list[_Candidate] = []
    for path, name in arriving:
        if path is None:   # the next file begins: is it another photo?
            accepted = safe_name(name or "")
            key = rules.classify(accepted)[0].lower() if accepted else None
            if held and key != held[0].basename.lower():
                yield from _groups(held)
                held = []
            continue
        for cand in _accept(path, name, name, rules, report):
            state.files_total += 1
            state.bytes_total += cand.size
            notify(state)
            if held and cand.basename.lower() != held[0].basename.lower():
                yield from _groups(held)
                held = []
            held.append(cand)
    if held:
        yield from _groups(held)


def _bytes(state: ImportProgress, n: int, notify: Callable[[ImportProgress], None]) -> None:
    state.bytes_done += n
    notify(state)


def _default_project_name(sources: list[Path]) -> str:
    first = sources[0].expanduser()
    folder = first if first.is_dir() else first.parent
    name = folder.resolve().name
    if not name:
        raise PhotojobsError(f"cannot name a project after {first}; use --project")
    return name


# --- collecting and accepting ---------------------------------------------------------------

def _collect(sources: list[Path], recursive: bool, rules: Rules, source_names: dict[Path, str],
             report: ImportReport) -> list[_Candidate]:
    out: list[_Candidate] = []
    for src in sources:
        if src in source_names:
            out += _accept(src, source_names[src], source_names[src], rules, report)
            continue
        if not os.path.lexists(src):
            report.rejected.append({"name": src.name, "path": str(src), "reason": "no such file or folder"})
            continue
        if src.is_dir():
            for file in _walk(src, recursive, report):
                out += _accept(file, str(file), file.name, rules, report)
        else:
            out += _accept(src, str(src), src.name, rules, report)
    return out


def _walk(root: Path, recursive: bool, report: ImportReport) -> Iterator[Path]:
    """Files under `root`, hidden ones skipped; symlinks only when they stay inside `root`,
    symlinked folders never entered (no escape, no loops)."""
    real_root = root.resolve()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            report.rejected.append({"name": folder.name, "path": str(folder),
                                    "reason": f"cannot read folder: {exc.strerror}"})
            continue
        for entry in entries:
            if is_ignored(entry.name):
                continue
            p = Path(entry.path)
            if entry.is_symlink():
                target = p.resolve()
                if not target.is_relative_to(real_root):
                    report.rejected.append({"name": entry.name, "path": str(p),
                                            "reason": "symlink leads outside the imported folder"})
                    continue
                if not target.exists():
                    report.rejected.append({"name": entry.name, "path": str(p),
                                            "reason": "unreadable: broken symlink"})
                elif target.is_file():
                    yield p
                continue
            if entry.is_dir(follow_symlinks=False):
                if recursive:
                    stack.append(p)
            elif entry.is_file(follow_symlinks=False):
                yield p


def _accept(path: Path, shown: str, raw_name: str, rules: Rules, report: ImportReport) -> list[_Candidate]:
    """A candidate if the name is safe, the extension accepted and the content matches it."""
    name = safe_name(raw_name)
    if name is None:
        report.rejected.append({"name": raw_name, "path": shown, "reason": "unusable file name"})
        return []
    basename, role = rules.classify(name)
    if role is None:
        ext = name.rpartition(".")[2] if "." in name else ""
        report.rejected.append({"name": name, "path": shown,
                                "reason": f"extension .{ext} is not accepted" if ext else "no file extension"})
        return []
    try:
        size = os.stat(path).st_size
        kind = media.sniff(path) if role != "sidecar" else None
    except OSError as exc:
        report.rejected.append({"name": name, "path": shown, "reason": f"unreadable: {exc.strerror}"})
        return []
    if role != "sidecar":
        if size == 0:
            report.rejected.append({"name": name, "path": shown, "reason": "empty file"})
            return []
        if not media.content_matches(name.rpartition(".")[2], kind):
            looks = f"looks like {kind.upper()}" if kind else "not a recognised image format"
            report.rejected.append({"name": name, "path": shown,
                                    "reason": f"content does not match .{name.rpartition('.')[2]} ({looks})"})
            return []
    return [_Candidate(path=path, shown=shown, name=name, basename=basename, role=role, size=size)]


# --- placing one file ---------------------------------------------------------------------

def _groups(candidates: list[_Candidate]) -> list[list[_Candidate]]:
    """Candidates that form one photo: same basename (any case) in the same source folder.
    Photo files come before sidecars so a sidecar finds its photo in the catalog."""
    groups: dict[tuple[str, str], list[_Candidate]] = {}
    for c in candidates:
        folder = os.path.dirname(c.shown) if c.shown != c.name else ""
        groups.setdefault((c.basename.lower(), folder), []).append(c)
    return [sorted(g, key=lambda c: (c.role == "sidecar", c.role, c.shown))
            for _, g in sorted(groups.items())]


def _plan_group(lib: Library, project: Any, path: Path | None, group: list[_Candidate],
                on_duplicate: str) -> list[tuple[_Candidate, str, str, str | None, str]]:
    """(candidate, action, target name, reason, photo basename) for each file of a photo group.

    action: "copy", "same" (identical file already there), "skip" (conflict, policy skip),
    "overwrite" (conflict: old file to .trash, new one copied). A conflict on any file of the
    group applies the policy to the whole group: with "rename" every file gets a new basename,
    with "skip" nothing new is added to a photo that is evidently a different shot."""
    conn = lib.conn()
    basename = next((c.basename for c in group if c.role == "jpg"), group[0].basename)
    existing = photos_repo.get_by_basename(conn, project["id"], basename) if project is not None else None
    status = []
    for c in group:
        current = _current(path, existing, c, _renamed(c, basename))
        if current is None:
            status.append((c, "new", current))
        elif same_content(c.path, path / current):
            status.append((c, "same", current))
        else:
            status.append((c, "conflict", current))
    conflicts = [cur for _, st, cur in status if st == "conflict"]
    plan = []
    if conflicts and on_duplicate == "rename":
        new_base = _free_basename(conn, project["id"], path, basename, group)
        for c, st, cur in status:
            plan.append((c, "copy", _renamed(c, new_base), f"renamed: a different {cur} is in the project"
                         if st == "conflict" else "renamed with its photo", new_base))
        return plan
    for c, st, cur in status:
        target = _renamed(c, basename)
        if st == "same":
            plan.append((c, "same", cur, f"already in the project as {cur}", basename))
        elif conflicts and on_duplicate == "skip":
            why = (f"a different {cur} is already in the project" if st == "conflict"
                   else f"belongs with {', '.join(conflicts)}, which differs from the project's")
            plan.append((c, "skip", target, why, basename))
        elif st == "conflict":
            plan.append((c, "overwrite", cur, None, basename))
        else:
            plan.append((c, "copy", target, None, basename))
    return plan


def _renamed(c: _Candidate, basename: str) -> str:
    return f"{basename}{c.name[len(c.basename):]}"


def _current(path: Path | None, existing: Any, c: _Candidate, name: str) -> str | None:
    """The project file this candidate would meet: the photo's file of the same role in the
    catalog, else a file of the same name on disk (not cataloged yet)."""
    if path is None:
        return None
    if c.role != "sidecar" and existing is not None and existing[f"{c.role}_available"] and existing[f"{c.role}_name"]:
        return existing[f"{c.role}_name"]
    return name if os.path.lexists(path / name) else None


def _place(lib: Library, project: Any, path: Path | None, cand: _Candidate, action: str, target: str,
           why: str | None, basename: str, *, report: ImportReport, move: bool, dry_run: bool,
           touched: dict[int, str], on_bytes: Callable[[int], None]) -> None:
    if action == "skip":
        report.skipped.append({"name": cand.name, "path": cand.shown, "reason": why or "skipped", "identical": False})
        return
    if action == "same":
        report.skipped.append({"name": cand.name, "path": cand.shown, "reason": why or "already in the project",
                               "identical": True})
        if dry_run:
            return
        if cand.role != "sidecar":
            photo = photos_repo.get_by_basename(lib.conn(), project["id"], basename)
            if photo is None or not photo[f"{cand.role}_available"]:
                _catalog(lib, project, path, basename, cand.role, target, touched, report, pair_before=None)
        _finish_move(cand, path / target, move, report)
        return
    if why and why.startswith("renamed"):
        report.renamed.append({"name": cand.name, "as": target})
    if dry_run:
        if action == "overwrite":
            report.overwritten.append(target)
        (report.sidecars if cand.role == "sidecar" else report.imported).append(target)
        return
    replaced = None
    if action == "overwrite":
        replaced = move_to_trash(path, target, now=lib.now(), reason="replaced by import (--on-duplicate overwrite)")
    existing = photos_repo.get_by_basename(lib.conn(), project["id"], basename)
    try:
        copied = move_within_filesystem(cand.path, path, target) if move else None
        if copied is not None:
            on_bytes(copied.size)
            report.moved_sources += 1
        else:
            copied = copy_verified(cand.path, path, target, on_bytes=on_bytes)
    except FileExistsError:
        # Someone put a file there since we looked; never overwrite it.
        report.skipped.append({"name": cand.name, "path": cand.shown,
                               "reason": f"{target} appeared in the project during the import", "identical": False})
        if replaced is not None:
            report.overwritten.append(target)  # the old file is in .trash all the same
        return
    except BaseException:
        # No replacement arrived (disk full, say): the old file goes back, it must not expire in .trash.
        if replaced is not None:
            put_back(path, replaced, target)
        raise
    if replaced is not None:
        report.overwritten.append(target)
    report.bytes_copied += copied.size
    if cand.role == "sidecar":
        _attach_sidecar(lib, project, basename, target)
        report.sidecars.append(target)
    else:
        pair_before = None
        # Completed: the other half was in the project before this import, not just copied.
        if existing is not None and cand.role in ("jpg", "raw") and existing["id"] not in touched:
            other = "raw" if cand.role == "jpg" else "jpg"
            pair_before = bool(existing[f"{other}_available"]) and not existing[f"{cand.role}_available"]
        _catalog(lib, project, path, basename, cand.role, target, touched, report, pair_before=pair_before)
        report.imported.append(target)
    _finish_move(cand, path / target, move, report)


def _catalog(lib: Library, project: Any, path: Path, basename: str, role: str, name: str,
             touched: dict[int, str], report: ImportReport, pair_before: bool | None) -> None:
    try:
        meta = media.read_metadata(path / name)
    except OSError:
        meta = None
    conn = lib.conn()
    with atomic(conn):
        photo = photos_repo.add_file(conn, project["id"], basename=basename, role=role, name=name, meta=meta,
                                     now=lib.now(), keep=True)
        sidecars = [s for s in _sidecars_on_disk(path, basename, lib) if s not in json.loads(photo["sidecars"])]
        if sidecars:
            photos_repo.set_sidecars(conn, photo["id"], [*json.loads(photo["sidecars"]), *sidecars], lib.now())
    touched[photo["id"]] = photos_repo.display_name(photo)
    if pair_before:
        report.completed_pairs.append(photo["basename"])


def _sidecars_on_disk(path: Path, basename: str, lib: Library) -> list[str]:
    # Only the exact names a sidecar of this photo can have: no folder listing per file.
    rules = Rules.from_config(lib.config)
    out = []
    for ext in sorted(rules.sidecars):
        for candidate in (f"{basename}.{ext}", f"{basename}.{ext.upper()}"):
            if os.path.isfile(path / candidate):
                out.append(candidate)
    return out


def _attach_sidecar(lib: Library, project: Any, basename: str, name: str) -> None:
    conn = lib.conn()
    with atomic(conn):
        photo = photos_repo.get_by_basename(conn, project["id"], basename)
        if photo is not None:
            sidecars = json.loads(photo["sidecars"] or "[]")
            if name not in sidecars:
                photos_repo.set_sidecars(conn, photo["id"], [*sidecars, name], lib.now())
        # No photo yet: the file stays in the folder; manifest_check attaches it when one arrives.


def _free_basename(conn, project_id: int, path: Path, basename: str, group: list[_Candidate]) -> str:
    """`basename-1`, `-2`... the first that no photo and no file of the group uses yet."""
    n = 1
    while True:
        candidate = f"{basename}-{n}"
        if photos_repo.get_by_basename(conn, project_id, candidate) is None and not any(
                os.path.lexists(path / _renamed(c, candidate)) for c in group):
            return candidate
        n += 1


def _finish_move(cand: _Candidate, placed: Path, move: bool, report: ImportReport) -> None:
    """--move: drop the source only now that an identical copy is in the project."""
    if not move:
        return
    try:
        if os.path.samefile(cand.path, placed):
            return
        # The copy's name must be on disk before the source's removal can be: else a power cut
        # between the two could keep the unlink and lose the new directory entry.
        fsync_dir(placed.parent)
        os.unlink(cand.path)
        report.moved_sources += 1
    except FileNotFoundError:
        pass
    except OSError as exc:
        report.failed.append({"name": cand.name, "path": cand.shown,
                              "reason": f"imported, but the source could not be removed: {exc.strerror}"})
