"""An import from start to end: sources collected, each photo group planned and placed, its processing fed as photos land."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Callable, Iterable, Iterator

from photojobs.engine.feed import Feed
from photojobs.engine.queue import resolve_project
from photojobs.errors import PhotojobsError
from photojobs.library import Library

from ..derivatives import needing_a_job
from ..filenames import Rules, safe_name
from ..fileops import CopyError, fsync_dir
from ..projects import get_or_create, project_to_dict
from ..writing import writes
from .accepting import Candidate, accept, check_sources, collect
from .naming import default_project_name
from .placing import ImportRun, place
from .planning import Action, Claimed, check_policy, groups, not_tried, plan_group
from .report import ImportProgress, ImportReport


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
    check_policy(on_duplicate)
    if not sources and arriving is None:
        raise PhotojobsError("nothing to import: give at least one file or folder")
    sources = [Path(s) for s in sources]
    source_names = {Path(k): v for k, v in (source_names or {}).items()}
    check_sources([s for s in sources if s not in source_names])
    notify = progress or (lambda p: None)
    rules = Rules.from_config(lib.config)

    report = ImportReport(project=None, dry_run=dry_run)
    notify(ImportProgress("scan"))
    candidates = collect(sources, recursive, rules, source_names, report) if arriving is None else []
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

    def on_bytes(n: int) -> None:
        state.bytes_done += n
        notify(state)
    run = ImportRun(lib, row, path, rules, report, move=move, dry_run=dry_run, on_bytes=on_bytes)
    feed = Feed(lib, "upload_postprocess", row["id"], source=source, on_start=on_job,
                incremental=bool(lib.config.get("uploader.process_during_import", True))) \
        if row is not None and not dry_run else None
    photo_groups = groups(candidates) if arriving is None else _arriving_groups(arriving, rules, report, state, notify)
    claimed: Claimed = {}
    disk_full = False
    try:
        for group in photo_groups:
            plan = plan_group(lib, row, path, group, on_duplicate, claimed) if not disk_full else not_tried(group)
            for placement in plan:
                cand = placement.cand
                state.current = cand.shown
                notify(state)
                if placement.action is Action.FULL:
                    report.failed.append({"name": cand.name, "path": cand.shown, "reason": "not copied: the disk is full"})
                else:
                    try:
                        place(run, placement)
                    except CopyError as exc:
                        report.failed.append({"name": cand.name, "path": cand.shown, "reason": exc.strerror or str(exc)})
                        disk_full = exc.errno == errno.ENOSPC
                state.files_done += 1
                notify(state)
            if feed is not None:
                # The photo's files are verified in place and cataloged: process it now, while
                # the next ones copy.
                feed.add(run.touched.take_fresh().items())
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


def _arriving_groups(arriving: Iterable[tuple[Path, str | None]], rules: Rules, report: ImportReport,
                     state: ImportProgress, notify: Callable[[ImportProgress], None]) -> Iterator[list[Candidate]]:
    """Photo groups from files that arrive one by one (an upload still being received).

    Files of one photo come next to each other (file pickers sort by name), so a group is held
    until a file of another photo begins or the upload ends. A JPG and RAW far apart in the
    upload still become one photo (the later file joins the cataloged one), but each is then
    judged on its own under --on-duplicate."""
    held: list[Candidate] = []
    for path, name in arriving:
        if path is None:   # the next file begins: is it another photo?
            accepted = safe_name(name or "")
            key = rules.classify(accepted)[0].lower() if accepted else None
            if held and key != held[0].basename.lower():
                yield from groups(held)
                held = []
            continue
        for cand in accept(path, name, name, rules, report):
            state.files_total += 1
            state.bytes_total += cand.size
            notify(state)
            if held and cand.basename.lower() != held[0].basename.lower():
                yield from groups(held)
                held = []
            held.append(cand)
    if held:
        yield from groups(held)
