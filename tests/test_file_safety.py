"""File safety: the paths that must never lose, overwrite or strand a photographer's file."""

from __future__ import annotations

import errno
import os
import shutil
import stat

import pytest

from photo_fixtures import photos, sha, shoot, visible


@pytest.fixture
def project(cli, lib, tmp_path):
    card = tmp_path / "card"
    shoot(card, "A", seed=1)
    shoot(card, "B", seed=2)
    assert cli("upload", card, "-p", "P", "--no-wait").code == 0
    return lib.root / "P"


def _flags(lib):
    return {b: (p["jpg_available"], p["raw_available"], p["keep_jpg"], p["keep_raw"])
            for b, p in photos(lib, "P").items()}


@pytest.mark.parametrize("start", ["empty", "preallocated"])
def test_folder_check_leaves_a_file_that_is_still_being_copied(cli, lib, project, tmp_path, start, make_config,
                                                              monkeypatch):
    """A Finder/camera-app copy in progress: the file exists under its final name but holds no
    bytes yet (or only the zeros of a preallocation). It must stay where the copier writes it,
    even when files that are not photos go to .trash."""
    monkeypatch.setenv("PHOTOJOBS_CONFIG", str(make_config({"maintenance": {"foreign_files": "trash"}})))
    shoot(tmp_path / "side", "NEW", raw=False, seed=9)
    data = (tmp_path / "side" / "NEW.JPG").read_bytes()
    target = project / "NEW.JPG"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        if start == "preallocated":
            os.ftruncate(fd, len(data))
        r = cli("maintenance", "run", "P", "--type", "folder_check")
        assert r.code == 0, r
        assert visible(project / ".trash") == set()
        assert target.exists()
        os.pwrite(fd, data, 0)  # the copy goes on and finishes
    finally:
        os.close(fd)
    assert sha(target) == sha(tmp_path / "side" / "NEW.JPG")
    assert cli("maintenance", "run", "P", "--type", "folder_check").code == 0
    assert photos(lib, "P")["NEW"]["jpg_available"]


@pytest.mark.parametrize("how", ["folder gone", "marker gone"])
@pytest.mark.parametrize("job", ["manifest_check", "manifest_cleaning"])
def test_force_does_not_reconcile_an_unmounted_project(cli, lib, project, tmp_path, how, job):
    """--force says "the folder really is empty", not "pretend a missing drive is an empty one"."""
    before = _flags(lib)
    if how == "folder gone":
        project.rename(tmp_path / "elsewhere")
    else:  # an empty mount point where the drive's folder was
        shutil.rmtree(project)
        project.mkdir()
    r = cli("maintenance", "run", "P", "--type", job, "--force")
    assert r.code == 6, r
    assert _flags(lib) == before


