"""Care of the catalog file: refuse a lost or damaged one, check it, back it up daily, rebuild it from the folders."""

from __future__ import annotations

import calendar
import logging
import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from photojobs.config import Config
from photojobs.errors import CatalogError, NotFound, PhotojobsError
from photojobs.library import Library
from photojobs.library_guard import CATALOG_DIR, MARKER, catalog_path, counted, marked_folders, read_marker
from photojobs.storage import atomic, catalog_url, health, open_catalog
from photojobs.storage import migrations
from photojobs.storage.repos import photos as photos_repo
from photojobs.storage.repos import projects as projects_repo

from .fileops import fsync_dir, place_no_replace
from .projects import validate_name

log = logging.getLogger("photojobs.catalog")

BACKUP_DIR = "backups"
BACKUP_INTERVAL_SECONDS = 24 * 3600
_STAMP = "%Y%m%d-%H%M%S"   # UTC, so a daylight-saving change neither repeats nor skips one
_BACKUP_NAME = re.compile(r"^catalog-(\d{8}-\d{6})\.db$")


def backups_dir(root: Path) -> Path:
    return Path(root) / CATALOG_DIR / BACKUP_DIR


# --- check ---------------------------------------------------------------------------------

@dataclass
class CheckReport:
    catalog: str
    state: str                      # ok | empty | lost | damaged | missing
    problems: list[str] = field(default_factory=list)
    projects: int = 0
    photos: int = 0
    unlisted_folders: list[str] = field(default_factory=list)   # marked folders the catalog lacks
    backups: list[str] = field(default_factory=list)             # newest first
    backend: str = "sqlite"                                      # sqlite | postgresql
    schema: str | None = None                                    # the newest migration applied (a server)

    @property
    def ok(self) -> bool:
        return self.state in ("ok", "empty", "missing")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def check(root: Path, config: Config | None = None) -> CheckReport:
    """The catalog's full integrity check (every page and index, foreign keys), its projects
    against the marked folders, and the backups there are. Reads only; writes nothing.
    A catalog on a PostgreSQL server (catalog.url): that it answers, its schema version, and
    its projects against the folders; its integrity and backups are the server's business."""
    root = Path(root)
    url = catalog_url(config.get("catalog.url") if config is not None else None)
    if url:
        return _check_server(root, url, config)
    path = catalog_path(root)
    folders = marked_folders(root)
    if not (root / CATALOG_DIR).is_dir() and not folders:
        raise NotFound(f"no photojobs library at {root}")
    report = CheckReport(str(path), "ok", backups=[p.name for _, p in list_backups(root)])
    found = health.inspect_file(path)
    if found.state in (health.MISSING, health.EMPTY):
        report.state = "lost" if folders else found.state
        if folders:
            report.problems.append(f"the catalog is {found.state} but {counted(len(folders), 'project folder')} "
                                   "exist on disk")
        report.unlisted_folders = [f.name for f in folders]
        return report
    report.problems = health.check_integrity(path)
    if report.problems:
        report.state = "damaged"
        return report
    try:
        listed = _read_catalog(path)
    except CatalogError as exc:
        report.state, report.problems = "damaged", [exc.message]
        return report
    report.projects = len(listed)
    report.photos = sum(len(p["photos"]) for p in listed.values())
    return _compare_folders(report, listed, folders)


def _compare_folders(report: CheckReport, listed, folders: list[Path]) -> CheckReport:
    """The project folders on disk against the catalog's projects (`listed`, folder names)."""
    report.unlisted_folders = [f.name for f in folders if f.name not in listed]
    if not listed and folders:
        report.state = "lost"
        report.problems.append(f"the catalog lists no projects but {counted(len(folders), 'project folder')} "
                               "exist on disk")
    elif not listed:
        report.state = "empty"
    return report


def _check_server(root: Path, url: str, config: Config) -> CheckReport:
    catalog = open_catalog(url, catalog_path(root), config.pipeline.busy_timeout_ms)
    report = CheckReport(catalog.where, "ok", backend=catalog.backend)
    try:
        conn = catalog.conn()   # an unreachable server raises CatalogUnwritable, naming it
        applied = migrations.schema_version(conn)
        report.schema = applied[-1] if applied else None
        if not applied:
            report.state = "empty"
            return report
        listed = {row["folder"] for row in projects_repo.list_all(conn)}
        report.projects = len(listed)
        report.photos = sum(photos_repo.count_by_project(conn).values())
    finally:
        catalog.close()
    return _compare_folders(report, listed, marked_folders(root))


