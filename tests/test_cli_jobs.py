"""The `project` and `jobs` commands: what they print and what they leave in the catalog."""

from __future__ import annotations

import pytest

import json

JOB_FIELDS = {"id", "project_id", "project_folder", "type", "status", "priority", "attempts", "max_attempts",
              "progress_done", "progress_total", "payload", "error_message", "task_id", "created_at",
              "started_at", "finished_at"}


def test_project_create_list_show(cli, library_path):
    created = cli("project", "create", "Wedding / Smith 2026", "--json").json()
    assert created["folder"] == "Wedding - Smith 2026"
    again = cli("project", "create", "Wedding / Smith 2026", "--json").json()
    assert again["folder"] == "Wedding - Smith 2026-2"           # unique folder, never shared
    assert (library_path / "Wedding - Smith 2026" / ".trash").is_dir()
    assert [p["folder"] for p in cli("project", "list", "--json").json()] == \
        ["Wedding - Smith 2026", "Wedding - Smith 2026-2"]
    assert cli("project", "show", "Wedding - Smith 2026-2", "--json").json()["id"] == again["id"]
    missing = cli("project", "show", "nope")
    assert missing.code == 3 and missing.err.strip() == \
        "photojobs: error: no such project: nope (`photojobs project list` shows them all)"


def test_traversal_names_stay_inside_the_library(cli, library_path):
    p = cli("project", "create", "../../etc", "--json").json()
    assert "/" not in p["folder"] and not p["folder"].startswith(".")
    assert (library_path / p["folder"]).is_dir()


def test_jobs_enqueue_list_show_json(cli):
    cli("project", "create", "P")
    out = cli("jobs", "enqueue", "P", "test_project_noop", "--payload", '{"x": 1}', "--priority", "95")
    assert out.code == 0
    job_id = int(out.out.strip())
    jobs = cli("jobs", "list", "--json").json()
    assert JOB_FIELDS <= set(jobs[0]) and jobs[0]["id"] == job_id
    assert jobs[0]["payload"] == {"x": 1} and jobs[0]["priority"] == 95 and jobs[0]["project_folder"] == "P"
    shown = cli("jobs", "show", str(job_id), "--json").json()
    assert shown["items_summary"] == {"pending": 0, "running": 0, "done": 0, "failed": 0, "skipped": 0}
    human = cli("jobs", "show", str(job_id))
    assert "test_project_noop" in human.out and human.code == 0


def test_jobs_enqueue_errors_are_one_line(cli):
    cli("project", "create", "P")
    bad_type = cli("jobs", "enqueue", "P", "resize_everything")
    assert bad_type.code != 0 and bad_type.err.strip() == "photojobs: error: Unknown job type: resize_everything"
    bad_json = cli("jobs", "enqueue", "P", "test_noop", "--payload", "{nope")
    assert bad_json.code != 0 and "--payload is not valid JSON" in bad_json.err
    assert "Traceback" not in bad_json.err + bad_type.err
    assert cli("jobs", "list", "--json").json() == []


@pytest.mark.both_backends
def test_jobs_run_cancel_retry_prune(cli, cli_proc, tmp_path, backend):
    log = tmp_path / "items.log"
    cli("project", "create", "P")
    job_id = int(cli("jobs", "enqueue", "P", "test_items", "--payload",
                     json.dumps({"log": str(log), "filenames": ["a", "b"], "fail": ["b"]})).out)
    queued = int(cli("jobs", "enqueue", "P", "test_sleep", "--priority", "5").out)
    assert cli("jobs", "cancel", str(queued), "--json").json()["status"] == "canceled"
    run = cli_proc("jobs", "run", "--until-empty", "--json")
    assert run.code == 0 and json.loads(run.out)["finished"] == 1
    shown = cli("jobs", "show", str(job_id), "--json").json()
    assert shown["status"] == "completed" and shown["progress_failed"] == 1
    assert [i["message"] for i in shown["items"] if i["status"] == "failed"] == ["planned item failure"]
    assert "planned item failure" in cli("jobs", "show", str(job_id)).out
    retried = cli("jobs", "retry", str(queued), "--no-wait", "--json").json()
    assert retried["status"] == "queued"
    assert cli("jobs", "retry", str(job_id)).code != 0     # completed jobs are not retried
    assert cli_proc("jobs", "run", "--max-jobs", "1").code == 0
    assert cli("jobs", "show", str(queued), "--json").json()["status"] == "completed"
    pruned = cli("jobs", "prune", "--older-than-days", "0", "--json").json()
    assert pruned["jobs"] == 2 and pruned["events"] > 0
    assert cli("jobs", "list", "--json").json() == []


def test_every_command_has_help(cli):
    from photojobs.cli import app
    import typer.main
    root = typer.main.get_command(app)

    def walk(cmd, path):
        yield path, cmd
        for name, sub in getattr(cmd, "commands", {}).items():
            yield from walk(sub, [*path, name])
    for path, cmd in walk(root, []):
        assert (cmd.help or "").strip(), f"photojobs {' '.join(path)} has no help"
        out = cli(*path, "--help")
        assert out.code == 0


def test_an_unexpected_error_is_one_line_and_verbose_shows_the_traceback(cli_proc, lib):
    """A damaged catalog (a column dropped by hand) must not greet the user with a traceback."""
    from photojobs.photos.projects import create_project
    create_project(lib, "P")
    lib.conn().execute("ALTER TABLE photos DROP COLUMN derivative_error")
    lib.conn().execute("INSERT INTO photos (project_id, basename, basename_key, created_at, updated_at) "
                       "VALUES (1, 'A', 'a', 0, 0)")
    r = cli_proc("photos", "list", "P")
    assert r.code == 70
    assert r.err.strip().startswith("photojobs: internal error:") and len(r.err.strip().splitlines()) == 1
    verbose = cli_proc("-v", "photos", "list", "P")
    assert verbose.code == 70 and "Traceback" in verbose.err
