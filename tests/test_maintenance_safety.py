"""Maintenance never loses a file: strangers in a project, commits to an unplugged drive, what kills leave behind, files coming back."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from photo_fixtures import photos, project_jobs, shoot, visible
from waiting import wait_for

# The first bytes of an iPhone photo: a HEIC that someone renamed to .jpg.
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(200)
MOV = b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  " + bytes(200)
STRANGERS = {"clip.MOV", "notes.txt", "IMG_9.jpg"}


@pytest.fixture
def project(cli, lib, tmp_path):
    card = tmp_path / "card"
    shoot(card, "A", seed=1)
    shoot(card, "B", seed=2)
    assert cli("upload", card, "-p", "P").code == 0
    return lib.root / "P"


def _strangers(folder):
    (folder / "clip.MOV").write_bytes(MOV)
    (folder / "notes.txt").write_text("call the couple on Monday")
    (folder / "IMG_9.jpg").write_bytes(HEIC)


def _flags(lib):
    return {b: (p["jpg_available"], p["raw_available"], p["keep_jpg"], p["keep_raw"])
            for b, p in photos(lib, "P").items()}


def _run(lib, job):
    from photojobs.engine.inline import run_inline
    return run_inline(lib, job, install_signals=False)


def _stepped(open_library, overrides=None, hours=0.0):
    """The same library, with a clock `hours` ahead of the wall clock (and movable by hand)."""
    clock = [time.time() + hours * 3600]
    return open_library(overrides, clock=lambda: clock[0]), clock


# --- 2. files that are not photos -----------------------------------------------------------------

def test_files_that_are_not_photos_stay_in_place_and_are_reported(cli, lib, project):
    _strangers(project)
    r = cli("maintenance", "run", "P")
    assert r.code == 0, r
    assert STRANGERS <= visible(project)
    assert visible(project / ".trash") == set()
    # Cron mails what it prints: the news once, naming the files ...
    assert "3 files that are not photos" in r.out and all(n in r.out for n in STRANGERS), r
    r = cli("maintenance", "run", "P")
    assert (r.code, r.out, r.err) == (0, "", "")   # ... and nothing while nothing changes
    assert "3 not photos (left in place)" in cli("scan", "P").out
    listed = cli("photos", "list", "P")
    assert listed.code == 0 and "3 files here are not photos" in listed.out + listed.err
    shown = cli("project", "show", "P", "--json").json()
    assert {f["name"] for f in shown["not_photos"]} == STRANGERS
    assert "not photos" in cli("project", "show", "P").out
    (project / "notes.txt").unlink()
    assert cli("scan", "P").code == 0
    assert len(cli("project", "show", "P", "--json").json()["not_photos"]) == 2
    assert set(photos(lib, "P")) == {"A", "B"}


def test_foreign_files_trash_moves_them_but_only_commits_expire(cli, open_library, project):
    lib, clock = _stepped(open_library, {"maintenance": {"foreign_files": "trash", "trash_ttl_hours": 1}})
    from photojobs.photos import culling, maintenance, trash
    _strangers(project)
    [job] = maintenance.start(lib, "P")
    assert _run(lib, job)["status"] == "completed"
    assert visible(project / ".trash") == STRANGERS and not STRANGERS & visible(project)
    culling.keep(lib, "P", ["A"], raw=False)
    assert _run(lib, culling.commit(lib, "P")["job"])["status"] == "completed"
    clock[0] += 2 * 3600
    [job] = maintenance.start(lib, "P", "trash_maintenance")
    assert _run(lib, job)["status"] == "completed"
    # What the commit put there expired; what nobody committed waits for the photographer.
    assert visible(project / ".trash") == STRANGERS
    entries = {e["name"]: e for e in trash.list_trash(lib, "P")}
    assert all(entries[n]["expires_at"] is None for n in STRANGERS)
    assert "never" in cli("trash", "list", "P").out
    from photojobs.storage.repos import events as events_repo
    [event] = events_repo.of_job(lib.conn(), job["id"], "trash_maintenance")
    assert '"removed":["A.DNG"]' in event["data"] and "notes.txt" in event["data"]


def test_an_empty_file_is_judged_by_the_librarys_clock(open_library, project):
    """Still being copied in (just created) is left alone; empty and left alone for the settle
    time is a stranger like any other. The age comes from the library's clock, not time.time()."""
    from photojobs.photos import maintenance
    (project / "late.jpg").write_bytes(b"")
    for hours, expected in ((0, set()), (1, {"late.jpg"})):
        lib, _ = _stepped(open_library, {"maintenance": {"foreign_files": "trash"}}, hours=hours)
        [job] = maintenance.start(lib, "P", "folder_check")
        assert _run(lib, job)["status"] == "completed"
        assert visible(project / ".trash") == expected
        assert ("late.jpg" in visible(project)) == (not expected)


