"""The daemon's HTTP API against a real daemon subprocess: endpoints, error codes, token, streams."""

from __future__ import annotations

import json

import httpx
import pytest

from photojobs.config import load_config
from photojobs.engine import events as events_engine
from photojobs.library import Library
from photojobs.photos import projects
from test_daemon_fixtures import job_reached, read_events, start_daemon  # noqa: F401 - fixture

JSON = {"Content-Type": "application/json"}
JOB_EVENT_FIELDS = {"id", "status", "progress_done", "progress_total", "task_id", "task_type", "source",
                    "project_folder", "job_type"}


@pytest.fixture
def project(lib):
    return projects.create_project(lib, "Wedding 2024")


def test_health_status_and_state_file(start_daemon, cli_proc, library_path):
    d = start_daemon()
    with d.http() as http:
        health = http.get("/api/health").json()
    assert health["status"] == "ok" and health["pid"] == d.pid
    assert health["library"] == str(library_path.resolve())
    assert [lane["name"] for lane in health["lanes"]] == ["priority", "normal"]
    assert health["paused"]["lanes"] == {"priority": False, "normal": False}
    assert cli_proc("jobs", "pause", "--lane", "normal").code == 0
    with d.http() as http:
        assert http.get("/api/health").json()["paused"]["lanes"] == {"priority": False, "normal": True}
    status = cli_proc("daemon", "status", "--json")
    assert status.code == 0, status
    st = status.json()
    assert st["running"] and st["pid"] == d.pid and st["url"] == d.url and st["port"] > 0
    assert st["address"] == "127.0.0.1"


def test_enqueue_get_and_list_jobs(start_daemon, project, tmp_path):
    d = start_daemon()
    folder = project["folder"]
    log = tmp_path / "items.log"
    with d.http() as http, d.api().events(after=0, read_timeout=30) as stream:
        r = http.post(f"/api/projects/{folder}/jobs",
                      json={"type": "test_items", "payload": {"log": str(log), "filenames": ["a.jpg", "b.jpg"]}})
        assert r.status_code == 202, r.text
        job = r.json()["job"]
        assert job["project_folder"] == folder and job["progress_total"] == 2 and job["source"] == "api"
        urgent = http.post(f"/api/projects/{folder}/jobs", json={"type": "test_noop", "priority": 95}).json()["job"]
        assert urgent["priority"] == 95
        read_events(stream, lambda evs: job_reached(job["id"], "completed")(evs)
                    and job_reached(urgent["id"], "completed")(evs))

        detail = http.get(f"/api/jobs/{job['id']}").json()["job"]
        assert detail["status"] == "completed"
        assert detail["items_summary"]["done"] == 2 and [i["filename"] for i in detail["items"]] == ["a.jpg", "b.jpg"]

        listed = http.get(f"/api/projects/{folder}/jobs").json()
        assert [j["id"] for j in listed["jobs"]] == [urgent["id"], job["id"]]
        only = http.get(f"/api/projects/{folder}/jobs", params={"type": "test_items", "status": "completed"}).json()
        assert [j["id"] for j in only["jobs"]] == [job["id"]]
        page = http.get(f"/api/projects/{folder}/jobs", params={"limit": 1, "offset": 1}).json()
        assert [j["id"] for j in page["jobs"]] == [job["id"]]
        assert http.get(f"/api/projects/{folder}/jobs", params={"status": "queued"}).json()["jobs"] == []


