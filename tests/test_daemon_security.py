"""What a web page can and cannot make a browser do to a real daemon: Origin, Host, body types, CORS, limits."""

from __future__ import annotations

import pytest

from photojobs.config import load_config
from photojobs.daemon.wake import poke
from photojobs.engine import queue
from photojobs.errors import ConfigError
from photojobs.photos import culling, projects
from test_daemon_fixtures import start_daemon  # noqa: F401 - fixture
from imagegen import make_jpeg

EVIL = "https://evil.example"
DEV_SERVER = "http://localhost:5173"   # the web client's own dev server, allowed explicitly


def _refused(r, status: int = 403) -> str:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json")
    assert "access-control-allow-origin" not in r.headers
    return r.json()["error"]


@pytest.fixture
def shoot(lib, tmp_path):
    """A project with one photo on disk and in the catalog, the photo marked to drop at commit."""
    folder = projects.create_project(lib, "Shoot")["folder"]
    original = make_jpeg(lib.root / folder / "IMG_0001.JPG", size=(64, 48), seed=1)
    from photojobs.photos.reconcile import checked_scan, folder_check
    project = projects.require(lib, folder)
    folder_check(lib, project, checked_scan(lib, project, allow_empty=True))
    culling.keep(lib, folder, ["IMG_0001"], jpg=False)
    return folder, original, original.read_bytes()


def test_a_page_on_another_site_cannot_overwrite_commit_or_enqueue(start_daemon, shoot, lib, tmp_path):
    folder, original, before = shoot
    d = start_daemon()
    other = make_jpeg(tmp_path / "other.jpg", size=(64, 48), seed=2, noise=8).read_bytes()
    with d.http() as http:
        # A form on evil.example posting to the daemon: the browser adds its Origin.
        r = http.post(f"/api/projects/{folder}/upload", headers={"Origin": EVIL},
                      files=[("photos", ("IMG_0001.JPG", other, "image/jpeg"))], data={"on_duplicate": "overwrite"})
        assert "daemon.allowed_origins" in _refused(r)
        _refused(http.post(f"/api/projects/{folder}/commit-changes", headers={"Origin": EVIL}))
        # fetch(..., {mode: "no-cors", body: JSON text}) is a "simple" text/plain request.
        simple = {"Origin": EVIL, "Content-Type": "text/plain;charset=UTF-8"}
        _refused(http.post(f"/api/projects/{folder}/jobs", headers=simple, content=b'{"type": "test_noop"}'))
        # A sandboxed page or a redirect sends "Origin: null".
        _refused(http.post(f"/api/projects/{folder}/commit-changes", headers={"Origin": "null"}))
        # Reading is refused as well (an allowed origin would get CORS headers, this one gets none).
        _refused(http.get("/api/health", headers={"Origin": EVIL}))
        _refused(http.get("/api/jobs/stream", headers={"Origin": EVIL}))
        # A browser that sends no Origin still cannot send a text/plain or form body to act.
        for content_type in ("text/plain", "application/x-www-form-urlencoded"):
            r = http.post(f"/api/projects/{folder}/jobs", headers={"Content-Type": content_type},
                          content=b'{"type": "test_noop"}')
            assert "application/json" in _refused(r, 415)
        r = http.post(f"/api/projects/{folder}/jobs", content=b'{"type": "test_noop"}')   # a Blob: no type
        _refused(r, 415)
        _refused(http.post(f"/api/projects/{folder}/commit-changes", headers={"Content-Type": "text/plain"},
                           content=b"x"), 415)
    assert original.read_bytes() == before
    assert not (lib.root / folder / ".trash").exists() or not any((lib.root / folder / ".trash").iterdir())
    assert queue.list_jobs(lib) == []
    assert culling.plan(lib, folder)["jpgs"] == ["IMG_0001.JPG"]   # still uncommitted


def test_a_multipart_body_is_taken_only_by_the_upload(start_daemon, shoot, lib, tmp_path):
    """A page can post a multipart form without asking first: only the upload route may take one."""
    folder, original, before = shoot
    d = start_daemon()
    form = {"files": [("photos", ("IMG_0001.JPG", b"not a photo", "image/jpeg"))], "data": {"type": "test_noop"}}
    with d.http() as http:
        for method, path in (("POST", f"/api/projects/{folder}/commit-changes"),
                             ("POST", f"/api/projects/{folder}/jobs"),
                             ("POST", f"/api/projects/{folder}/maintenance"),
                             ("PUT", f"/api/projects/{folder}/keep"),
                             ("DELETE", f"/api/projects/{folder}"),
                             ("PUT", f"/api/projects/{folder}/upload"),
                             ("POST", f"/api/projects/{folder}/upload/more"),
                             ("POST", f"/api/projects/{folder}/x/upload")):
            r = http.request(method, path, **form)
            assert "application/json" in _refused(r, 415), (method, path)
        r = http.post(f"/api/projects/{folder}/upload",
                      files=[("photos", ("IMG_0002.JPG", make_jpeg(tmp_path / "b.jpg", size=(32, 32)).read_bytes(),
                                         "image/jpeg"))])
        assert r.status_code == 201 and r.json()["imported"] == ["IMG_0002.JPG"], r.text
    assert original.read_bytes() == before
    assert [j["type"] for j in queue.list_jobs(lib)] == ["upload_postprocess"]   # the upload's own
    assert culling.plan(lib, folder)["jpgs"] == ["IMG_0001.JPG"]   # still uncommitted
    assert projects.require(lib, folder)["folder"] == folder