def test_foreign_files_setting_is_validated(make_config):
    from photojobs.config import load_config
    from photojobs.errors import ConfigError
    assert load_config().get("maintenance.foreign_files") == "keep"
    with pytest.raises(ConfigError, match="maintenance.foreign_files"):
        load_config(make_config({"maintenance": {"foreign_files": "delete"}}))


# --- 4. commit while the drive is unplugged -------------------------------------------------------

def test_commit_refuses_while_the_drive_is_unplugged(cli, lib, project, tmp_path):
    assert cli("keep", "P", "A", "--no-raw").code == 0
    before = _flags(lib)
    project.rename(tmp_path / "unplugged")
    r = cli("commit", "P", "--yes")
    assert r.code == 1 and "not mounted" in r.err and len(r.err.strip().splitlines()) == 1, r
    assert _flags(lib) == before
    assert not [j for j in project_jobs(lib, "P") if j["type"] == "file_removal"]
    (tmp_path / "unplugged").rename(project)
    assert cli("commit", "P", "--yes").code == 0
    assert visible(project / ".trash") == {"A.DNG"}


def test_a_queued_commit_that_finds_the_drive_gone_changes_nothing(cli, lib, project, tmp_path):
    assert cli("keep", "P", "A", "--no-raw").code == 0
    r = cli("commit", "P", "--yes", "--no-wait", "--json")
    assert r.code == 0, r
    job = r.json()["job"]
    before = _flags(lib)
    project.rename(tmp_path / "unplugged")      # unplugged before the queued commit ran
    out = _run(lib, job)
    assert out["status"] == "failed" and "not mounted" in out["jobs"][0]["error_message"]
    assert _flags(lib) == before
    (tmp_path / "unplugged").rename(project)
    assert cli("maintenance", "run", "P").code == 0
    a = photos(lib, "P")["A"]
    assert a["raw_available"] and not a["keep_raw"]   # plugged back in: the cull still stands
    assert visible(project) >= {"A.DNG"} and visible(project / ".trash") == set()


# --- 6 and 7. what a kill during the copy phase leaves behind -------------------------------------

