"""A lost, damaged or unwritable catalog: refused with one line, checked, backed up daily, rebuilt from the folders."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from photo_fixtures import sha, shoot, tree_hashes

DAY = 24 * 3600.0
T0 = 1_700_000_000.0


class Clock:
    def __init__(self, t: float):
        self.t = t

    def __call__(self) -> float:
        return self.t


def catalog(library: Path) -> Path:
    return library / ".photojobs" / "catalog.db"


def backups(library: Path) -> list[str]:
    folder = library / ".photojobs" / "backups"
    return sorted(os.listdir(folder)) if folder.is_dir() else []


def originals(library: Path) -> dict[str, str]:
    """Every file under the library except photojobs' own folder: what a rebuild must not touch."""
    return {k: v for k, v in tree_hashes(library).items() if not k.startswith(".photojobs")}


def one_line_error(r, *needles: str) -> None:
    lines = r.err.strip().splitlines()
    assert r.code == 1 and len(lines) == 1 and "internal error" not in r.err, r
    for needle in needles:
        assert needle in lines[0], (needle, r)


def photo_flags(cli, project: str) -> dict[str, tuple]:
    r = cli("photos", "list", project, "--json")
    assert r.code == 0, r
    return {p["basename"]: (p["jpg_name"], p["raw_name"], p["keep_jpg"], p["keep_raw"], tuple(p["sidecars"]))
            for p in r.json()}


@pytest.fixture
def shot_library(cli, library_path, tmp_path):
    """A library with two imported projects (a pair with a sidecar, pairs, a JPG-only shot)."""
    card = tmp_path / "card"
    shoot(card, "IMG_0001", seed=1)
    shoot(card, "IMG_0002", seed=2)
    shoot(card, "IMG_0003", raw=False, seed=3)
    (card / "IMG_0001.xmp").write_text("<x:xmpmeta/>")
    shoot(tmp_path / "card2", "DSC_0001", seed=4)
    assert cli("upload", card, "-p", "Smith wedding", "--no-wait").code == 0
    assert cli("upload", tmp_path / "card2", "-p", "Base", "--no-wait").code == 0
    return library_path


# --- item 3: a lost catalog is refused, not silently replaced -------------------------------

def _lose(library: Path, how: str) -> None:
    path = catalog(library)
    if how == "emptied":
        path.write_bytes(b"")
    elif how == "deleted":
        path.unlink()
    elif how == "folder deleted":
        shutil.rmtree(library / ".photojobs")
    elif how == "replaced by a new one":   # what the old behaviour left: a fresh catalog listing nothing
        from photojobs.config import load_config
        from photojobs.library import Library
        Library.open(library.parent / "fresh", load_config()).close()
        path.unlink()
        shutil.copy(catalog(library.parent / "fresh"), path)


@pytest.mark.parametrize("how", ["emptied", "deleted", "folder deleted", "replaced by a new one"])
def test_a_lost_catalog_is_refused_by_every_command_not_replaced(cli, shot_library, tmp_path, how):
    library = shot_library
    before = originals(library)
    _lose(library, how)
    state = catalog(library).read_bytes() if catalog(library).exists() else None
    for args in (("project", "list"), ("maintenance", "run", "--all"), ("upload", tmp_path / "card", "-p", "Base"),
                 ("project", "create", "New"), ("photos", "list", "Base"), ("jobs", "list")):
        r = cli(*args)
        one_line_error(r, str(catalog(library)), "2 project folders", "photojobs catalog rebuild")
    assert originals(library) == before                 # no Base-2, no New, nothing moved
    assert sorted(p.name for p in library.iterdir() if not p.name.startswith(".")) == ["Base", "Smith wedding"]
    assert (catalog(library).read_bytes() if catalog(library).exists() else None) == state