def test_error_codes_are_json(start_daemon, project):
    d = start_daemon()
    folder = project["folder"]
    cases = [
        ("post", f"/api/projects/{folder}/jobs", {"json": {"type": "resize_everything"}}, 400, "Unknown job type"),
        ("post", f"/api/projects/{folder}/jobs", {"content": b"{nope", "headers": JSON}, 400, "not valid JSON"),
        ("post", f"/api/projects/{folder}/jobs", {"json": ["a"]}, 400, "JSON object"),
        ("post", f"/api/projects/{folder}/jobs", {"json": {}}, 400, "type is required"),
        ("post", f"/api/projects/{folder}/jobs", {"json": {"type": "test_noop", "priority": "high"}}, 400, "priority"),
        ("post", f"/api/projects/{folder}/jobs", {"json": {"type": "test_noop", "payload": []}}, 400, "payload"),
        ("post", f"/api/projects/{folder}/jobs",
         {"json": {"type": "test_items", "payload": {"filenames": ["../../etc/passwd"]}}}, 400, "bad file name"),
        ("post", "/api/projects/nope/jobs", {"json": {"type": "test_noop"}}, 404, "no such project"),
        ("post", "/api/projects/..%2F..%2Fetc/jobs", {"json": {"type": "test_noop"}}, 404, ""),
        ("get", "/api/projects/nope/jobs", {}, 404, "no such project"),
        ("get", f"/api/projects/{folder}/jobs?limit=lots", {}, 400, "limit"),
        ("get", f"/api/projects/{folder}/jobs?limit=0", {}, 400, "limit"),
        ("get", "/api/jobs/999999", {}, 404, "no such job"),
        ("post", "/api/jobs/999999/cancel", {}, 404, "no such job"),
        ("post", f"/api/projects/{folder}/process", {"json": {"filenames": ["a/b.jpg"]}}, 400, "bad file name"),
        ("post", f"/api/projects/{folder}/process?force=maybe", {}, 400, "force"),
        ("post", "/api/projects/nope/process", {}, 404, "no such project"),
        ("post", "/api/projects/nope/commit-changes", {}, 404, "no such project"),
        ("post", "/api/projects/nope/revert-changes", {}, 404, "no such project"),
        ("post", f"/api/projects/{folder}/maintenance", {"json": {"type": "format_disk"}}, 400, "type must be"),
        ("post", "/api/projects/nope/upload", {"files": {"photos": ("a.jpg", b"x")}}, 404, "no such project"),
        ("post", f"/api/projects/{folder}/jobs", {"content": b"x" * (2 << 20), "headers": JSON}, 413, "larger"),
        ("get", "/api/jobs/stream", {"headers": {"Last-Event-ID": "abc"}}, 400, "Last-Event-ID"),
        ("get", "/api/no-such-endpoint", {}, 404, ""),
    ]
    with d.http() as http:
        for method, url, kw, status, fragment in cases:
            r = getattr(http, method)(url, **kw)
            assert r.status_code == status, (url, r.status_code, r.text)
            assert r.headers["content-type"].startswith("application/json"), (url, r.headers)
            assert fragment in r.json()["error"], (url, r.json())


def test_stream_resume_with_last_event_id_has_no_gap_and_no_duplicate(start_daemon, project, library_path):
    d = start_daemon()
    folder = project["folder"]
    with d.http() as http:
        with d.api().events(read_timeout=30) as stream:
            first = [http.post(f"/api/projects/{folder}/jobs", json={"type": "test_noop"}).json()["job"]
                     for _ in range(5)]
            seen = read_events(stream, lambda evs: all(job_reached(j["id"], "completed")(evs) for j in first))
            resume_from = stream.last_id
        # While no client listens, more happens; a reconnecting client gets exactly that.
        second = [http.post(f"/api/projects/{folder}/jobs", json={"type": "test_noop"}).json()["job"]
                  for _ in range(5)]
        with d.api().events(after=resume_from, read_timeout=30) as stream:
            resumed = read_events(stream, lambda evs: all(job_reached(j["id"], "completed")(evs) for j in second))
    ids = [e["_id"] for e in seen + resumed]
    assert ids == sorted(set(ids)), "events out of order or duplicated"
    lib = Library.open(library_path, load_config())
    try:
        logged = [e["id"] for e in events_engine.read_after(lib.conn(), seen[0]["_id"] - 1, limit=10_000)]
    finally:
        lib.close()
    assert ids == logged[:len(ids)], "a gap between the stream and the event log"
    job_events = [e for e in seen + resumed if e.get("kind") == "job"]
    assert all(JOB_EVENT_FIELDS <= set(e) for e in job_events)
    assert [e["status"] for e in job_events if e["id"] == second[0]["id"]] == ["queued", "running", "completed"]