def test_dns_rebinding_cannot_read_the_api(start_daemon):
    d = start_daemon()
    port = d.info["port"]
    with d.http() as http:
        for host in ("evil.example", f"evil.example:{port}", f"127.0.0.1:{port + 1}", f"localhost.:{port}"):
            assert "not this daemon's address" in _refused(http.get("/api/health", headers={"Host": host})), host
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}", f"[::1]:{port}"):
            assert http.get("/api/health", headers={"Host": host}).status_code == 200, host


def test_scripts_the_cli_and_the_daemons_own_pages_keep_working(start_daemon, cli_proc, lib, tmp_path):
    folder = projects.create_project(lib, "Shoot")["folder"]
    d = start_daemon()
    own = f"http://127.0.0.1:{d.info['port']}"
    assert poke(d.url)                          # the CLI's wake-up: POST, no body, no Content-Type
    api = d.api()
    assert api.health()["status"] == "ok"
    with api.events(read_timeout=30) as stream:
        assert stream.response.status_code == 200
    with d.http() as http:
        r = http.post(f"/api/projects/{folder}/jobs", json={"type": "test_noop"})
        assert r.status_code == 202, r.text
        r = http.post(f"/api/projects/{folder}/jobs", json={"type": "test_noop"}, headers={"Origin": own})
        assert r.status_code == 202 and "access-control-allow-origin" not in r.headers   # same origin
        r = http.post(f"/api/projects/{folder}/process", headers={"Content-Type": "application/json; charset=utf-8"},
                      content=b'{"filenames": []}')
        assert r.status_code == 202, r.text
        assert http.post(f"/api/projects/{folder}/commit-changes").status_code == 200   # no body at all
        r = http.post(f"/api/projects/{folder}/upload",
                      files=[("photos", ("IMG_1.JPG", make_jpeg(tmp_path / "a.jpg", size=(32, 32)).read_bytes(),
                                         "image/jpeg"))])
        assert r.status_code == 201 and r.json()["imported"] == ["IMG_1.JPG"], r.text
    r = cli_proc("jobs", "enqueue", folder, "test_noop")
    assert r.code == 0, r
    r = cli_proc("daemon", "status", "--json")
    assert r.code == 0 and r.json()["running"], r