def test_rebuild_recreates_projects_and_photos_from_the_folders_with_the_backups_flags(cli, shot_library, tmp_path,
                                                                                      make_config):
    library = shot_library
    assert cli("keep", "Smith wedding", "IMG_0001", "--no-raw").code == 0
    assert cli("maintenance", "run", "--all", "--type", "trash_maintenance").code == 0   # takes the daily backup
    assert len(backups(library)) == 1
    assert cli("keep", "Smith wedding", "IMG_0002", "--no-jpg").code == 0             # after the backup: lost
    (library / "Smith wedding" / "notes.txt").write_text("not a photo")
    expected = photo_flags(cli, "Smith wedding")
    expected["IMG_0002"] = expected["IMG_0002"][:2] + (True, True) + expected["IMG_0002"][4:]
    before = originals(library)
    catalog(library).write_bytes(b"")

    # Even where maintenance would move files that are not photos to .trash, a rebuild moves none.
    r = cli("--config", make_config({"maintenance": {"foreign_files": "trash"}}), "catalog", "rebuild")
    assert r.code == 0, r
    assert "2 projects, 4 photos" in r.out and "left alone (not an accepted file type): notes.txt" in r.out
    assert originals(library) == before                  # not one file moved, renamed or deleted
    aside = [p for p in (library / ".photojobs").iterdir() if p.name.startswith("catalog-replaced-")]
    assert [p.stat().st_size for p in aside] == [0]       # the emptied catalog, kept aside
    listed = cli("project", "list", "--json").json()
    assert sorted((p["name"], p["folder"]) for p in listed) == [("Base", "Base"), ("Smith wedding", "Smith wedding")]
    assert photo_flags(cli, "Smith wedding") == expected
    assert photo_flags(cli, "Base")["DSC_0001"][2:4] == (True, True)
    # The shoot is one project again: a re-import finds its files, no "Base-2" appears.
    r = cli("upload", tmp_path / "card2", "-p", "Base", "--no-wait", "--json")
    assert r.code == 0 and r.json()["project"]["folder"] == "Base" and r.json()["imported"] == [], r
    assert cli("catalog", "check").code == 0


def test_rebuild_refuses_a_sound_catalog_unless_forced_and_then_keeps_it_aside(cli, shot_library):
    library = shot_library
    assert cli("keep", "Base", "DSC_0001", "--no-jpg").code == 0
    content = sha(catalog(library))
    r = cli("catalog", "rebuild")
    one_line_error(r, "is sound and lists 2 projects", "--force")
    assert sha(catalog(library)) == content
    r = cli("catalog", "rebuild", "--force")
    assert r.code == 0, r
    aside = [p for p in (library / ".photojobs").iterdir() if p.name.startswith("catalog-replaced-")
             and p.name.endswith(".db")]
    assert len(aside) == 1 and sha(aside[0]) == content
    assert photo_flags(cli, "Base")["DSC_0001"][2:4] == (False, True)   # the old catalog's flags: the newest


def test_a_forced_rebuild_takes_each_folders_flags_from_the_newest_copy_that_lists_it(cli, shot_library, tmp_path):
    library = shot_library
    assert cli("keep", "Base", "DSC_0001", "--no-raw").code == 0
    assert cli("maintenance", "run", "--all", "--type", "trash_maintenance").code == 0   # the backup
    catalog(library).write_bytes(b"")
    marker = library / "Base" / ".photojobs-project"
    marker.rename(tmp_path / "marker")                     # Base's drive is not plugged in
    assert cli("catalog", "rebuild").code == 0              # so the new catalog lists Smith only
    assert cli("keep", "Smith wedding", "IMG_0002", "--no-jpg").code == 0
    (tmp_path / "marker").rename(marker)
    r = cli("catalog", "rebuild", "--force")
    assert r.code == 0, r
    assert photo_flags(cli, "Base")["DSC_0001"][2:4] == (True, False)               # from the backup
    assert photo_flags(cli, "Smith wedding")["IMG_0002"][2:4] == (False, True)      # from the newer catalog


