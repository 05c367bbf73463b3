"""The first hour at the command line: finding projects, options where they are typed, culling
words, trash by photo name, counts, one vocabulary, and no work left queued without a word."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from photo_fixtures import photos, project_jobs, shoot, visible
from photojobs.engine import pause, queue
from photojobs.engine.runner import Runner
from photojobs.photos import projects


def photojobs(*args, env: dict | None = None) -> subprocess.CompletedProcess:
    """The real command, with arguments exactly as typed (no --library put in front)."""
    return subprocess.run([sys.executable, "-m", "photojobs", *map(str, args)], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


def _card(tmp_path, name="card", *basenames):
    for i, b in enumerate(basenames or ("A",)):
        shoot(tmp_path / name, b, seed=i)
    return tmp_path / name


# --- #9.17, #11.8: the project lookup every command uses -------------------------------------------

def test_a_project_name_beats_an_id_and_an_id_used_is_named(cli, lib, tmp_path):
    projects.create_project(lib, "Alpha")
    etc = projects.create_project(lib, "/etc")
    assert etc["id"] == 2 and etc["folder"] == "etc"

    # No project is called "2": the id is used, and the output says which project that is.
    r = cli("upload", _card(tmp_path, "first", "A"), "--project", "2", "--no-wait")
    assert r.code == 0, r
    assert "no project is named '2': using project 2, '/etc' (folder etc)" in r.err
    assert "imported 2 files into etc" in r.out
    assert visible(lib.root / "etc") == {"A.JPG", "A.DNG"}

    # Once a project is called "2", "2" means it, whatever the ids say, and nothing is noted.
    two = projects.create_project(lib, "2")
    r = cli("upload", _card(tmp_path, "second", "B"), "--project", "2", "--no-wait")
    assert r.code == 0, r
    assert "using project" not in r.err and "imported 2 files into 2" in r.out
    assert set(photos(lib, two["folder"])) == {"B"} and set(photos(lib, "etc")) == {"A"}
    assert [p["basename"] for p in cli("photos", "list", "2", "--json").json()] == ["B"]
    shown = cli("project", "show", "2", "--json").json()
    assert (shown["id"], shown["name"]) == (two["id"], "2")


def test_a_typo_gets_a_suggestion_and_case_is_forgiven_when_unambiguous(cli, lib):
    r = cli("photos", "list", "Smith wedding")
    assert r.code == 3 and r.err.strip() == \
        "photojobs: error: no such project: Smith wedding (the library has no projects yet)"
    projects.create_project(lib, "Smith wedding")
    projects.create_project(lib, "Jones portraits")

    r = cli("photos", "list", "Smith weding")
    assert r.code == 3, r
    assert r.err.strip() == ("photojobs: error: no such project: Smith weding; did you mean 'Smith wedding'? "
                             "(`photojobs project list` shows them all)")

    r = cli("photos", "list", "smith WEDDING", "--json")
    assert r.code == 0 and r.json() == []
    assert "using project 'Smith wedding' (folder Smith wedding) for 'smith WEDDING'" in r.err

    projects.create_project(lib, "SMITH WEDDING")   # now "smith wedding" could be either
    r = cli("keep", "smith wedding", "--all")
    assert r.code == 3 and "did you mean 'SMITH WEDDING' or 'Smith wedding'?" in r.err, r
    assert cli("photos", "list", "SMITH WEDDING").code == 0   # the exact name still finds it


# --- #11.3: global options after the command, --version, --quiet, completion ------------------------

def test_global_options_work_after_the_command_too(library_path, tmp_path):
    made = photojobs("project", "create", "P", "--library", library_path, "--json")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["folder"] == "P" and (library_path / "P").is_dir()

    r = photojobs("jobs", "enqueue", "P", "test_noop", "-L", library_path, "-v")
    assert r.returncode == 0, r.stderr
    assert "no daemon running; job 1 stays queued" in r.stderr   # what -v says, typed last

    # A command's own option keeps its value even when the value looks like a global option.
    listed = photojobs("jobs", "list", "-t", "-v", "--json", f"--library={library_path}")
    assert listed.returncode == 0 and json.loads(listed.stdout) == []

    version = photojobs("--version")
    assert version.returncode == 0 and version.stdout.strip().startswith("photojobs 0.")


def test_quiet_keeps_errors_warnings_and_what_was_asked_for(cli, lib, tmp_path):
    assert cli("upload", _card(tmp_path, "card", "A"), "-p", "P").code == 0
    quiet = cli("keep", "P", "A", "--no-raw", "-q")
    assert quiet.code == 0 and quiet.out == "" and not photos(lib, "P")["A"]["keep_raw"]
    listed = cli("photos", "list", "P", "-q")
    assert "A.JPG" in listed.out                      # the table is what was asked for
    assert cli("photos", "list", "P", "--json", "-q").json()[0]["basename"] == "A"
    missing = cli("keep", "nope", "A", "-q")
    assert missing.code == 3 and "no such project: nope" in missing.err
    both = cli("project", "list", "-v", "-q")
    assert both.code == 2 and "--verbose and --quiet" in both.err


def test_shell_completion_completes_commands():
    r = photojobs(env={"_PHOTOJOBS_COMPLETE": "complete_bash", "COMP_WORDS": "photojobs trash re",
                       "COMP_CWORD": "2"})
    assert r.returncode == 0 and r.stdout.split() == ["restore"]


# --- #11.5: culling words ----------------------------------------------------------------------------

@pytest.fixture
def shoot_p(cli, lib, tmp_path):
    card = tmp_path / "card"
    shoot(card, "A", seed=1)
    shoot(card, "B", seed=2)
    (card / "B.xmp").write_text("<x/>")
    assert cli("upload", card, "-p", "P").code == 0
    return lib.root / "P"


def test_reject_keeps_neither_and_keep_without_flags_keeps_both(cli, lib, shoot_p):
    r = cli("reject", "P", "a", "B.DNG")
    assert r.code == 0 and "2 photos changed" in r.out and "`photojobs commit P` moves their files" in r.out
    assert {b: (p["keep_jpg"], p["keep_raw"]) for b, p in photos(lib, "P").items()} == {
        "A": (False, False), "B": (False, False)}
    assert cli("keep", "P", "A").code == 0
    assert {b: (p["keep_jpg"], p["keep_raw"]) for b, p in photos(lib, "P").items()} == {
        "A": (True, True), "B": (False, False)}
    assert cli("keep", "P", "A", "--no-raw").code == 0   # one flag: only that choice changes
    assert (photos(lib, "P")["A"]["keep_jpg"], photos(lib, "P")["A"]["keep_raw"]) == (True, False)

    for usage in (("reject", "P"), ("reject", "P", "A", "--all"), ("keep", "P"), ("keep", "P", "A", "--all")):
        r = cli(*usage)
        assert r.code == 2 and r.err.startswith("photojobs: error:"), (usage, r)
    assert cli("reject", "P", "NOPE").code == 3

    assert cli("commit", "P", "--yes").code == 0
    assert visible(shoot_p) == {"A.JPG"} and visible(shoot_p / ".trash") == {"B.JPG", "B.DNG", "B.xmp", "A.DNG"}


# --- #11.6, #11.9: the trash ---------------------------------------------------------------------------

def test_trash_restore_takes_a_photo_name_like_keep(cli, lib, shoot_p):
    assert cli("reject", "P", "A", "B").code == 0
    assert cli("commit", "P", "--yes").code == 0
    r = cli("trash", "restore", "P", "b", "--json")
    assert r.code == 0, r
    assert sorted(x["original"] for x in r.json()["restored"]) == ["B.DNG", "B.JPG", "B.xmp"]
    assert visible(shoot_p) == {"B.JPG", "B.DNG", "B.xmp"}
    assert visible(shoot_p / ".trash") == {"A.JPG", "A.DNG"}
    b = photos(lib, "P")["B"]
    assert (b["jpg_available"], b["raw_available"], b["keep_jpg"], b["keep_raw"], b["sidecars"]) == \
        (True, True, True, True, ["B.xmp"])
    assert b["thumbnail_status"] == "generated"      # ran here: no daemon
    r = cli("trash", "restore", "P", "B")             # B is back: nothing of it in the trash now
    assert r.code == 3 and "not in the trash of P: B" in r.err


def test_trash_list_shows_human_sizes_and_local_times_json_keeps_exact_values(cli, cli_proc, lib, shoot_p):
    assert cli("reject", "P", "A").code == 0
    assert cli("commit", "P", "--yes").code == 0
    entries = {e["name"]: e for e in cli("trash", "list", "P", "--json").json()}
    assert entries["A.DNG"]["size"] == (shoot_p / ".trash" / "A.DNG").stat().st_size   # exact bytes
    trashed = entries["A.DNG"]["trashed_at"]
    assert trashed.endswith("Z") and "." in trashed                                    # UTC, ms
    when = datetime.fromisoformat(trashed)
    r = cli_proc("trash", "list", "P", env={"TZ": "Asia/Kolkata"})                  # UTC+05:30
    assert r.code == 0, r
    local = when.astimezone(timezone.utc).replace(tzinfo=None)
    from datetime import timedelta
    assert (local + timedelta(hours=5, minutes=30)).strftime("%Y-%m-%d %H:%M") in r.out
    assert trashed not in r.out and "kB" in r.out
    row = next(line for line in r.out.splitlines() if "A.DNG" in line)
    assert str(entries["A.DNG"]["size"]) not in row


# --- #11.4: project list with counts, photos show -----------------------------------------------------

@pytest.mark.both_backends
def test_project_list_counts_photos_culling_derivatives_and_size(cli, lib, tmp_path, backend):
    card = tmp_path / "card"
    shoot(card, "A", seed=1)
    shoot(card, "B", seed=2)
    shoot(card, "C", seed=3, raw=False)
    assert cli("upload", card, "-p", "P").code == 0
    assert cli("reject", "P", "C").code == 0
    assert cli("keep", "P", "B", "--no-jpg").code == 0   # a RAW kept: kept, not rejected
    (lib.root / "P" / "C.JPG").write_bytes(b"\xff\xd8\xff broken")     # its derivatives will fail
    assert cli("process", "P", "C").code == 5
    assert cli("upload", _card(tmp_path, "other", "X"), "-p", "Q", "--no-wait").code == 0   # left pending
    projects.create_project(lib, "Empty")

    listed = {p["name"]: p for p in cli("project", "list", "--json").json()}
    p, q, empty = listed["P"], listed["Q"], listed["Empty"]
    assert (p["photos"], p["kept"], p["rejected"], p["derivatives_pending"], p["derivatives_failed"]) == (3, 2, 1, 0, 1)
    assert (q["photos"], q["kept"], q["rejected"], q["derivatives_pending"], q["derivatives_failed"]) == (1, 1, 0, 1, 0)
    assert empty["photos"] == 0
    for name in ("P", "Empty"):   # originals, derivatives, trash and marker: the whole folder
        assert listed[name]["size_bytes"] == sum(f.stat().st_size for f in (lib.root / name).rglob("*") if f.is_file())
    human = cli("project", "list")
    row = next(line for line in human.out.splitlines() if " P " in line and "Empty" not in line)
    assert "1 failed" in row and "kB" in row
    assert "1 pending" in next(line for line in human.out.splitlines() if " Q " in line)
    assert cli("project", "show", "P", "--json").json()["rejected"] == 1


def test_photos_show_tells_files_flags_metadata_derivatives_and_jobs(cli, lib, shoot_p):
    assert cli("keep", "P", "B", "--no-jpg").code == 0
    r = cli("photos", "show", "P", "b.dng", "--json")
    assert r.code == 0, r
    b = r.json()
    assert [(f["name"], f["role"], f["available"], f["keep"]) for f in b["files"]] == [
        ("B.JPG", "jpg", True, False), ("B.DNG", "raw", True, True), ("B.xmp", "sidecar", True, None)]
    assert b["files"][0]["size_bytes"] == (shoot_p / "B.JPG").stat().st_size
    assert b["metadata"]["jpg"]["make"] == "Canon" and b["metadata"]["raw"]["date_time_original"]
    assert b["thumbnail_status"] == "generated" and b["thumbnail"].endswith("/.thumb/B.jpg")
    assert b["derivative_error"] is None
    assert [(j["job_type"], j["item_status"]) for j in b["jobs"]] == [("upload_postprocess", "done")]
    assert b["created_at"] <= b["updated_at"] and b["updated_at"].endswith("Z")   # the keep changed it

    (shoot_p / "B.JPG").write_bytes(b"\xff\xd8\xff broken")
    assert cli("process", "P", "B").code == 5
    human = cli("photos", "show", "P", "B")
    assert human.code == 0
    assert "to .trash" in human.out and "kept" in human.out and "follows the photo" in human.out
    assert "last error" in human.out and "generate_derivatives" in human.out
    assert "catalogued" in human.out and "changed" in human.out
    shown = cli("photos", "show", "P", "B", "--json").json()
    assert shown["derivative_error"] and shown["jobs"][0]["job_type"] == "generate_derivatives"
    assert shown["jobs"][0]["item_status"] == "failed" and shown["jobs"][0]["message"] == shown["derivative_error"]
    missing = cli("photos", "show", "P", "Z")
    assert missing.code == 3 and "no such photo in P: Z" in missing.err


# --- #11.7: nothing silent -----------------------------------------------------------------------------

def test_jobs_retry_runs_the_job_here_without_a_daemon(cli, lib, tmp_path):
    projects.create_project(lib, "P")
    log = tmp_path / "record.log"
    job_id = int(cli("jobs", "enqueue", "P", "test_record", "--payload", json.dumps({"log": str(log)})).out)
    assert cli("jobs", "cancel", str(job_id)).code == 0
    r = cli("jobs", "retry", str(job_id))
    assert r.code == 0, r
    assert "completed" in r.out and log.read_text().split()[0] == str(job_id)
    assert queue.get_job(lib, job_id)["status"] == "completed"

    failing = int(cli("jobs", "enqueue", "P", "test_fail", "--payload", '{"permanent": true}').out)
    assert cli("jobs", "cancel", str(failing)).code == 0
    r = cli("jobs", "retry", str(failing))
    assert r.code == 6 and "permanent failure requested" in r.out, r

    queued = int(cli("jobs", "enqueue", "P", "test_noop").out)
    assert cli("jobs", "cancel", str(queued)).code == 0
    r = cli("jobs", "retry", str(queued), "--no-wait")
    assert r.code == 0 and f"job {queued} queued (`photojobs jobs run --until-empty`" in r.out
    assert queue.get_job(lib, queued)["status"] == "queued"


from test_daemon_fixtures import start_daemon  # noqa: E402,F401 - fixture: a real `photojobs daemon run`


def test_work_handed_to_a_daemon_whose_lane_is_paused_is_said_to_wait(cli, lib, tmp_path, start_daemon):
    assert cli("upload", _card(tmp_path, "card", "A"), "-p", "P").code == 0
    start_daemon({"daemon": {"watch_mode": "off"}})
    pause.pause(lib)
    r = cli("process", "P", "--force")
    assert r.code == 0, r
    job_id = project_jobs(lib, "P")[-1]["id"]
    assert f"job {job_id} stays queued in the daemon: the normal lane is paused" in r.err and "jobs resume" in r.err
    assert r.out.strip() == f"job {job_id} queued"
    r = cli("scan", "P", "--json")
    assert r.code == 0 and [x["paused_lane"] for x in r.json()] == ["priority", "priority"], r
    assert r.err.count("stays queued in the daemon: the priority lane is paused") == 2
    assert {j["status"] for j in project_jobs(lib, "P")[-3:]} == {"queued"}


# --- #11.11: one vocabulary ------------------------------------------------------------------------------

def test_maintenance_json_shows_each_job_as_it_ended(cli, lib):
    projects.create_project(lib, "P")
    r = cli("maintenance", "run", "P", "--json")
    assert r.code == 0, r
    [run] = r.json()
    assert run["task"]["status"] == "completed"
    assert run["job"]["status"] == "completed" == run["task"]["jobs"][0]["status"]
    assert run["job"]["id"] == run["task"]["jobs"][0]["id"]
    shown = cli("jobs", "show", str(run["job"]["id"]), "--json").json()
    assert [j["type"] for j in shown["task"]["jobs"]] == [j["type"] for j in run["task"]["jobs"]]


def test_jobs_list_finds_completed_jobs_with_failed_items(cli, lib, tmp_path):
    projects.create_project(lib, "P")
    log = tmp_path / "items.log"
    partly = queue.enqueue(lib, "test_items", project="P",
                           payload={"log": str(log), "filenames": ["a", "b", "c", "d"], "fail": ["a", "b", "c"]})
    clean = queue.enqueue(lib, "test_items", project="P", payload={"log": str(log), "filenames": ["e"]})
    Runner(lib, until_empty=True).run()
    assert {queue.get_job(lib, j["id"])["status"] for j in (partly, clean)} == {"completed"}
    assert cli("jobs", "list", "-s", "failed", "--json").json() == []
    found = cli("jobs", "list", "--failed-items", "--json").json()
    assert [(j["id"], j["status"], j["progress_failed"]) for j in found] == [(partly["id"], "completed", 3)]
    assert cli("jobs", "list", "--failed-items", "-s", "failed", "--json").json() == []
    bad = cli("jobs", "list", "-s", "broken")
    assert bad.code == 2 and "unknown job status: broken" in bad.err
