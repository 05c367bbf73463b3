"""Maintenance never loses a file: strangers in a project, commits to an unplugged drive, what kills leave behind, files coming back."""

from __future__ import annotations

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
from photojobs.engine import fileops
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
    catalogued, their derivatives pending, and no job will make them."""
    card = tmp_path / "card"
    for n, base in enumerate("ABC"):
        shoot(card, base, seed=n)
    proc = subprocess.run([sys.executable, "-c", _KILL_AT_COPY, "--library", str(lib.root), "upload", str(card),
                           "-p", "P"], env={**os.environ, "KILL_AT_COPY": "5"}, capture_output=True, text=True,
                          timeout=120)
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
