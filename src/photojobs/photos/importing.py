"""Import (upload): bring files into a project safely, pair JPG+RAW, catalog them, start processing.

The flow does not know who drives it: progress goes to a plain callback (the CLI draws rich
bars from it, the daemon forwards it), and the result is an ImportReport.
"""

from __future__ import annotations

import errno
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from photojobs.engine.feed import Feed
from photojobs.engine.queue import resolve_project
from photojobs.errors import PhotojobsError
from photojobs.library import Library
from photojobs.storage import atomic
from photojobs.storage.repos import job_items as items_repo
from photojobs.storage.repos import photos as photos_repo

from . import media
from .derivatives import needing_a_job
from .filenames import Rules, is_ignored, safe_name
from .fileops import CopyError, copy_verified, fsync_dir, move_within_filesystem, same_content
from .projects import get_or_create, project_to_dict
from .trash import REPLACED_BY_IMPORT, move_to_trash, put_back
from .writing import writes

DUPLICATE_POLICIES = ("skip", "overwrite", "rename")


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


@dataclass
class _Candidate:
    path: Path             # where to read it
    shown: str             # how to name it in messages (the source path, or the uploaded name)
    name: str              # the safe name it gets in the project
    basename: str
    role: str
    size: int = 0


@writes  # the folder watcher must not check (and postprocess) what the import is placing
def import_files(lib: Library, sources: list[Path], *, project: str | None = None, move: bool = False,
                 recursive: bool = True, on_duplicate: str = "skip", dry_run: bool = False,
                 source_names: dict[Path, str] | None = None,
                 progress: Callable[[ImportProgress], None] | None = None, source: str = "cli",
                 arriving: Iterable[tuple[Path, str | None]] | None = None,
                 on_job: Callable[[dict], None] | None = None) -> ImportReport:
    """Import files and folders into `project` (default: see `default_project_name`).

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
    check_sources([s for s in sources if s not in source_names])
    notify = progress or (lambda p: None)
    rules = Rules.from_config(lib.config)

    report = ImportReport(project=None, dry_run=dry_run)
    notify(ImportProgress("scan"))
    candidates = _collect(sources, recursive, rules, source_names, report) if arriving is None else []
    name = project
    if name is None:
        name, report.project_named_after = default_project_name(sources, candidates)

    conn = lib.conn()
    if arriving is not None:
        row = resolve_project(conn, name)
        report.project = project_to_dict(row)
    # Nothing acceptable (a mistyped card path, a folder of junk): report it without leaving
    # a new empty project behind.
    elif dry_run or not candidates:
        try:
            row = resolve_project(conn, name, note=lib.note)
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
    claimed: dict[tuple[str, str], tuple[str, _Candidate]] = {}
    disk_full = False
    try:
        for group in groups:
            plan = _plan_group(lib, row, path, group, on_duplicate, claimed) if not disk_full else [
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
        if feed is not None:
            # And what a killed import left without derivatives in this project.
            feed.add(needing_a_job(lib, row["id"]).items())
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


def _bytes(state: ImportProgress, n: int, notify: Callable[[ImportProgress], None]) -> None:
    state.bytes_done += n
    notify(state)


def check_sources(sources: list[Path]) -> None:
    """Refuse the whole import when a source is not there: a card that is not mounted (or a
    mistyped path) is the user's to fix, not a photo that was rejected."""
    for src in sources:
        if not os.path.lexists(src):
            what = "file" if Path(src).suffix else "folder"
            raise PhotojobsError(f"no such {what}: {src} (is the card mounted?)")


# DCIM and the numbered folders under it (DCF: three digits and five letters, 100CANON, 101MSDCF...).
_CAMERA_FOLDER = re.compile(r"DCIM|[1-9][0-9]{2}[0-9A-Z_]{5}", re.IGNORECASE)


def default_project_name(sources: list[Path], candidates: list[_Candidate]) -> tuple[str, str]:
    """(name, what it is named after) of the project an import without --project goes to: the
    first source's folder, unless that is a camera's folder (DCIM, 100CANON...), whose name
    says nothing about the shoot; then the shoot's date from EXIF ("2026-11-28", or a range),
    else the card's name (the volume label, the folder DCIM is in)."""
    first = sources[0].expanduser()
    folder = (first if first.is_dir() else first.parent).resolve()
    if not _CAMERA_FOLDER.fullmatch(folder.name):
        if not folder.name:
            raise PhotojobsError(f"cannot name a project after {first}; use --project")
        return folder.name, "the source folder"
    days = _shoot_days(candidates)
    if days:
        return (days[0] if len(days) == 1 else f"{days[0]} to {days[-1]}"), "the shoot's date"
    card = next((p for p in folder.parents if not _CAMERA_FOLDER.fullmatch(p.name)), None)
    if card is None or not card.name:
        raise PhotojobsError(f"cannot name a project after {first}: no shoot date in its photos; use --project")
    return card.name, "the card's name"


