"""`project delete` / `project restore`: the catalog forgets; files stay, or go whole into the library's trash until it expires."""

from __future__ import annotations

import json
import os

import pytest

from photo_fixtures import photos, shoot, tree_hashes, visible


def _project(cli, tmp_path, name="P", seed=1):
    card = tmp_path / f"card-{name}"
    shoot(card, "A", seed=seed)
    shoot(card, "B", raw=False, seed=seed + 1)
    r = cli("upload", card, "-p", name)
    assert r.code == 0, r
    return card


def test_delete_forgets_the_project_and_leaves_every_file(cli, lib, tmp_path):
    _project(cli, tmp_path)
    folder = lib.root / "P"
    before = tree_hashes(folder)
    r = cli("project", "delete", "P", "--yes", "--json")
    assert r.code == 0, r
    result = r.json()
    assert result["photo_count"] == 2 and result["trashed_as"] is None and result["folder"] == "P"
    # Not a byte of the photographer's touched; only our marker says the project was deleted,
    # so the folder left behind is no sign of a lost catalog (which would refuse every command).
    marker = ".photojobs-project"
    assert {k: v for k, v in tree_hashes(folder).items() if k != marker} == \
        {k: v for k, v in before.items() if k != marker}
    assert "deleted_at" in json.loads((folder / marker).read_text())
    assert [p["folder"] for p in cli("project", "list", "--json").json()] == []
    assert cli("photos", "list", "P").code == 3
    assert cli("jobs", "list", "--json").json() == []          # its jobs went with it

    # The folder left in place is adopted again, its files catalogued (all kept).
    back = cli("project", "restore", "P", "--json")
    assert back.code == 0, back
    assert back.json()["restored_from"] is None and back.json()["task"]["status"] == "completed"
    cat = photos(lib, "P")
    assert set(cat) == {"A", "B"} and cat["A"]["raw_available"] and cat["A"]["keep_raw"]
    assert "deleted_at" not in json.loads((folder / marker).read_text())
    assert {k: v for k, v in tree_hashes(folder).items() if k != marker} == \
        {k: v for k, v in before.items() if k != marker}


def test_delete_with_files_moves_the_folder_to_the_librarys_trash_and_restore_brings_it_back(cli, lib, tmp_path):
    _project(cli, tmp_path)
    folder = lib.root / "P"
    before = tree_hashes(folder)
    r = cli("project", "delete", "P", "--files", "--yes")
    assert r.code == 0, r
    assert "library's trash as P" in r.out and "project restore P" in r.out
    assert not folder.exists()
    trashed = lib.root / ".trash" / "P"
    assert tree_hashes(trashed) == before
    record = json.loads((lib.root / ".trash" / ".info" / "P.json").read_text())
    assert record["original"] == "P" and "project delete" in record["reason"]

    # A second project in a folder of the same name, deleted too: a new trash name, nothing overwritten.
    _project(cli, tmp_path, "P", seed=7)
    second = tree_hashes(folder)
    assert cli("project", "delete", "P", "--files", "--yes").code == 0
    assert tree_hashes(trashed) == before and tree_hashes(lib.root / ".trash" / "P (2)") == second

    r = cli("project", "restore", "P (2)", "--json")          # by its trash name
    assert r.code == 0, r
    assert r.json()["project"]["folder"] == "P" and r.json()["project"]["name"] == "P"
    assert tree_hashes(folder) == second and set(photos(lib, "P")) == {"A", "B"}
    assert cli("project", "restore", "P").code == 1              # its folder is taken now: nothing moves
    assert tree_hashes(trashed) == before
    assert cli("project", "restore", "Nope").code == 3


def test_deleted_folders_expire_with_trash_maintenance(open_library, cli, library_path, tmp_path):
    from photojobs.engine.inline import run_inline
    from photojobs.photos import library_trash, maintenance
    _project(cli, tmp_path, "Gone")
    _project(cli, tmp_path, "Kept")
    assert cli("project", "delete", "Gone", "--files", "--yes").code == 0
    trashed_at = json.loads((library_path / ".trash" / ".info" / "Gone.json").read_text())["trashed_at"]
    clock = [0.0]
    lib = open_library(clock=lambda: clock[0])
    ttl = float(lib.config.get("maintenance.trash_ttl_hours")) * 3600

    def trash_maintenance_at(t: float) -> None:
        clock[0] = t
        job = maintenance.start(lib, "Kept", type="trash_maintenance")[0]
        assert run_inline(lib, job, install_signals=False)["status"] == "completed"

    theirs = library_path / ".trash" / "photos I keep here"          # not ours: no record of ours
    theirs.mkdir()
    (theirs / "x.jpg").write_bytes(b"mine")
    trash_maintenance_at(trashed_at + ttl - 600)                      # not yet
    assert [e["folder"] for e in library_trash.deleted_projects(lib)] == ["Gone"]
    trash_maintenance_at(trashed_at + ttl + 600)                      # expired: gone for good
    assert library_trash.deleted_projects(lib) == []
    assert not (lib.root / ".trash" / "Gone").exists() and not (lib.root / ".trash" / ".info" / "Gone.json").exists()
    assert visible(lib.root / "Kept") == {"A.JPG", "A.DNG", "B.JPG"}  # the other project untouched
    assert (theirs / "x.jpg").read_bytes() == b"mine"


def test_delete_asks_first_and_refuses_what_it_cannot_do_safely(cli, lib, tmp_path):
    _project(cli, tmp_path)
    refused = cli("project", "delete", "P")                   # no terminal to ask at
    assert refused.code == 1 and "--yes" in refused.err
    assert [p["folder"] for p in cli("project", "list", "--json").json()] == ["P"]
    assert cli("project", "delete", "Nope", "--yes").code == 3

    # A project whose folder is a link to another drive: --files would move only the link.
    elsewhere = tmp_path / "other-drive"
    (lib.root / "P").rename(elsewhere)
    os.symlink(elsewhere, lib.root / "P")
    linked = cli("project", "delete", "P", "--files", "--yes")
    assert linked.code == 1 and "another drive" in linked.err
    assert (lib.root / "P").is_symlink() and visible(elsewhere) == {"A.JPG", "A.DNG", "B.JPG"}
    os.unlink(lib.root / "P")
    missing = cli("project", "delete", "P", "--files", "--yes")
    assert missing.code == 1 and "missing" in missing.err
    assert [p["folder"] for p in cli("project", "list", "--json").json()] == ["P"]


def test_a_running_job_keeps_its_project(lib, tmp_path):
    from photojobs.engine import queue
    from photojobs.photos import library_trash, projects
    from photojobs.photos.library_trash import ProjectBusy
    from photojobs.storage import atomic
    from photojobs.storage.repos import jobs as jobs_repo
    project = projects.create_project(lib, "Busy")
    job = queue.enqueue(lib, "test_project_noop", project="Busy")
    conn = lib.conn()
    with atomic(conn):   # a runner took it (the claim every runner makes)
        assert jobs_repo.claim(conn, min_priority=-100, max_priority=100, worker_id="w", host="h", pid=1,
                               now=lib.now(), paused_key="pause.none")["id"] == job["id"]
    with pytest.raises(ProjectBusy) as refused:
        library_trash.delete_project(lib, "Busy", files=True)
    assert "test_project_noop" in str(refused.value) and refused.value.http_status == 409
    assert projects.get_project(lib, "Busy")["id"] == project["id"]
    assert (lib.root / "Busy").is_dir()
