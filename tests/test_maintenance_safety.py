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