def _shoot_days(candidates: list[_Candidate]) -> list[str]:
    """The days (YYYY-MM-DD) the photos were taken, from the EXIF of each photo's JPG (else its
    other image, else its RAW): headers only, no pixel is decoded."""
    order = {role: n for n, role in enumerate(("jpg", "other", "raw"))}
    primary: dict[tuple[str, str], _Candidate] = {}
    for c in candidates:
        key = (c.basename.lower(), os.path.dirname(c.shown))
        if c.role in order and (key not in primary or order[c.role] < order[primary[key].role]):
            primary[key] = c
    days = set()
    for c in primary.values():
        try:
            taken = media.read_metadata(c.path)["date_time_original"]
        except OSError:
            continue
        if taken:
            days.add(taken[:10])
    return sorted(days)


# --- collecting and accepting ---------------------------------------------------------------

def _collect(sources: list[Path], recursive: bool, rules: Rules, source_names: dict[Path, str],
             report: ImportReport) -> list[_Candidate]:
    out: list[_Candidate] = []
    for src in sources:
        if src in source_names:
            out += _accept(src, source_names[src], source_names[src], rules, report)
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


@dataclass(frozen=True)
class _Refused:
    """Why a file is not imported; `ignored` when it is no photo at all, so nothing was lost."""
    reason: str
    ignored: bool = False


def _accepted_name(raw_name: str, rules: Rules) -> tuple[str, str, str] | _Refused:
    """(safe name, basename, role) if the name is usable and its extension accepted, else why not."""
    name = safe_name(raw_name)
    if name is None:
        return _Refused("unusable file name")
    basename, role = rules.classify(name)
    if role is None:
        ext = name.rpartition(".")[2] if "." in name else ""
        if media.role_of(ext) is None and ext.lower() not in rules.accepted:
            # Not a photo at all (a clip, a note, the camera's own files): nothing was lost.
            return _Refused(f"not a photo (.{ext})" if ext else "not a photo (no extension)", ignored=True)
        return _Refused(f"extension .{ext} is not accepted")
    return name, basename, role


def _accept(path: Path, shown: str, raw_name: str, rules: Rules, report: ImportReport) -> list[_Candidate]:
    """A candidate if the name is safe, the extension accepted and the content matches it."""
    accepted = _accepted_name(raw_name, rules)
    if isinstance(accepted, _Refused):
        (report.ignored if accepted.ignored else report.rejected).append(
            {"name": safe_name(raw_name) or raw_name, "path": shown, "reason": accepted.reason})
        return []
    name, basename, role = accepted
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


# --- planning by name (before an upload) -----------------------------------------------------

@dataclass
class PlannedFile:
    """What importing one file (known by name only) into a project would do."""

    name: str                  # as given
    basename: str              # of the photo it would belong to
    role: str
    action: str                # "copy" (a new file, or the missing half of a photo), "skip", "overwrite"
    target: str                # the name it would get in the project
    reason: str | None         # why it is skipped or renamed
    photo_exists: bool         # the photo is in the project already (this file completes or meets it)

    @property
    def conflict(self) -> bool:
        """It meets a file of the project: skipped, overwritten or renamed by the duplicate policy."""
        return self.action in ("skip", "overwrite") or (self.reason or "").startswith("renamed")


