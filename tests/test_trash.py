"""The project trash: unique names, listing, restore rules and expiry after the TTL."""

from __future__ import annotations

import json
import logging
import os
import subprocess

import pytest

from photo_fixtures import photos, shoot, visible
from photojobs.photos import library_trash, projects


def _project(cli, tmp_path, name="P"):
    card = tmp_path / "card"
    shoot(card, "A", seed=1)
    shoot(card, "B", seed=2)
    assert cli("upload", card, "-p", name, "--no-wait").code == 0


def test_trash_names_never_overwrite(lib, tmp_path):
    from photojobs.photos.trash import entries, move_to_trash
    proj = tmp_path / "proj"
    proj.mkdir()
    for n in range(3):
        (proj / "X.JPG").write_bytes(b"version %d" % n)
        move_to_trash(proj, "X.JPG", now=1000.0 + n, reason="test")
    got = {e["name"]: (proj / ".trash" / e["name"]).read_bytes() for e in entries(proj)}
    assert got == {"X.JPG": b"version 0", "X (2).JPG": b"version 1", "X (3).JPG": b"version 2"}
    assert all(e["original"] == "X.JPG" for e in entries(proj))


def test_list_shows_original_names_and_expiry(cli, lib, tmp_path):
    _project(cli, tmp_path)
    cli("keep", "P", "A", "--no-raw")
    assert cli("commit", "P", "--yes").code == 0
    [entry] = cli("trash", "list", "P", "--json").json()
    assert entry["name"] == entry["original"] == "A.DNG" and entry["size"] > 0
    assert entry["expires_at"] > entry["trashed_at"]
    assert "A.DNG" in cli("trash", "list", "P").out


def test_restore_by_name_and_refusals(cli, lib, tmp_path):
    _project(cli, tmp_path)
    cli("keep", "P", "--all", "--no-jpg")
    assert cli("commit", "P", "--yes").code == 0
    r = cli("trash", "restore", "P", "A.JPG", "NOPE.JPG")
    assert r.code == 3 and "NOPE.JPG" in r.err   # unknown names: 3, as keep and photos
    assert visible(lib.root / "P" / ".trash") == {"A.JPG", "B.JPG"}  # nothing changed
    assert cli("trash", "restore", "P").code == 2  # names or --all: a usage error
    # B.JPG's name is taken again by a new file: restoring must not overwrite it.
    (lib.root / "P" / "B.JPG").write_bytes(b"\xff\xd8\xff new")
    r = cli("trash", "restore", "P", "a.jpg", "B.JPG", "--json")
    assert r.code == 5, r
    assert [x["name"] for x in r.json()["restored"]] == ["A.JPG"]
    assert [c["name"] for c in r.json()["conflicts"]] == ["B.JPG"]
    assert (lib.root / "P" / "B.JPG").read_bytes() == b"\xff\xd8\xff new"
    assert visible(lib.root / "P" / ".trash") == {"B.JPG"}
    a = photos(lib, "P")["A"]
    assert a["jpg_available"] and a["keep_jpg"]


def test_trash_maintenance_deletes_only_entries_past_the_ttl(cli, open_library, tmp_path):
    _project(cli, tmp_path)
    clock = [1_000_000.0]
    lib = open_library({"maintenance": {"trash_ttl_hours": 2}}, clock=lambda: clock[0])
    from photojobs.photos.trash import COMMIT, move_to_trash
    proj = lib.root / "P"
    (proj / "old.txt").write_text("old")
    (proj / "new.txt").write_text("new")
    move_to_trash(proj, "old.txt", now=clock[0] - 3 * 3600, reason=COMMIT)
    move_to_trash(proj, "new.txt", now=clock[0] - 1 * 3600, reason=COMMIT)
    from photojobs.engine.inline import run_inline
    from photojobs.photos.maintenance import start
    [job] = start(lib, "P", "trash_maintenance")
    assert run_inline(lib, job, install_signals=False)["status"] == "completed"
    assert visible(proj / ".trash") == {"new.txt"}
    assert sorted(p.name for p in (proj / ".trash" / ".info").iterdir()) == ["new.txt.json"]
    clock[0] += 2 * 3600
    [job] = start(lib, "P", "trash_maintenance")
    run_inline(lib, job, install_signals=False)
    assert visible(proj / ".trash") == set()


def test_restoring_files_that_are_no_photos_queues_nothing(cli, lib, tmp_path):
    """A file folder_check or a user put in .trash (no photo of the catalog): restored, no job."""
    _project(cli, tmp_path)
    from photojobs.photos.trash import move_to_trash
    proj = lib.root / "P"
    (proj / "notes.txt").write_text("shot list")
    move_to_trash(proj, "notes.txt", now=lib.now(), reason="not an accepted file type")
    r = cli("trash", "restore", "P", "notes.txt", "--json")
    assert r.code == 0, r.err
    assert [x["name"] for x in r.json()["restored"]] == ["notes.txt"] and r.json()["job"] is None
    assert (proj / "notes.txt").read_text() == "shot list"
    r = cli("trash", "restore", "P", "--all")
    assert r.code == 0 and "restored 0 files" in r.out, r