def test_rebuild_takes_flags_from_the_newest_sound_backup(open_library, library_path, tmp_path):
    from photojobs.config import load_config
    from photojobs.photos import catalog_care, culling, projects
    from photojobs.photos.importing import import_files
    clock = Clock(T0)
    lib = open_library(clock=clock)
    shoot(tmp_path / "card", "A", seed=1)
    import_files(lib, [tmp_path / "card"], project="P")
    culling.keep(lib, "P", ["A"], jpg=False, raw=None)
    assert catalog_care.backup_if_due(lib) is not None                   # T0: JPG dropped
    culling.keep(lib, "P", ["A"], jpg=True, raw=False)
    clock.t = T0 + DAY
    newest = catalog_care.backup_if_due(lib)                              # T0+1d: RAW dropped
    lib.close()
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])    # a half-written disk
    catalog(library_path).write_bytes(b"")
    report = catalog_care.rebuild(library_path, load_config(), clock=clock)
    assert report.projects[0].flags_from.endswith("catalog-20231114-221320.db")   # T0's, the newest sound one
    lib = open_library(clock=clock)
    photo = culling.list_photos(lib, "P")[0]
    assert (photo["keep_jpg"], photo["keep_raw"]) == (False, True)
    assert projects.list_projects(lib)[0]["name"] == "P"


def test_catalog_check_finds_damage_inside_the_file_and_commands_refuse_it(cli, shot_library):
    library = shot_library
    r = cli("catalog", "check")
    assert r.code == 0 and "sound (2 projects, 4 photos)" in r.out, r
    conn = sqlite3.connect(catalog(library))
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'photos'").fetchone()[0]
    conn.close()
    with open(catalog(library), "r+b") as f:                   # bit rot in the photos table
        f.seek((root - 1) * page_size)
        f.write(b"\xa5" * page_size)
    damaged = sha(catalog(library))
    r = cli("catalog", "check")
    assert r.code == 1 and "is damaged" in r.err, r
    r = cli("photos", "list", "Base")
    one_line_error(r, str(catalog(library)), "is damaged", "catalog rebuild")
    assert sha(catalog(library)) == damaged
    r = cli("catalog", "rebuild")                               # no --force needed for a damaged one
    assert r.code == 0 and "2 projects, 4 photos" in r.out, r
    assert cli("catalog", "check").code == 0


def test_catalog_check_says_lost_for_an_empty_catalog_beside_project_folders(cli, shot_library):
    catalog(shot_library).write_bytes(b"")
    r = cli("catalog", "check", "--json")
    assert r.code == 1 and r.json()["state"] == "lost"
    assert sorted(r.json()["unlisted_folders"]) == ["Base", "Smith wedding"]
    assert catalog(shot_library).read_bytes() == b""


# --- daily backups ---------------------------------------------------------------------------

def test_the_scheduler_backs_the_catalog_up_daily_and_keeps_the_last_n(open_library, library_path):
    from photojobs.engine.scheduler import Scheduler
    from photojobs.photos import projects
    clock = Clock(T0)
    lib = open_library({"catalog": {"backups": 3}}, clock=clock)
    projects.create_project(lib, "A")
    sched = Scheduler(lib, ())
    assert sched.tick().next_due_at == T0 + DAY
    assert backups(library_path) == ["catalog-20231114-221320.db"]
    clock.t = T0 + DAY - 1
    Scheduler(lib, ()).tick()                                # a restart does not repeat it
    assert len(backups(library_path)) == 1
    for day in range(1, 6):
        clock.t = T0 + day * DAY
        sched.tick()
    assert backups(library_path) == ["catalog-20231117-221320.db", "catalog-20231118-221320.db",
                                     "catalog-20231119-221320.db"]
    copy = sqlite3.connect(library_path / ".photojobs" / "backups" / backups(library_path)[-1])
    assert copy.execute("SELECT name FROM projects").fetchall() == [("A",)]
    assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"   # one self-contained file
    copy.close()


def test_maintenance_run_takes_the_daily_backup_once(cli, shot_library):
    assert cli("maintenance", "run", "--all", "--type", "trash_maintenance").code == 0
    assert cli("maintenance", "run", "--all", "--type", "trash_maintenance").code == 0
    assert len(backups(shot_library)) == 1