def plan_names(lib: Library, project: str | int, names: list[str], *,
               on_duplicate: str = "skip") -> tuple[list[PlannedFile], list[dict[str, str]]]:
    """What an import of files with these names would do, writing nothing: the same acceptance
    of names, pairing and duplicate policy as `import_files`, without the files' content, so a
    file that meets one already in the project counts as different (identical ones are found
    at the import). Returns (planned files, rejected {name, reason})."""
    if on_duplicate not in DUPLICATE_POLICIES:
        raise PhotojobsError(f"on_duplicate must be one of {', '.join(DUPLICATE_POLICIES)}, got {on_duplicate!r}")
    row = resolve_project(lib.conn(), project)
    path = lib.project_path(row["folder"])
    rules = Rules.from_config(lib.config)
    candidates, rejected = [], []
    for raw in names:
        accepted = _accepted_name(raw, rules)
        if isinstance(accepted, _Refused):
            rejected.append({"name": raw, "reason": accepted.reason})
            continue
        name, basename, role = accepted
        candidates.append(_Candidate(path=None, shown=raw, name=name, basename=basename, role=role))
    planned = []
    conn = lib.conn()
    claimed: dict[tuple[str, str], tuple[str, _Candidate]] = {}
    for group in _groups(candidates):
        for cand, action, target, why, basename in _plan_group(lib, row, path, group, on_duplicate, claimed):
            exists = photos_repo.get_by_basename(conn, row["id"], basename) is not None
            planned.append(PlannedFile(cand.shown, basename, cand.role, action, target, why, exists))
    return planned, rejected


# --- placing one file ---------------------------------------------------------------------

def _groups(candidates: list[_Candidate]) -> list[list[_Candidate]]:
    """Candidates that form one photo: same basename (any case) in the same source folder.
    Photo files come before sidecars so a sidecar finds its photo in the catalog.

    A photo has one JPG, one RAW and one other image, so a second file of a role (DSC1.JPG and
    dsc1.jpg, DSC1.jpg and DSC1.jpeg, or two names that become one) starts a group of its own,
    planned after the first: it then meets the first as a file of this very import."""
    groups: dict[tuple[str, str], list[_Candidate]] = {}
    for c in candidates:
        folder = os.path.dirname(c.shown) if c.shown != c.name else ""
        groups.setdefault((c.basename.lower(), folder), []).append(c)
    out = []
    for _, group in sorted(groups.items()):
        photos: list[list[_Candidate]] = [[]]
        for c in sorted(group, key=lambda c: (c.role == "sidecar", c.role, c.shown)):
            home = next((p for p in photos if not any(_same_slot(c, o) for o in p)), None)
            if home is None:
                photos.append(home := [])
            home.append(c)
        out += photos
    return out


def _same_slot(a: _Candidate, b: _Candidate) -> bool:
    """Whether two files of one photo would take the same place: its JPG, RAW or other image;
    for sidecars (a photo may have many), the same name."""
    return a.role == b.role and (a.role != "sidecar" or a.name == b.name)


def _plan_group(lib: Library, project: Any, path: Path | None, group: list[_Candidate], on_duplicate: str,
                claimed: dict[tuple[str, str], tuple[str, _Candidate]]) -> list[tuple[_Candidate, str, str, str | None, str]]:
    """(candidate, action, target name, reason, photo basename) for each file of a photo group.

    action: "copy", "same" (identical file already there), "skip" (conflict, policy skip),
    "overwrite" (conflict: old file to .trash, new one copied), "twin" (identical to a file
    this import brings in: skipped as a duplicate). A conflict on any file of the group applies
    the policy to the whole group: with "rename" every file gets a new basename, with "skip"
    nothing new is added to a photo that is evidently a different shot.

    `claimed` holds the files this import places (in a dry run, would place), by photo and
    role (sidecars by name), and is updated here. A file meeting one of them would be a second
    file of that photo: it is renamed with --on-duplicate rename and otherwise not copied,
    whatever the policy (overwriting a file of the same card makes no sense), so every file
    that lands in the project is one the catalog tracks."""
    conn = lib.conn()
    basename = next((c.basename for c in group if c.role == "jpg"), group[0].basename)
    existing = photos_repo.get_by_basename(conn, project["id"], basename) if project is not None else None
    status = []
    for c in group:
        target = _renamed(c, basename)
        twin = claimed.get(_claim(c, basename, target))
        current = twin[0] if twin else _current(path, existing, c, target)
        if current is None:
            status.append((c, "new", current, None))
        elif c.path is not None and same_content(c.path, twin[1].path if twin else path / current):
            status.append((c, "same", current, twin))  # (a path of None: known by name only, in plan_names)
        else:
            status.append((c, "conflict", current, twin))
    conflicts = [cur for _, st, cur, _ in status if st == "conflict"]
    twins = [c.name for c, st, _, twin in status if st == "conflict" and twin]
    plan = []
    if conflicts and on_duplicate == "rename":
        new_base = _free_basename(conn, project, path, basename, group, claimed)
        for c, st, cur, twin in status:
            why = "renamed with its photo"
            if st == "conflict":
                why = f"renamed: {_twin_clash(c, twin)}" if twin else f"renamed: a different {cur} is in the project"
            plan.append((c, "copy", _renamed(c, new_base), why, new_base))
    else:
        for c, st, cur, twin in status:
            target = _renamed(c, basename)
            if st == "same" and twin:
                plan.append((c, "twin", cur, f"same content as {twin[1].shown}, which this import brings in as {cur}",
                             basename))
            elif st == "same":
                plan.append((c, "same", cur, f"already in the project as {cur}", basename))
            elif twin:
                plan.append((c, "skip", target, _twin_clash(c, twin), basename))
            elif twins or (conflicts and on_duplicate == "skip"):
                why = (f"a different {cur} is already in the project" if st == "conflict"
                       else f"belongs with {', '.join(twins)}, which this import does not bring in" if twins
                       else f"belongs with {', '.join(conflicts)}, which differs from the project's")
                plan.append((c, "skip", target, why, basename))
            elif st == "conflict":
                plan.append((c, "overwrite", cur, None, basename))
            else:
                plan.append((c, "copy", target, None, basename))
    for c, action, target, _, base in plan:
        if action in ("copy", "overwrite", "same"):
            claimed[_claim(c, base, target)] = (target, c)
    return plan