def test_replay_from_an_old_id_reads_the_log(start_daemon, project):
    """A client far behind (older than the in-memory window) is served from the database."""
    d = start_daemon()
    with d.http() as http:
        jobs = [http.post(f"/api/projects/{project['folder']}/jobs", json={"type": "test_noop"}).json()["job"]
                for _ in range(3)]
    with d.api().events(after=0, read_timeout=30) as stream:
        got = read_events(stream, lambda evs: all(job_reached(j["id"], "completed")(evs) for j in jobs))
    assert got[0]["_id"] == 1 and [e["_id"] for e in got] == list(range(1, len(got) + 1))


@pytest.mark.both_backends
def test_events_of_an_inline_cli_run_reach_the_stream(start_daemon, project, cli_proc, tmp_path, backend):
    # This daemon has no normal-lane slot, so the normal-priority job can only run in the CLI process.
    d = start_daemon({"pipeline": {"max_parallel_jobs": 1, "priority_lane_slots": 1}})
    log = tmp_path / "record.log"
    with d.api().events(read_timeout=30) as stream:
        enq = cli_proc("jobs", "enqueue", project["folder"], "test_record", "--payload", json.dumps({"log": str(log)}))
        job_id = int(enq.out)
        run = cli_proc("jobs", "run", "--until-empty")
        assert run.code == 0, run
        got = read_events(stream, job_reached(job_id, "completed"))
    assert [e["status"] for e in got if e.get("id") == job_id] == ["queued", "running", "completed"]
    job_pid = int(log.read_text().split()[2])
    assert job_pid != d.pid


def test_stream_cap_keepalive_and_idle_timeout(start_daemon):
    d = start_daemon({"daemon": {"sse_max_streams_per_client": 2, "sse_keepalive_seconds": 0.1,
                                 "sse_idle_timeout_seconds": 0.5}})
    api = d.api()
    with api.events(read_timeout=30) as one, api.events(read_timeout=30) as two:
        with pytest.raises(Exception) as too_many:
            with api.events(read_timeout=30):
                pass
        assert getattr(too_many.value, "http_status", None) == 429
        # The original's greeting (a ping comment, a hello message); keep-alive comments while
        # idle; then the original's goodbye, a named event, and the end; the client may resume.
        raw = list(one.response.iter_lines())
        assert raw[0] == "retry: 1000" and raw[4:6] == [": ping", ""]
        assert raw[6].startswith('data: {"type":"hello"') and ": keep-alive" in raw
        assert raw[-3:] == ["event: bye", 'data: {"reason":"idle_timeout"}', ""]
        list(two.response.iter_lines())
    # Ended streams give their slots back.
    with api.events(read_timeout=30), api.events(read_timeout=30):
        pass


def test_a_disconnected_client_frees_its_stream_slot(start_daemon):
    from waiting import wait_for
    d = start_daemon({"daemon": {"sse_max_streams_per_client": 1}})
    api = d.api()
    with d.http() as http:
        def open_streams() -> int:
            return http.get("/api/health").json()["streams"]
        with api.events(read_timeout=30):
            assert open_streams() == 1
        # The client hung up without reading to the end; the daemon notices and frees the slot.
        assert wait_for(lambda: open_streams() == 0, timeout=10)
        with api.events(read_timeout=30):       # the one allowed stream is free again
            assert open_streams() == 1


