"""Culling: keep intent, revert, the commit plan and the change_commit task, undone by trash restore."""

from __future__ import annotations


import pytest

from photo_fixtures import photos, shoot, tree_hashes, visible


@pytest.fixture
def project(cli, lib, tmp_path):
    card = tmp_path / "card"
    shoot(card, "A", seed=1)
    shoot(card, "B", seed=2)
    shoot(card, "C", seed=3, raw=False)
    (card / "B.xmp").write_text("<x/>")
    r = cli("upload", card, "-p", "Shoot", "--json")  # inline: derivatives are made
    assert r.code == 0, r
    return lib.root / "Shoot"


def test_keep_sets_only_the_flags_given(cli, lib, project):
    assert cli("keep", "Shoot", "A", "--no-jpg").code == 0
    assert cli("keep", "Shoot", "b.dng", "--no-raw").code == 0  # a file name, any case
    cat = photos(lib, "Shoot")
    assert (cat["A"]["keep_jpg"], cat["A"]["keep_raw"]) == (False, True)
    assert (cat["B"]["keep_jpg"], cat["B"]["keep_raw"]) == (True, False)
    r = cli("keep", "Shoot", "--all", "--raw", "--json")
    assert r.code == 0 and r.json()["changed"] == 1  # only B changed; C has no RAW to keep
    assert photos(lib, "Shoot")["C"]["keep_raw"] is False


def test_unknown_names_are_an_error_that_changes_nothing(cli, lib, project):
    before = photos(lib, "Shoot")
    r = cli("keep", "Shoot", "A", "NOPE", "--no-jpg")
    assert r.code == 3 and "NOPE" in r.err
    assert photos(lib, "Shoot") == before
    assert cli("keep", "Shoot").code == 2  # no names and no --all: a usage error


def test_revert_restores_keep_flags_from_availability(cli, lib, project):
    cli("keep", "Shoot", "--all", "--no-jpg", "--no-raw")
    r = cli("revert", "Shoot")
    assert r.code == 0 and "3 photos changed" in r.out
    assert all(p["keep_jpg"] == p["jpg_available"] and p["keep_raw"] == p["raw_available"]
               for p in photos(lib, "Shoot").values())
    assert cli("revert", "Shoot", "--json").json()["changed"] == 0


def test_dry_run_shows_the_plan_and_changes_nothing(cli, lib, project):
    cli("keep", "Shoot", "A", "--no-jpg")
    cli("keep", "Shoot", "B", "--no-jpg", "--no-raw")
    before = tree_hashes(project)
    r = cli("commit", "Shoot", "--dry-run", "--json")
    assert r.code == 0
    plan = r.json()
    assert plan["jpgs"] == ["A.JPG", "B.JPG"] and plan["raws"] == ["B.DNG"] and plan["sidecars"] == ["B.xmp"]
    assert plan["job"] is None and tree_hashes(project) == before
    human = cli("commit", "Shoot", "--dry-run")
    assert "2 JPGs and 1 RAWs go to .trash" in human.out


def test_commit_without_yes_off_a_terminal_refuses(cli, lib, project):
    cli("keep", "Shoot", "A", "--no-jpg")
    r = cli("commit", "Shoot")
    assert r.code == 1 and "--yes" in r.err
    assert (project / "A.JPG").exists()


def test_commit_moves_dropped_files_to_trash_and_regenerates_from_raw(cli, lib, project):
    cli("keep", "Shoot", "A", "--no-jpg")               # RAW stays: derivatives from the RAW
    cli("keep", "Shoot", "B", "--no-jpg", "--no-raw")   # loses everything: its sidecar goes too
    thumb_a = (project / ".thumb" / "A.jpg").read_bytes()
    r = cli("commit", "Shoot", "--yes", "--json")
    assert r.code == 0, r
    out = r.json()
    assert [(j["type"], j["priority"], j["status"]) for j in out["task"]["jobs"]] == [
        ("file_removal", 100, "completed"), ("manifest_check", 95, "completed"),
        ("folder_check", 95, "completed"), ("manifest_cleaning", 80, "completed")]
    assert visible(project) == {"A.DNG", "C.JPG"}
    assert visible(project / ".trash") == {"A.JPG", "B.JPG", "B.DNG", "B.xmp"}
    cat = photos(lib, "Shoot")
    assert set(cat) == {"A", "C"}  # B had no file left: manifest_cleaning dropped it
    a = cat["A"]
    assert (a["jpg_available"], a["keep_jpg"], a["raw_available"], a["keep_raw"]) == (False, False, True, True)
    assert not (project / ".thumb" / "B.jpg").exists() and not (project / ".preview" / "B.jpg").exists()
    # A's derivatives were remade from the RAW by a generate_derivatives job, not left missing.
    from photo_fixtures import project_jobs
    regen = [j for j in project_jobs(lib, "Shoot") if j["type"] == "generate_derivatives"]
    assert regen, "file_removal queued no derivative regeneration"
    from photojobs.engine.inline import run_inline
    run_inline(lib, regen[-1], install_signals=False)
    a = photos(lib, "Shoot")["A"]
    assert a["thumbnail_status"] == "generated"
    assert (project / ".thumb" / "A.jpg").read_bytes() != thumb_a


def test_second_trashed_file_of_the_same_name_gets_a_unique_name(cli, lib, project, tmp_path):
    first = (project / "C.JPG").read_bytes()
    cli("keep", "Shoot", "C", "--no-jpg")
    assert cli("commit", "Shoot", "--yes").code == 0
    shoot(tmp_path / "again", "C", raw=False, seed=9)
    assert cli("upload", tmp_path / "again", "-p", "Shoot", "--json").code == 0
    cli("keep", "Shoot", "C", "--no-jpg")
    assert cli("commit", "Shoot", "--yes").code == 0
    trash = project / ".trash"
    assert {"C.JPG", "C (2).JPG"} <= visible(trash)
    assert (trash / "C.JPG").read_bytes() == first  # the first one was not overwritten


@pytest.mark.both_backends
def test_commit_then_restore_round_trip_loses_nothing(cli, lib, project, backend):
    originals = {n: (project / n).read_bytes() for n in visible(project)}
    cli("keep", "Shoot", "--all", "--no-jpg", "--no-raw")
    assert cli("commit", "Shoot", "--yes").code == 0
    assert visible(project) == set()
    trash = cli("trash", "list", "Shoot", "--json").json()
    assert sorted(e["original"] for e in trash) == sorted(originals)
    r = cli("trash", "restore", "Shoot", "--all", "--json")
    assert r.code == 0, r
    assert {n: (project / n).read_bytes() for n in visible(project)} == originals
    assert visible(project / ".trash") == set()
    cat = photos(lib, "Shoot")
    assert set(cat) == {"A", "B", "C"}
    assert all(p["keep_jpg"] == p["jpg_available"] and p["keep_raw"] == p["raw_available"] for p in cat.values())
    assert cat["B"]["sidecars"] == ["B.xmp"] and cat["A"]["raw_available"]
    assert all(p["thumbnail_status"] == "generated" for p in cat.values())
    assert cli("commit", "Shoot", "--yes", "--json").json()["job"] is None  # nothing left to do
