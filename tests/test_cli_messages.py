"""A photographer's first hour: messages and exit codes that tell the truth about their files."""

from __future__ import annotations

import shlex

from photo_fixtures import photos, project_jobs, shoot, visible


def test_a_different_photo_under_a_taken_name_is_not_called_a_duplicate(cli, lib, tmp_path):
    """A second card's IMG_0001 is another picture: the summary must not file it under
    duplicates (a photographer formats the card after reading that), but say it was not imported."""
    first, second = tmp_path / "first", tmp_path / "second"
    shoot(first, "IMG_0001", seed=1)
    shoot(second, "IMG_0001", seed=2)   # same names, different pictures
    shoot(second, "IMG_0002", seed=3)
    assert cli("upload", first, "-p", "P", "--no-wait").code == 0

    r = cli("upload", second, "-p", "P", "--no-wait")
    assert r.code == 0, r
    assert "duplicates" not in r.out, r.out   # nothing in `second` is a copy of a project file
    assert f"not imported: {second / 'IMG_0001.JPG'}: a different IMG_0001.JPG is already in the project" in r.out
    assert "2 not imported" in r.out and "--on-duplicate rename" in r.out

    rep = cli("upload", second, "-p", "P", "--no-wait", "--json").json()
    assert {s["name"]: s["identical"] for s in rep["skipped"]} == {
        "IMG_0001.JPG": False, "IMG_0001.DNG": False, "IMG_0002.JPG": True, "IMG_0002.DNG": True}

    shoot(tmp_path / "third", "IMG_0002", seed=3)   # the very same files again
    same = cli("upload", tmp_path / "third", "-p", "P", "--no-wait")
    assert same.code == 0 and "skipped 2 duplicates" in same.out and "not imported" not in same.out, same


def test_a_mistyped_card_path_leaves_no_empty_project_behind(cli, lib, tmp_path):
    r = cli("upload", tmp_path / "media" / "card" / "DCIM", "-p", "Smith wedding", "--no-wait")
    assert r.code == 1, r
    assert "no such folder" in r.err and "is the card mounted?" in r.err, r
    assert cli("project", "list", "--json").json() == []
    assert not (lib.root / "Smith wedding").exists()

    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "bad.jpg").write_text("not a photo")
    assert cli("upload", junk, "--no-wait").code == 5
    assert cli("project", "list", "--json").json() == []
    assert not (lib.root / "junk").exists()


def test_an_upload_of_junk_into_an_existing_project_still_names_it(cli, lib, tmp_path):
    shoot(tmp_path / "card", "A")
    assert cli("upload", tmp_path / "card", "-p", "P", "--no-wait").code == 0
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "bad.jpg").write_text("not a photo")
    r = cli("upload", junk, "-p", "P", "--no-wait")
    assert r.code == 5 and "imported 0 files into P" in r.out, r
    assert visible(lib.root / "P") == {"A.JPG", "A.DNG"}


def test_the_undo_hint_after_a_commit_can_be_pasted_as_is(cli, lib, tmp_path):
    shoot(tmp_path / "card", "A")
    assert cli("upload", tmp_path / "card", "-p", "Smith wedding").code == 0
    assert cli("keep", "Smith wedding", "A", "--no-raw").code == 0
    r = cli("commit", "Smith wedding", "--yes")
    assert r.code == 0, r
    hint = r.out.split("undo with `", 1)[1].split("`", 1)[0]
    args = shlex.split(hint)
    assert args == ["photojobs", "trash", "restore", "Smith wedding", "--all"], hint
    assert cli(*args[1:]).code == 0
    assert photos(lib, "Smith wedding")["A"]["raw_available"]


def test_a_negative_trash_ttl_is_refused_not_taken_as_expire_everything_now(cli, make_config):
    r = cli("--config", make_config({"maintenance": {"trash_ttl_hours": -1}}), "project", "list")
    assert r.code == 2 and "'maintenance.trash_ttl_hours' must be at least 0" in r.err, r


def test_a_port_out_of_range_is_a_config_error_not_an_internal_error(cli, make_config):
    r = cli("--config", make_config({"daemon": {"port": 99999}}), "project", "list")
    assert r.code == 2 and "'daemon.port' must be at most 65535, got 99999" in r.err, r


def test_an_out_of_range_priority_is_a_one_line_error(cli, lib, tmp_path):
    shoot(tmp_path / "card", "A")
    assert cli("upload", tmp_path / "card", "-p", "P").code == 0
    before = len(project_jobs(lib, "P"))
    r = cli("jobs", "enqueue", "P", "manifest_check", "--priority", str(10**21))
    assert r.code == 1 and "priority 1000000000000000000000 is out of range" in r.err, r
    assert "internal error" not in r.err
    assert len(project_jobs(lib, "P")) == before


def test_read_only_commands_do_not_turn_a_mistyped_path_into_a_library(cli, tmp_path):
    card = tmp_path / "card"            # say, the card itself, or an unmounted drive's mount point
    card.mkdir()
    for args in (("project", "list"), ("jobs", "list"), ("photos", "list", "P"), ("jobs", "watch", "--once")):
        r = cli(*args, library=card)
        assert r.code == 3 and "no photojobs library at" in r.err, (args, r)
    assert list(card.iterdir()) == []
    assert cli("project", "create", "P", library=card).code == 0      # adding to it makes one
    assert cli("project", "list", "--json", library=card).json()[0]["name"] == "P"


def test_photos_list_warns_when_the_project_folder_is_not_there(cli, lib, tmp_path):
    assert cli("project", "create", "P").code == 0
    (lib.root / "P" / ".photojobs-project").unlink()
    r = cli("photos", "list", "P")
    assert r.code == 0 and "has no .photojobs-project marker (is its drive mounted?)" in r.err


def test_commit_dry_run_says_nothing_moved(cli, lib, tmp_path):
    from photo_fixtures import shoot
    shoot(tmp_path / "card", "A")
    assert cli("upload", tmp_path / "card", "-p", "P", "--no-wait").code == 0
    assert cli("keep", "P", "A", "--no-raw").code == 0
    r = cli("commit", "P", "--dry-run")
    assert r.code == 0 and "dry run: nothing was moved" in r.out
    assert (lib.root / "P" / "A.DNG").exists()