def test_token_is_required_off_loopback(start_daemon, library_path):
    refused = start_daemon(host="0.0.0.0", wait=False)
    assert refused.wait_exit() != 0
    assert "needs a token" in refused.log_text()

    d = start_daemon({"daemon": {"token": "s3cret"}}, host="0.0.0.0")
    assert d.info["address"] == "0.0.0.0" and d.url.startswith("http://127.0.0.1:")
    with httpx.Client(base_url=d.url, trust_env=False) as anon:
        for path in ("/api/health", "/api/projects", "/api/jobs/stream", "/api/jobs/1"):
            r = anon.get(path)
            assert r.status_code == 401 and r.json()["error"].startswith("missing or wrong token"), path
        assert anon.post("/api/wake").status_code == 401
        assert anon.get("/api/health", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert anon.get("/api/health", headers={"Authorization": "Bearer s3cret"}).json()["token_required"]


def test_one_daemon_per_library_and_stale_records(start_daemon, cli_proc, library_path):
    d = start_daemon()
    second = start_daemon(wait=False)
    assert second.wait_exit() == 1
    assert "already running" in second.log_text()
    assert cli_proc("daemon", "status", "--json").json()["pid"] == d.pid   # the first one's record stands
    d.signal(9)
    d.wait_exit()
    status = cli_proc("daemon", "status", "--json")
    assert status.code == 3 and status.json()["state"] == "stopped"
    from photojobs.daemon import state
    assert state.read_state(library_path) is None          # the dead daemon's record was cleaned


def test_start_status_stop_commands(cli_proc, make_config, library_path):
    cfg = make_config({"pipeline": {"shutdown_grace_seconds": 2}})
    started = cli_proc("--config", cfg, "daemon", "start", "--port", "0", "--json")
    try:
        assert started.code == 0, started
        info = started.json()
        assert info["running"] and not info["already_running"]
        again = cli_proc("--config", cfg, "daemon", "start", "--port", "0", "--json").json()
        assert again["already_running"] and again["pid"] == info["pid"]
        human = cli_proc("daemon", "status")
        assert human.code == 0 and f"pid {info['pid']}" in human.out
        stopped = cli_proc("--config", cfg, "daemon", "stop", "--json")
        assert stopped.code == 0 and stopped.json()["stopped"] and not stopped.json()["killed"]
        assert cli_proc("daemon", "status").code == 3
        assert cli_proc("daemon", "stop").out.strip() == "daemon not running"
    finally:
        import os
        import signal
        try:
            os.kill(started.json()["pid"], signal.SIGKILL)
        except (ProcessLookupError, ValueError, KeyError):
            pass


def test_the_listening_socket_says_tcp_so_asyncio_turns_nagle_off():
    # asyncio sets TCP_NODELAY only on connections whose socket proto is TCP; with Nagle on,
    # a response written in two parts waited ~40 ms for the client's delayed ACK.
    import socket
    from photojobs.daemon.server import bind
    sock = bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP and sock.getsockname()[1] > 0
    finally:
        sock.close()


def test_a_cli_hand_off_wakes_the_daemon_instead_of_waiting_for_its_poll(start_daemon, cli_proc, lib):
    """The daemon looks at the catalog for other processes' work only every 30 s here: the job
    handed over by `jobs enqueue` runs at once all the same, because the CLI wakes it."""
    from waiting import wait_for
    from photojobs.engine import queue
    from photojobs.photos import projects
    projects.create_project(lib, "P")
    start_daemon({"pipeline": {"poll_ms": 30000}})
    r = cli_proc("jobs", "enqueue", "P", "test_project_noop")
    assert r.code == 0, r
    job_id = int(r.out.split()[0])
    assert wait_for(lambda: queue.get_job(lib, job_id)["status"] == "completed", timeout=10)


def test_follow_resumes_dropped_streams_and_ends_when_the_daemon_is_gone(start_daemon, library_path, lib):
    from photojobs.daemon.client import DaemonUnreachable, find_daemon
    from photojobs.engine import pause
    pause.pause(lib, None)   # an event in the log to follow
    d = start_daemon({"daemon": {"sse_keepalive_seconds": 0.1, "sse_idle_timeout_seconds": 0.3}})
    found = find_daemon(library_path, load_config(d.config_path))
    assert found is not None
    client = found[1]
    resumed: list = []
    seen: list[int] = []
    following = client.follow(0, on_resume=resumed.append)
    for ev in following:
        if ev is not None:
            seen.append(ev.id)
        if resumed:           # the idle timeout dropped the stream; it came back at the cursor
            break
    assert seen and resumed[0] == seen[-1] == following.cursor
    d.stop()
    # The daemon stopped: iteration ends (no transport error escapes); the cursor stays put.
    assert [ev for ev in following if ev is not None] == []
    assert following.cursor == seen[-1]
    client.close()
    with pytest.raises(DaemonUnreachable):
        with client.__class__(d.url).events(after=0, read_timeout=1):
            pass