def test_cors_answers_only_the_origins_the_user_allowed(start_daemon, lib, tmp_path):
    folder = projects.create_project(lib, "Shoot")["folder"]
    d = start_daemon({"daemon": {"allowed_origins": [DEV_SERVER + "/"], "token": "s3cret"}})
    with d.http(token="") as anon, d.http() as http:
        preflight = {"Origin": DEV_SERVER, "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "authorization,content-type"}
        # The preflight carries no token: it is answered before the token check.
        r = anon.options(f"/api/projects/{folder}/jobs", headers=preflight)
        assert r.status_code == 204, r.text
        assert r.headers["access-control-allow-origin"] == DEV_SERVER
        assert "POST" in r.headers["access-control-allow-methods"]
        assert {"authorization", "content-type"} <= {h.strip().lower() for h in
                                                     r.headers["access-control-allow-headers"].split(",")}
        r = http.post(f"/api/projects/{folder}/jobs", json={"type": "test_noop"}, headers={"Origin": DEV_SERVER})
        assert r.status_code == 202 and r.headers["access-control-allow-origin"] == DEV_SERVER
        assert "Origin" in r.headers["vary"]
        r = http.post(f"/api/projects/{folder}/upload", headers={"Origin": DEV_SERVER},
                      files=[("photos", ("IMG_1.JPG", make_jpeg(tmp_path / "a.jpg", size=(32, 32)).read_bytes(),
                                         "image/jpeg"))])
        assert r.status_code == 201 and r.headers["access-control-allow-origin"] == DEV_SERVER
        with http.stream("GET", "/api/jobs/stream", headers={"Origin": DEV_SERVER}) as s:
            assert s.status_code == 200 and s.headers["access-control-allow-origin"] == DEV_SERVER
        # The web client can read why it was refused.
        r = anon.get("/api/health", headers={"Origin": DEV_SERVER})
        assert r.status_code == 401 and r.headers["access-control-allow-origin"] == DEV_SERVER
        r = http.post(f"/api/projects/{folder}/jobs", headers={"Origin": DEV_SERVER, "Content-Type": "text/plain"},
                      content=b'{"type": "test_noop"}')
        assert r.status_code == 415 and r.headers["access-control-allow-origin"] == DEV_SERVER
        # Any other origin: no preflight answer, no CORS headers, refused.
        for origin in (EVIL, "http://localhost:5174", "null"):
            _refused(anon.options(f"/api/projects/{folder}/jobs", headers={**preflight, "Origin": origin}))
            _refused(http.get("/api/health", headers={"Origin": origin}))
        # With a token, which a rebound page cannot send, a LAN client may use the machine's name.
        assert http.get("/api/health", headers={"Host": f"photos.local:{d.info['port']}"}).status_code == 200


def test_allowed_origins_must_be_origins():
    assert load_config(overrides={"daemon": {"allowed_origins": ["http://localhost:5173"]}})
    for bad in (["*"], ["null"], ["http://localhost:5173/app"], ["localhost:5173"], [5173]):
        with pytest.raises(ConfigError, match="allowed_origins"):
            load_config(overrides={"daemon": {"allowed_origins": bad}})


def test_the_stream_cap_counts_every_address_of_this_machine(start_daemon):
    import httpx
    d = start_daemon({"daemon": {"sse_max_streams": 3, "sse_max_streams_per_client": 8}})
    # 127.0.0.2, .3, ...: each its own "client" for the per-address cap, all of them this machine.
    clients = [httpx.Client(base_url=d.url, trust_env=False, timeout=30,
                            transport=httpx.HTTPTransport(local_address=f"127.0.0.{n}")) for n in range(2, 7)]
    try:
        opened = []
        for c in clients[:3]:
            cm = c.stream("GET", "/api/jobs/stream")
            r = cm.__enter__()
            opened.append(cm)
            assert r.status_code == 200
        for c in clients[3:]:
            r = c.get("/api/jobs/stream")
            assert r.status_code == 429 and "daemon.sse_max_streams" in r.json()["error"], r.text
        assert clients[0].get("/api/health").json()["streams"] == 3
        opened.pop().__exit__(None, None, None)
        with d.http() as http:       # a closed stream gives its place back (the daemon notices the hang-up)
            from waiting import wait_for
            assert wait_for(lambda: http.get("/api/health").json()["streams"] == 2)
        with clients[4].stream("GET", "/api/jobs/stream") as r:
            assert r.status_code == 200
        for cm in opened:
            cm.__exit__(None, None, None)
    finally:
        for c in clients:
            c.close()


def test_ids_too_large_for_the_catalog_are_not_found(start_daemon, lib, cli):
    """Every route with a whole-number path parameter (including ones added later) answers a
    number beyond SQLite's range with 404, not 500."""
    from starlette.applications import Starlette
    from starlette.routing import Route
    from photojobs.daemon.app import DaemonContext, create_app
    from photojobs.daemon.sse import EventHub
    folder = projects.create_project(lib, "Shoot")["folder"]
    huge = "99999999999999999999999"
    app = create_app(DaemonContext(lib, None, EventHub(lib), "127.0.0.1", 0))
    while not isinstance(app, Starlette):
        app = app.app
    import re
    checked = []
    d = start_daemon()
    with d.http() as http:
        for route in app.routes:
            if not isinstance(route, Route) or ":int}" not in route.path:
                continue
            url = re.sub(r"\{\w+:int\}", huge, route.path).replace("{folder}", folder)
            url = re.sub(r"\{\w+(:\w+)?\}", "x", url)
            for method in sorted(route.methods - {"HEAD"}):
                r = http.request(method, url, json={} if method != "GET" else None)
                assert r.status_code == 404 and "error" in r.json(), (method, url, r.status_code, r.text)
                checked.append((method, url))
        assert ("GET", f"/api/jobs/{huge}") in checked and ("POST", f"/api/jobs/{huge}/retry") in checked
        # Whole-number query parameters and headers are bounded too.
        for params in ({"limit": huge}, {"offset": huge}, {"limit": "-1"}):
            assert http.get(f"/api/projects/{folder}/jobs", params=params).status_code == 400, params
        with http.stream("GET", "/api/jobs/stream", headers={"Last-Event-ID": huge}) as s:
            assert s.status_code == 200 and next(s.iter_lines()) == "retry: 1000"
    for command in ("show", "cancel", "retry"):
        assert cli("jobs", command, huge).code == 3
