"""Maintenance jobs: manifest_check, folder_check, manifest_cleaning, and their refusal to touch an unmounted project."""

from __future__ import annotations

import os
import shutil

import pytest

from photo_fixtures import photos, project_jobs, shoot, visible


@pytest.fixture
def project(cli, lib, tmp_path):
    card = tmp_path / "card"
    shoot(card, "A", seed=1)
    shoot(card, "B", seed=2)
    shoot(card, "C", seed=3, raw=False)
    assert cli("upload", card, "-p", "P", "--no-wait").code == 0
    return lib.root / "P"


def _flags(lib):
    """What a wiped catalog would lose: which files each photo has and what to keep."""
    return {b: (p["jpg_available"], p["raw_available"], p["keep_jpg"], p["keep_raw"])
            for b, p in photos(lib, "P").items()}


def _run(cli, *args):
    return cli("maintenance", "run", *args)


def test_manifest_check_follows_the_disk_and_is_idempotent(cli, lib, project):
    os.unlink(project / "A.JPG")
    os.unlink(project / "B.DNG")
    r = _run(cli, "P", "--type", "manifest_check")
    assert r.code == 0 and r.out == "" and r.err == ""  # quiet on success: cron-friendly
    cat = photos(lib, "P")
    assert (cat["A"]["jpg_available"], cat["A"]["keep_jpg"], cat["A"]["raw_available"]) == (False, False, True)
    assert (cat["B"]["jpg_available"], cat["B"]["raw_available"], cat["B"]["keep_raw"]) == (True, False, False)
    assert _run(cli, "P", "--type", "manifest_check").code == 0
    assert photos(lib, "P") == cat
    shutil.copy2(lib.root.parent / "card" / "A.JPG", project / "A.JPG")  # it comes back: kept again
    assert _run(cli, "P", "--type", "manifest_check").code == 0
    a = photos(lib, "P")["A"]
    assert a["jpg_available"] and a["keep_jpg"]


def test_folder_check_adopts_photos_and_leaves_strangers_in_place(cli, lib, project, tmp_path):
    shoot(tmp_path / "side", "NEW", seed=7)
    for f in (tmp_path / "side").iterdir():
        shutil.copy2(f, project / f.name)
    (project / "NEW.xmp").write_text("<x/>")
    (project / "orphan.xmp").write_text("<x/>")
    (project / "readme.txt").write_text("hi")
    (project / "fake.jpg").write_text("not a jpeg")
    (project / ".hidden").write_text("h")
    r = _run(cli, "P", "--type", "folder_check", "--json")
    assert r.code == 0, r
    new = photos(lib, "P")["NEW"]
    assert new["jpg_available"] and new["raw_available"] and new["keep_jpg"] and new["sidecars"] == ["NEW.xmp"]
    assert new["date_time_original"] == "2024-05-01T10:00:00"
    assert visible(project / ".trash") == set()
    assert {"readme.txt", "fake.jpg", "orphan.xmp", "NEW.xmp", ".hidden", ".photojobs-project"} <= set(os.listdir(project))
    shown = cli("project", "show", "P", "--json").json()["not_photos"]
    assert [(f["name"], f["reason"]) for f in shown] == [("fake.jpg", "content does not match its extension"),
                                                          ("readme.txt", "not an accepted file type")]
    post = [j for j in project_jobs(lib, "P") if j["type"] == "upload_postprocess" and j["source"].startswith("folder_check")]
    assert len(post) == 1 and post[0]["progress_total"] == 1


def test_manifest_cleaning_drops_photos_with_no_file_left(cli, lib, project):
    os.unlink(project / "C.JPG")
    os.unlink(project / "A.JPG")
    assert _run(cli, "P", "--type", "manifest_cleaning").code == 0
    assert set(photos(lib, "P")) == {"A", "B"}


@pytest.mark.both_backends
def test_full_maintenance_task_and_all_projects(cli, lib, project, tmp_path, backend):
    shoot(tmp_path / "other", "Z")
    assert cli("upload", tmp_path / "other", "-p", "Q", "--no-wait").code == 0
    os.unlink(project / "C.JPG")
    r = _run(cli, "--all", "--json")
    assert r.code == 0, r
    runs = r.json()
    assert len(runs) == 2
    assert [j["type"] for j in runs[0]["task"]["jobs"]] == [
        "trash_maintenance", "manifest_check", "folder_check", "manifest_cleaning"]
    assert set(photos(lib, "P")) == {"A", "B"}
    assert _run(cli).code == 2 and _run(cli, "P", "--all").code == 2  # one project or --all: usage
    assert _run(cli, "P", "--type", "bogus").code == 2
    assert _run(cli, "P", "--force").code == 2  # --force needs a --type it applies to


@pytest.mark.parametrize("how", ["folder gone", "marker gone", "emptied"])
def test_an_unmounted_project_leaves_the_catalog_alone(cli, lib, project, tmp_path, how):
    before = _flags(lib)
    if how == "folder gone":  # the drive is not plugged in
        project.rename(tmp_path / "elsewhere")
    elif how == "marker gone":  # an empty mount point in its place
        os.unlink(project / ".photojobs-project")
        for name in visible(project):
            os.unlink(project / name)
    else:
        for name in visible(project):
            os.unlink(project / name)
    r = _run(cli, "P")
    assert r.code == 6, r
    reason = {"folder gone": "is missing", "marker gone": "marker", "emptied": "has no photos"}[how]
    assert reason in r.err
    for t in ("manifest_check", "manifest_cleaning"):
        assert _run(cli, "P", "--type", t).code == 6
    assert _flags(lib) == before
    if how == "emptied":  # the photographer really deleted them: --force says so
        assert _run(cli, "P", "--type", "manifest_check", "--force").code == 0
        assert not any(p["jpg_available"] or p["raw_available"] for p in photos(lib, "P").values())


def test_maintenance_from_cron_in_a_real_process(cli_proc, project):
    r = cli_proc("maintenance", "run", "--all")
    assert (r.code, r.out, r.err) == (0, "", "")
    project.rename(project.with_name("gone"))
    r = cli_proc("maintenance", "run", "--all")
    assert r.code == 6 and "P" in r.err and "missing" in r.err and r.out == ""