def test_maintenance_run_says_when_the_backup_cannot_be_written(cli, shot_library):
    blocker = shot_library / ".photojobs" / "backups"
    blocker.write_text("a file where the folder should be")
    r = cli("maintenance", "run", "--all", "--type", "trash_maintenance")
    assert r.code == 1 and f"cannot write the catalog backup {blocker}/catalog-" in r.err, r


def test_a_backup_that_cannot_be_written_does_not_stop_the_schedule(open_library, library_path, caplog):
    from photojobs.engine.scheduler import Schedule, Scheduler
    from photojobs.photos import projects
    clock = Clock(T0)
    lib = open_library(clock=clock)
    projects.create_project(lib, "A")
    blocker = library_path / ".photojobs" / "backups"
    blocker.write_text("a file where the folder should be")
    sched = Scheduler(lib, (Schedule("test_noop", "scheduler.trash_maintenance_minutes", 100),))
    clock.t = T0 + 3600
    assert [j["type"] for j in sched.tick().queued] == ["test_noop"]     # the maintenance goes on
    assert "cannot write the catalog backup" in caplog.text and str(blocker) in caplog.text
    blocker.unlink()
    clock.t = T0 + 1.5 * 3600
    sched.tick()
    assert backups(library_path) == []                            # not retried every tick...
    clock.t = T0 + 2 * 3600
    sched.tick()
    assert len(backups(library_path)) == 1                        # ...but an hour later


# --- item 15: unwritable folders and damaged catalogs are one line, exit 1 -------------------

def run_unprivileged(library: Path, *args) -> subprocess.CompletedProcess:
    """The real CLI as a user whom file permissions bind (root is let in everywhere otherwise)."""
    prefix = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: permissions cannot be enforced")
        prefix = [setpriv, "--bounding-set", "-dac_override,-dac_read_search,-fowner", "--"]
    proc = subprocess.run([*prefix, sys.executable, "-m", "photojobs", "--library", str(library), *map(str, args)],
                          capture_output=True, text=True, timeout=120)
    proc.code, proc.err = proc.returncode, proc.stderr
    return proc


@pytest.fixture
def read_only():
    """chmod a folder read-only for the test; writable again afterwards (so it can be cleaned)."""
    made = []

    def make(path: Path) -> Path:
        path.chmod(0o555)
        made.append(path)
        return path
    yield make
    for path in made:
        path.chmod(0o755)


@pytest.mark.parametrize("where", ["library", "catalog folder", "project"])
def test_a_read_only_folder_is_one_line_naming_it_and_the_reason(cli, shot_library, tmp_path, read_only, where):
    library = shot_library
    if where == "library":
        read_only(library)
        r = run_unprivileged(library, "upload", tmp_path / "card", "-p", "New", "--no-wait")
        one_line_error(r, str(library / "New"), "Permission denied")
    elif where == "catalog folder":
        read_only(library / ".photojobs")
        r = run_unprivileged(library, "project", "list")
        one_line_error(r, f"cannot write the catalog {catalog(library)}", "Permission denied")
    else:
        (library / "Base" / ".trash").rmdir()
        read_only(library / "Base")
        r = run_unprivileged(library, "upload", tmp_path / "card2", "-p", "Base", "--no-wait")
        one_line_error(r, str(library / "Base" / ".trash"), "Permission denied")


@pytest.mark.parametrize("damage", ["garbage", "halved"])
def test_a_garbage_or_halved_catalog_is_one_line_and_left_as_it_is(cli_proc, shot_library, damage):
    path = catalog(shot_library)
    data = path.read_bytes()
    path.write_bytes(os.urandom(5000) if damage == "garbage" else data[: len(data) // 2])
    before = sha(path)
    r = cli_proc("project", "list")
    reason = "not a SQLite database" if damage == "garbage" else "truncated"
    one_line_error(r, str(path), reason, "catalog rebuild")
    assert sha(path) == before and not Path(f"{path}-wal").exists()