def test_a_symlink_in_the_trash_is_restored_and_expired_as_a_link(cli, open_library, tmp_path):
    """A link in .trash is an entry like a file: restore moves the link itself, expiry unlinks the
    link; the file it points to, outside the trash, is never touched."""
    _project(cli, tmp_path)
    clock = [1_000_000.0]
    lib = open_library({"maintenance": {"trash_ttl_hours": 2}}, clock=lambda: clock[0])
    from photojobs.photos.trash import COMMIT, entries, expire, move_to_trash
    proj = lib.root / "P"
    outside = tmp_path / "elsewhere" / "C.JPG"
    outside.parent.mkdir()
    outside.write_bytes(b"\xff\xd8\xff a photo that lives elsewhere")
    (proj / ".trash").mkdir(exist_ok=True)
    os.symlink(outside, proj / ".trash" / "C.JPG")
    assert [(e["name"], e["reason"]) for e in entries(proj)] == [("C.JPG", None)]

    r = cli("trash", "restore", "P", "C.JPG", "--json")
    assert r.code == 0 and [x["name"] for x in r.json()["restored"]] == ["C.JPG"], r.err
    assert os.path.islink(proj / "C.JPG") and os.readlink(proj / "C.JPG") == str(outside)
    assert visible(proj / ".trash") == set()
    assert "C" not in photos(lib, "P")          # a link is no photo of the catalog

    move_to_trash(proj, "C.JPG", now=clock[0] - 3 * 3600, reason=COMMIT)
    os.symlink(tmp_path / "gone.JPG", proj / ".trash" / "D.JPG")    # dangling, not due yet
    (proj / ".trash" / ".info" / "D.JPG.json").write_text(
        json.dumps({"original": "D.JPG", "trashed_at": clock[0], "reason": COMMIT}))
    assert expire(proj, now=clock[0], ttl_hours=2) == (["C.JPG"], [], [])
    assert not os.path.lexists(proj / ".trash" / "C.JPG")
    assert outside.read_bytes() == b"\xff\xd8\xff a photo that lives elsewhere"
    assert [e["name"] for e in entries(proj)] == ["D.JPG"]                   # its record kept
    clock[0] += 3 * 3600
    assert expire(proj, now=clock[0], ttl_hours=2) == (["D.JPG"], [], [])
    assert os.listdir(proj / ".trash" / ".info") == []


@pytest.fixture
def immutable():
    """chattr +i: a file not even root may delete (ext4, xfs, btrfs...); undone at teardown."""
    made = []

    def make(path):
        r = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
        if r.returncode != 0:
            pytest.skip(f"chattr +i does not work here: {r.stderr.strip()}")
        made.append(path)
    yield make
    for path in made:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_an_entry_that_cannot_be_deleted_does_not_stop_the_expiry(cli, open_library, tmp_path, immutable, caplog):
    """One entry even root cannot delete is logged and kept with its record; the entries after it
    expire all the same, in a project's trash and in the library's."""
    _project(cli, tmp_path)
    clock = [1_000_000.0]
    lib = open_library({"maintenance": {"trash_ttl_hours": 2}}, clock=lambda: clock[0])
    from photojobs.engine.inline import run_inline
    from photojobs.photos.maintenance import start
    from photojobs.photos.trash import COMMIT, entries, expire, move_to_trash
    proj = lib.root / "P"
    for age, name in ((2, "stuck.txt"), (1, "old.txt")):   # the stuck one is first in line
        (proj / name).write_text(name)
        move_to_trash(proj, name, now=clock[0] - age * 3600, reason=COMMIT)
    immutable(proj / ".trash" / "stuck.txt")
    # Deleted projects' folders in the library's trash: the first holds a file that cannot go.
    for folder in ("Anchored", "Gone"):
        projects.create_project(lib, folder)
        (lib.root / folder / "x.txt").write_text("x")
        library_trash.delete_project(lib, folder, files=True)
    immutable(lib.root / ".trash" / "Anchored" / "x.txt")
    clock[0] += 3 * 3600
    with caplog.at_level(logging.WARNING, logger="photojobs.trash"):
        assert expire(proj, now=lib.now(), ttl_hours=2) == (["old.txt"], [], ["stuck.txt"])
        assert library_trash.expire_deleted(lib) == (["Gone"], [], ["Anchored"])
        [job] = start(lib, "P", "trash_maintenance")      # and the job that runs them, again: it completes
        done = run_inline(lib, job, install_signals=False)
        assert done["status"] == "completed"
    # ...and says what it could not delete, apart from what never expires, and counts it as failed.
    from photojobs.storage.repos import events as events_repo
    [event] = events_repo.of_job(lib.conn(), job["id"], "trash_maintenance")
    assert json.loads(event["data"])["could_not_delete"] == ["stuck.txt"]
    assert json.loads(event["data"])["kept_not_committed"] == []
    assert json.loads(event["data"])["deleted_projects_could_not_delete"] == ["Anchored"]
    [ran] = done["jobs"]
    assert (ran["progress_done"], ran["progress_failed"], ran["progress_total"]) == (0, 2, 2)
    # What cron runs says so, and `jobs list --failed-items` finds the job.
    projects.create_project(lib, "Q")   # whose job meets the library's stuck folder too: said once
    r = cli("maintenance", "run", "--all", "--type", "trash_maintenance")
    assert "P: could not delete from .trash" in r.out and "stuck.txt" in r.out, r
    assert r.out.count("could not delete deleted projects from the library's .trash") == 1 and "Anchored" in r.out, r
    assert job["id"] in [j["id"] for j in cli("jobs", "list", "--failed-items", "--json").json()]
    assert visible(proj / ".trash") == {"stuck.txt"}
    assert [(e["name"], e["reason"]) for e in entries(proj)] == [("stuck.txt", COMMIT)]   # record kept
    assert [e["name"] for e in entries(lib.root, folders=True)] == ["Anchored"]
    said = [r.getMessage() for r in caplog.records]
    assert any("stuck.txt" in m and "Operation not permitted" in m for m in said), said
    assert any("Anchored" in m for m in said), said