def _read_catalog(path: Path) -> dict[str, dict[str, Any]]:
    """{folder: {"project": row, "photos": {basename_key: row}}} of a catalog file, read-only."""
    conn = health.open_readonly(path)
    try:
        out = {}
        for row in projects_repo.list_all(conn):
            out[row["folder"]] = {"project": dict(row),
                                  "photos": {p["basename_key"]: dict(p)
                                             for p in photos_repo.list_for_project(conn, row["id"])}}
        return out
    finally:
        conn.close()


# --- backups -------------------------------------------------------------------------------

def list_backups(root: Path) -> list[tuple[float, Path]]:
    """(time taken, path) of the catalog backups, newest first."""
    try:
        names = os.listdir(backups_dir(root))
    except (FileNotFoundError, NotADirectoryError):
        return []
    out = []
    for name in names:
        m = _BACKUP_NAME.match(name)
        if m:
            out.append((float(calendar.timegm(time.strptime(m.group(1), _STAMP))), backups_dir(root) / name))
    return sorted(out, reverse=True)


def next_backup_due(lib: Library) -> float | None:
    """When the daily backup next comes due (None when catalog.backups is 0, or when the catalog
    is on a PostgreSQL server, whose backups are the server's job)."""
    if int(lib.config.get("catalog.backups", 7)) <= 0 or lib.catalog.backend != "sqlite":
        return None
    backups = list_backups(lib.root)
    return backups[0][0] + BACKUP_INTERVAL_SECONDS if backups else lib.now()


def backup_if_due(lib: Library, now: float | None = None) -> Path | None:
    """Take the daily online backup when one is due; keep the newest `catalog.backups`.
    The backups themselves are the record of the last one, so a restart neither repeats nor
    skips it. A damaged catalog raises CatalogCorrupt and is not backed up (nor are sound
    backups pruned for it); a backup that cannot be written raises BackupFailed."""
    due = next_backup_due(lib)
    now = lib.now() if now is None else now
    if due is None or now < due:
        return None
    target = backups_dir(lib.root) / f"catalog-{time.strftime(_STAMP, time.gmtime(now))}.db"
    health.backup_to(lib.conn(), target)
    keep = int(lib.config.get("catalog.backups", 7))
    for _, old in list_backups(lib.root)[keep:]:
        try:
            old.unlink()
        except FileNotFoundError:
            pass
    log.info("catalog backed up to %s", target)
    return target


# --- rebuild -------------------------------------------------------------------------------

@dataclass
class RebuiltProject:
    folder: str
    name: str
    photos: int = 0
    flags_from: str | None = None                           # the catalog copy its keep flags came from
    flags_restored: int = 0                                 # photos whose keep flags came from it
    not_photos: dict[str, str] = field(default_factory=dict)  # name -> why: not photos, left where they are
    clashes: list[str] = field(default_factory=list)        # a second file for a photo's role


@dataclass
class RebuildReport:
    catalog: str
    kept_aside: list[str] = field(default_factory=list)    # the old catalog's files, moved, not deleted
    projects: list[RebuiltProject] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def rebuild(root: Path, config: Config, *, force: bool = False,
            clock: Callable[[], float] = time.time) -> RebuildReport:
    """A new catalog from the marked project folders: one project per folder, its photos from
    the files by the import's own rules (reconcile.folder_check), keep flags and derivative
    records from the newest sound copy that lists the folder (the old catalog if sound, else
    the newest sound backup).

    Never moves or deletes a user's file: rows only. A sound catalog that lists projects is
    rebuilt only with `force`; an old catalog is moved aside, never deleted."""
    from .filenames import Rules, scan_folder
    from .reconcile import folder_check
    root = Path(root)
    url = catalog_url(config.get("catalog.url"))
    if url:
        raise PhotojobsError(f"the catalog is on the PostgreSQL server {open_catalog(url, root, 1).where}: "
                             "`catalog rebuild` re-creates a SQLite catalog file only; restore the server's backup")
    path = catalog_path(root)
    folders = marked_folders(root)
    if not folders:
        raise PhotojobsError(f"no project folders (folders with a {MARKER} marker) in {root}: nothing to rebuild from")
    found = health.inspect_file(path)
    copies: list[tuple[str, dict]] = []   # (where, contents), newest first
    if found.state == health.PRESENT and not health.check_integrity(path):
        try:
            old_catalog = _read_catalog(path)
        except CatalogError:
            old_catalog = {}
        if old_catalog and not force:
            raise PhotojobsError(f"the catalog {path} is sound and lists {counted(len(old_catalog), 'project')}; "
                                 "nothing was changed (`photojobs catalog rebuild --force` moves it aside and rebuilds it)")
        copies.append((str(path), old_catalog))
    copies += _newest_sound_backup(root)
    report = RebuildReport(str(path))
    report.kept_aside = _move_aside(path, clock())
    lib = Library.open(root, config, allow_lost=True, clock=clock)
    try:
        rules = Rules.from_config(config)
        for folder in folders:
            # A catalog rebuilt half-way (then --force) lists only some folders: the backup has the rest.
            where, old = next(((w, c[folder.name]) for w, c in copies if folder.name in c), (None, None))
            row = _recreate_project(lib, folder, old)
            result = folder_check(lib, row, scan_folder(folder, rules), trash_rejects=False)
            done = RebuiltProject(folder.name, row["name"], flags_from=where, not_photos=result.not_photos,
                                  clashes=result.clashes)
            done.photos, done.flags_restored = _restore_flags(lib, row, folder, (old or {}).get("photos", {}))
            report.projects.append(done)
    finally:
        lib.close()
    return report