_KILL_AT_COPY = """
import os, signal, sys
from photojobs.photos import fileops
real, calls = fileops._copy_bytes, []
def copy(fd_in, fd_out, on_bytes):
    calls.append(1)
    if len(calls) == int(os.environ["KILL_AT_COPY"]):
        os.write(fd_out, os.read(fd_in, 100))   # half-way through this file's copy
        os.kill(os.getpid(), signal.SIGKILL)
    return real(fd_in, fd_out, on_bytes)
fileops._copy_bytes = copy
from photojobs.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture
def killed_upload(lib, tmp_path):
    """A real `photojobs upload` of three pairs, killed (SIGKILL) while copying C.JPG: A and B are
    catalogued, their derivatives pending, and no job will make them. (Processing during the
    import is off: with it, the job exists from the first photo on; this is the catalog a kill
    leaves with it off, or one an older photojobs left.)"""
    card = tmp_path / "card"
    for n, base in enumerate("ABC"):
        shoot(card, base, seed=n)
    sequential = tmp_path / "sequential.json"
    sequential.write_text(json.dumps({"uploader": {"process_during_import": False}}))
    proc = subprocess.run([sys.executable, "-c", _KILL_AT_COPY, "--library", str(lib.root), "--config", str(sequential),
                           "upload", str(card), "-p", "P"], env={**os.environ, "KILL_AT_COPY": "5"},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    left = photos(lib, "P")
    assert set(left) == {"A", "B"} and {p["thumbnail_status"] for p in left.values()} == {"pending"}
    assert project_jobs(lib, "P") == []
    assert len([n for n in os.listdir(lib.root / "P") if n.startswith(".photojobs-tmp-")]) == 1
    return card


def _generated(lib):
    return {b: p["thumbnail_status"] for b, p in photos(lib, "P").items()}


def test_manifest_check_queues_derivatives_that_a_killed_upload_left_pending(cli, lib, killed_upload):
    assert cli("maintenance", "run", "P", "--type", "manifest_check").code == 0
    [job] = [j for j in project_jobs(lib, "P") if j["type"] == "generate_derivatives"]
    assert job["source"].startswith("manifest_check") and job["progress_total"] == 2
    assert cli("maintenance", "run", "P", "--type", "manifest_check").code == 0   # queued once, not twice
    assert len([j for j in project_jobs(lib, "P") if j["type"] == "generate_derivatives"]) == 1
    assert _run(lib, job)["status"] == "completed"
    assert _generated(lib) == {"A": "generated", "B": "generated"}


def test_the_next_upload_makes_what_a_killed_upload_left_pending(cli, lib, killed_upload):
    assert cli("upload", killed_upload, "-p", "P").code == 0
    assert _generated(lib) == {"A": "generated", "B": "generated", "C": "generated"}


def test_folder_check_sweeps_our_old_temp_files_and_nothing_else(open_library, lib, killed_upload):
    from photojobs.photos import maintenance
    folder = lib.root / "P"
    ours = [folder / ".preview" / ".A.jpg.k3j_x9q2.tmp", folder / ".thumb" / ".B.jpg.00abc_de.tmp",
            folder / ".trash" / ".info" / ".X.JPG.json.tmp"]
    others = [folder / ".photojobs-tmp-notes", folder / "holiday.tmp", folder / ".preview" / "mine.tmp",
              folder / ".preview" / ".notes.tmp", folder / ".DS_Store", folder / ".trash" / ".X.JPG.json.tmp"]
    for path in ours + others:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"partial")

    def hidden_left():
        return {str(p.relative_to(folder)) for p in folder.rglob(".*") if p.is_file()}
    before = hidden_left()
    lib_now, _ = _stepped(open_library)            # all of it was written just now: nothing goes
    [job] = maintenance.start(lib_now, "P", "folder_check")
    assert _run(lib_now, job)["status"] == "completed"
    assert hidden_left() == before
    lib_later, _ = _stepped(open_library, hours=2)
    [job] = maintenance.start(lib_later, "P", "folder_check")
    assert _run(lib_later, job)["status"] == "completed"
    assert not [n for n in os.listdir(folder) if n.startswith(".photojobs-tmp-") and n != ".photojobs-tmp-notes"]
    assert not any(p.exists() for p in ours)
    assert all(p.exists() for p in others)
    assert ".photojobs-project" in os.listdir(folder)


# --- 12. a file that comes back -------------------------------------------------------------------

def test_a_file_moved_back_is_noticed_by_the_watchers_folder_check(lib, project, tmp_path):
    from photojobs.daemon.watcher import ProjectWatcher
    from photojobs.engine import queue

    def queued(kind):
        return [j for j in queue.list_jobs(lib, type=[kind], status=["queued"]) if j["source"] == "watcher"]
    with ProjectWatcher(lib, mode="native", quiet_ms=200):
        shutil.move(project / "A.JPG", tmp_path / "A.JPG")
        assert wait_for(lambda: queued("manifest_check"))
        assert _run(lib, queued("manifest_check")[0])["status"] == "completed"
        assert not photos(lib, "P")["A"]["jpg_available"]
        shutil.move(tmp_path / "A.JPG", project / "A.JPG")
        assert wait_for(lambda: queued("folder_check"))
        assert not queued("manifest_check")           # coming back asks for a folder_check only
        assert _run(lib, queued("folder_check")[0])["status"] == "completed"
    a = photos(lib, "P")["A"]
    assert a["jpg_available"] and a["keep_jpg"]