def test_overwrite_import_that_fails_puts_the_old_file_back(cli, lib, project, tmp_path, monkeypatch):
    """--on-duplicate overwrite sends the project's file to .trash before copying the new one; if
    that copy fails (disk full) the old file must come back, not wait in .trash for its expiry."""
    from photojobs.photos import fileops
    old = sha(project / "A.JPG")
    new = tmp_path / "new"
    shoot(new, "A", raw=False, seed=42)

    def full(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(fileops, "_copy_range", full)
    monkeypatch.setattr(fileops, "_write", full)
    r = cli("upload", new, "-p", "P", "--no-wait", "--json", "--on-duplicate", "overwrite")
    assert r.code == 5, r
    assert sha(project / "A.JPG") == old
    assert visible(project / ".trash") == set()
    a = photos(lib, "P")["A"]
    assert a["jpg_available"] and a["keep_jpg"]


def test_overwrite_import_beaten_to_the_name_keeps_the_old_file_for_good(cli, open_library, project, tmp_path):
    """--on-duplicate overwrite moved the project's A.JPG to .trash; before the new copy took the
    name, another program put a file there. Nothing replaced the old A.JPG: it must not expire
    with the trash's TTL, and the file that appeared is left alone."""
    from photojobs.engine.inline import run_inline
    from photojobs.photos.importing import import_files
    from photojobs.photos.maintenance import start
    from photojobs.photos.trash import list_trash
    clock = [2_000_000_000.0]
    lib = open_library({"maintenance": {"trash_ttl_hours": 1}}, clock=lambda: clock[0])
    old = sha(project / "A.JPG")
    new = tmp_path / "new"
    shoot(new, "A", raw=False, seed=42)
    racing = b"another program's file"

    def progress(state):
        # Bytes of the new A.JPG are being copied: the old one is in .trash, its name free.
        if state.stage == "copy" and state.bytes_done and not (project / "A.JPG").exists():
            (project / "A.JPG").write_bytes(racing)
    report = import_files(lib, [new], project="P", on_duplicate="overwrite", progress=progress)
    assert (project / "A.JPG").read_bytes() == racing
    assert report.imported == [] and report.overwritten == []
    [skipped] = report.skipped
    assert "appeared in the project during the import" in skipped["reason"]
    assert "kept in .trash as A.JPG" in skipped["reason"]
    [entry] = list_trash(lib, "P")
    assert entry["original"] == "A.JPG" and entry["expires_at"] is None, entry
    clock[0] += 30 * 24 * 3600
    for job in start(lib, "P", "trash_maintenance"):
        assert run_inline(lib, job, install_signals=False)["status"] == "completed"
    assert sha(project / ".trash" / "A.JPG") == old
    assert (project / "A.JPG").read_bytes() == racing


def test_move_syncs_the_copy_into_its_folder_before_dropping_the_source(cli, lib, tmp_path, monkeypatch):
    """--move to another filesystem: the copy's directory entry must be on disk before the source's
    unlink can be, or a power cut between them leaves neither."""
    from photojobs.photos.importing import placing as upload
    monkeypatch.setattr(upload, "move_within_filesystem", lambda *a, **k: None)  # as if on another drive
    card = tmp_path / "card"
    shoot(card, "M")
    proj_ino = {}
    log: list[tuple[str, object]] = []
    real_fsync, real_unlink = os.fsync, os.unlink

    def fsync(fd):
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            log.append(("dirsync", st.st_ino))
        return real_fsync(fd)

    def unlink(path, *a, **k):
        log.append(("unlink", str(path)))
        return real_unlink(path, *a, **k)
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "unlink", unlink)
    r = cli("upload", card, "-p", "P", "--move", "--no-wait", "--json")
    assert r.code == 0 and r.json()["moved_sources"] == 2, r
    proj_ino = os.stat(lib.root / "P").st_ino
    for src in ("M.JPG", "M.DNG"):
        at = log.index(("unlink", str(card / src)))
        assert ("dirsync", proj_ino) in log[:at], f"{src} dropped before its copy's folder was synced"


@pytest.mark.parametrize("gone", ["folder", "marker"])
def test_no_command_recreates_the_folder_of_an_unmounted_project(cli, lib, project, tmp_path, gone):
    """A fresh folder on the system disk would make the next reconcile believe every photo was
    deleted: upload and trash restore refuse instead, and change nothing."""
    before = _flags(lib)
    away = tmp_path / "unplugged"
    if gone == "folder":
        shutil.move(project, away)
    else:
        (project / ".photojobs-project").rename(tmp_path / "marker-away")
    card = tmp_path / "card2"
    shoot(card, "C", seed=3)
    up = cli("upload", card, "-p", "P", "--no-wait")
    assert up.code != 0 and "is its drive mounted?" in up.err and len(up.err.strip().splitlines()) == 1
    restore = cli("trash", "restore", "P", "--all")
    assert restore.code != 0 and "is its drive mounted?" in restore.err
    assert project.exists() == (gone == "marker")
    assert _flags(lib) == before and visible(card) == {"C.JPG", "C.DNG"}
    if gone == "folder":                       # the drive comes back: everything works again
        shutil.move(away, project)
    else:
        (tmp_path / "marker-away").rename(project / ".photojobs-project")
    assert cli("upload", card, "-p", "P", "--no-wait").code == 0
    assert set(photos(lib, "P")) == {"A", "B", "C"}