def _claim(c: _Candidate, basename: str, target: str) -> tuple[str, str]:
    """What a placed file takes: its role in the photo the catalog knows by the lowercased
    basename; a sidecar, only its own name (a photo may have many)."""
    return (target, "sidecar") if c.role == "sidecar" else (basename.lower(), c.role)


def _twin_clash(c: _Candidate, twin: tuple[str, _Candidate]) -> str:
    """Why `c` cannot join the file `twin` this import already brings in."""
    other = twin[1]
    if c.name == other.name:
        return (f"{c.shown} and {other.shown} both become {c.name} in the project "
                "(names are kept in Unicode NFC form and to 240 bytes)")
    role = {"jpg": "JPG", "raw": "RAW"}.get(c.role, "other image")
    return (f"{other.shown} is photo {other.basename}'s {role} in this import; a photo has one {role}, "
            "and photo names ignore case and extension")


def _renamed(c: _Candidate, basename: str) -> str:
    return f"{basename}{c.name[len(c.basename):]}"


def _current(path: Path | None, existing: Any, c: _Candidate, name: str) -> str | None:
    """The project file this candidate would meet: the photo's file of the same role in the
    catalog, else a file of the same name on disk (not cataloged yet). Only files on disk
    count: a catalogued file that is gone (before manifest_check noticed) is no conflict, the
    new file takes its place."""
    if path is None:
        return None
    known = existing[f"{c.role}_name"] if c.role != "sidecar" and existing is not None else None
    if known and os.path.lexists(path / known):
        return known
    return name if os.path.lexists(path / name) else None


def _place(lib: Library, project: Any, path: Path | None, cand: _Candidate, action: str, target: str,
           why: str | None, basename: str, *, report: ImportReport, move: bool, dry_run: bool,
           touched: dict[int, str], on_bytes: Callable[[int], None]) -> None:
    if action in ("skip", "twin"):
        report.skipped.append({"name": cand.name, "path": cand.shown, "reason": why or "skipped",
                               "identical": action == "twin"})
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
        try:
            replaced = move_to_trash(path, target, now=lib.now(), reason=REPLACED_BY_IMPORT)
        except FileNotFoundError:
            pass  # gone since we looked: there is nothing to replace
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


def _free_basename(conn, project: Any, path: Path | None, basename: str, group: list[_Candidate],
                   claimed: dict[tuple[str, str], tuple[str, _Candidate]]) -> str:
    """`basename-1`, `-2`... the first that no photo, no file of this import and no file of the
    group uses yet (a dry run into a new project has only this import to go by)."""
    n = 1
    while True:
        candidate = f"{basename}-{n}"
        if not any((candidate.lower(), role) in claimed for role in photos_repo.ROLES) and (
                project is None or photos_repo.get_by_basename(conn, project["id"], candidate) is None) and (
                path is None or not any(os.path.lexists(path / _renamed(c, candidate)) for c in group)):
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