def _newest_sound_backup(root: Path) -> list[tuple[str, dict]]:
    for _, backup in list_backups(root):
        if health.check_integrity(backup, quick=True):
            log.warning("catalog backup %s is damaged; trying an older one", backup)
            continue
        try:
            return [(str(backup), _read_catalog(backup))]
        except CatalogError:
            continue
    return []


def _move_aside(path: Path, now: float) -> list[str]:
    """Give the catalog file and its -wal and -shm (those there are) a free
    `catalog-replaced-...` name beside it. The -wal goes first: a new catalog must never meet
    the old one's WAL."""
    stamp = time.strftime(_STAMP, time.gmtime(now))
    n = 1
    while True:
        stem = f"catalog-replaced-{stamp}" + (f"-{n}" if n > 1 else "")
        aside = path.with_name(f"{stem}.db")
        if not any(os.path.lexists(f"{aside}{s}") for s in ("", "-wal", "-shm")):
            break
        n += 1
    moved = []
    # Also a -wal left without its catalog: replayed into the new one, it would bring old pages back.
    for suffix in ("-wal", "-shm", ""):
        src = Path(f"{path}{suffix}")
        if os.path.lexists(src):
            place_no_replace(src, Path(f"{aside}{suffix}"))
            moved.append(f"{aside}{suffix}")
    fsync_dir(path.parent)
    return moved


def _recreate_project(lib: Library, folder: Path, old: dict | None):
    """The project row of a marked folder: named as its marker says (else as the old catalog
    did, else after the folder), created when the old catalog says it was."""
    marker = read_marker(folder)
    name = None
    for candidate in (marker.get("name"),
                      old and old["project"]["name"], folder.name):
        try:
            name = validate_name(str(candidate)) if candidate else None
        except PhotojobsError:
            name = None
        if name:
            break
    created = old["project"]["created_at"] if old else lib.now()
    conn = lib.conn()
    with atomic(conn):
        return projects_repo.create(conn, name=name, folder=folder.name, now=created)


def _restore_flags(lib: Library, project, folder: Path, old_photos: dict[str, dict]) -> tuple[int, int]:
    """Keep flags (and derivative records whose files are still there) from the old copy.
    Returns (photos in the project, photos whose flags were restored)."""
    from .derivatives import derivative_paths
    fmt = lib.config.get("processing.format", "jpeg")
    conn = lib.conn()
    restored = 0
    with atomic(conn):
        rows = photos_repo.list_for_project(conn, project["id"])
        groups: dict[tuple[bool, bool], list[int]] = {}
        for row in rows:
            old = old_photos.get(row["basename_key"])
            if old is None:
                continue
            restored += 1
            groups.setdefault((bool(old["keep_jpg"]), bool(old["keep_raw"])), []).append(row["id"])
            # The stored signature names the source file's size and mtime, so a derivative made
            # from another file is remade all the same by the next `process`.
            if old["derivative_settings"] and all(p.is_file() for p in derivative_paths(folder, row["basename"], fmt)):
                photos_repo.set_derivatives(conn, row["id"], old["thumbnail_status"], old["preview_status"],
                                            old["derivative_settings"], lib.now(), error=old["derivative_error"])
        for (keep_jpg, keep_raw), ids in groups.items():
            photos_repo.set_keep(conn, project["id"], ids, keep_jpg=keep_jpg, keep_raw=keep_raw, now=lib.now())
    return len(rows), restored
