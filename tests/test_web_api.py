"""The original web client's calls against a real daemon: its routes, shapes (keys and types) and events.

ORIGINAL holds, per shape, the keys the original server sent and their JSON types (the README's
API table says the same and names what photojobs adds). The requests send no Origin header,
as a script would, and JSON bodies with Content-Type: application/json (httpx's json=)."""

from __future__ import annotations

from pathlib import Path

import pytest

from photojobs.engine import pause
from photojobs.photos import projects
from test_daemon_fixtures import read_events, start_daemon  # noqa: F401 - fixture

from imagegen import make_dng, make_jpeg, make_truncated_jpeg

S, N, I, B, L, D = str, type(None), int, bool, list, dict
ORIGINAL = {
    "project": {"id": I, "name": S, "folder": S, "created_at": S, "updated_at": S, "photo_count": I},
    "created": {"message": S, "project": D},
    "project_detail": {"id": I, "project_name": S, "project_folder": S, "created_at": S, "updated_at": S,
                       "photos": L},
    "photo": {"id": I, "filename": S, "basename": S, "ext": S, "created_at": S, "updated_at": S,
              "date_time_original": (S, N), "jpg_available": B, "raw_available": B, "other_available": B,
              "keep_jpg": B, "keep_raw": B, "thumbnail_status": (S, N), "preview_status": (S, N),
              "orientation": (I, N), "metadata": D},
    "analysis": {"success": B, "imageGroups": D, "summary": D, "rejected": L},
    "image_group": {"baseName": S, "files": L, "hasJpg": B, "hasRaw": B, "analysis": L, "isNew": B,
                    "hasConflict": B},
    "summary": {"totalImages": I, "totalFiles": I, "newImages": I, "conflictImages": I, "completionImages": I,
                "duplicateImages": I, "rejectedFiles": I},
    "uploaded": {"message": S, "files": L},
    "uploaded_file": {"filename": S, "size": I, "type": S},
    "upload_refused": {"error": S, "perFileErrors": L},
    "keep": {"message": S, "updated_count": I},
    "commit": {"started": B, "task_id": S},
    "revert": {"updated": I},
    "jobs": {"jobs": L},
    "job": {"id": I, "project_id": I, "type": S, "status": S, "priority": I, "created_at": S,
            "started_at": (S, N), "finished_at": (S, N), "progress_total": I, "progress_done": I,
            "payload_json": (D, N), "error_message": (S, N), "worker_id": (S, N), "heartbeat_at": (S, N),
            "attempts": I, "max_attempts": I},
    "job_detail": {"job": D, "items_summary": D, "total_items": I},
    "task_started": {"task": D},
    "task": {"task_id": S, "type": S, "first_job_id": I},
    "task_definition": {"label": S, "user_relevant": B, "steps": L},
    "deleted": {"message": S, "folder": S},
    "job_event": {"id": I, "status": S, "progress_done": I, "progress_total": I, "task_id": (S, N),
                  "task_type": (S, N), "source": (S, N)},
    "item_event": {"type": S, "project_folder": S, "filename": S, "thumbnail_status": (S, N),
                   "preview_status": (S, N), "updated_at": S},
    "manifest_changed": {"type": S, "project_folder": S},
    "item_removed": {"type": S, "project_folder": S, "filename": S},
}


def shaped(obj: dict, shape: str) -> dict:
    """`obj` has every key of the original's `shape`, each of the original's JSON type."""
    assert isinstance(obj, dict), obj
    for key, types in ORIGINAL[shape].items():
        assert key in obj, f"{shape} lacks {key}: {sorted(obj)}"
        value = obj[key]
        ok = isinstance(value, types) and not (isinstance(value, bool) and types is I)
        assert ok, f"{shape}.{key} is {value!r}, expected {types}"
    return obj


def _files(tmp_path: Path) -> dict[str, tuple[str, bytes, str]]:
    src = tmp_path / "card"
    src.mkdir()
    make_jpeg(src / "DSC0001.JPG", size=(96, 64), exif_datetime="2024:05:01 10:00:00", make="Canon",
              model="EOS R5", noise=8, seed=1)
    make_dng(src / "DSC0001.DNG", size=(96, 64), noise=1)
    make_jpeg(src / "DSC0002.JPG", size=(96, 64), noise=8, seed=2)
    make_truncated_jpeg(src / "BROKEN.JPG", size=(96, 64))
    mime = {"JPG": "image/jpeg", "DNG": "image/x-adobe-dng"}
    return {p.name: (p.name, p.read_bytes(), mime[p.suffix[1:]]) for p in sorted(src.iterdir())}   # as a file picker sends them


def _ended(task_id: str, last_step: str):
    def check(evs):
        return any(e["kind"] == "job" and e.get("task_id") == task_id and e.get("job_type") == last_step
                   and e["status"] in ("completed", "failed") for e in evs)
    return check


@pytest.mark.both_backends
def test_the_original_clients_call_sequence_end_to_end(start_daemon, tmp_path, library_path, backend):
    d = start_daemon()
    files = _files(tmp_path)
    with d.http() as http, d.api().events(read_timeout=60) as stream:
        # The stream greets as the original's did: a hello message first.
        hello = next(ev for ev in stream if ev is not None)
        assert hello.data["type"] == "hello" and not hello.logged

        # Create a project; the selector lists an array of projects with photo counts.
        created = http.post("/api/projects", json={"name": "Web shoot"})
        assert created.status_code == 201, created.text
        project = shaped(shaped(created.json(), "created")["project"], "project")
        folder = project["folder"]
        listed = http.get("/api/projects").json()
        assert isinstance(listed, list)
        assert [shaped(p, "project")["photo_count"] for p in listed if p["folder"] == folder] == [0]

        # Analyse before uploading: groups, pairs and rejections; nothing is written.
        descriptors = [{"name": n, "size": len(b), "type": t} for n, b, t in files.values()]
        descriptors.append({"name": "notes.txt", "size": 4, "type": "text/plain"})
        analysis = http.post(f"/api/projects/{folder}/analyze-files", json={"files": descriptors})
        assert analysis.status_code == 200, analysis.text
        a = shaped(analysis.json(), "analysis")
        shaped(a["summary"], "summary")
        groups = {k: shaped(g, "image_group") for k, g in a["imageGroups"].items()}
        assert sorted(groups) == ["BROKEN", "DSC0001", "DSC0002"]
        assert groups["DSC0001"]["hasJpg"] and groups["DSC0001"]["hasRaw"] and groups["DSC0001"]["isNew"]
        assert {f["name"] for f in groups["DSC0001"]["files"]} == {"DSC0001.JPG", "DSC0001.DNG"}
        assert (a["summary"]["totalImages"], a["summary"]["totalFiles"], a["summary"]["rejectedFiles"],
                a["summary"]["pairs"]) == (3, 4, 1, 1)
        assert a["rejected"][0]["name"] == "notes.txt"
        assert [p.name for p in (library_path / folder).iterdir() if not p.name.startswith(".")] == []
        assert http.get(f"/api/projects/{folder}/jobs").json()["jobs"] == []

        # Upload: 201 with the original's keys beside our report.
        r = http.post(f"/api/projects/{folder}/upload", files=[("photos", f) for f in files.values()])
        assert r.status_code == 201, r.text
        up = shaped(r.json(), "uploaded")
        assert sorted(shaped(f, "uploaded_file")["filename"] for f in up["files"]) == sorted(files)
        assert up["job"]["task_type"] == "upload_postprocess" and up["rejected"] == []
        task = up["job"]["task_id"]

        # Watch events until the thumbnails are made and the task has ended.
        got = read_events(stream, _ended(task, "folder_check"))
        items = {e["filename"]: e for e in got if e["kind"] == "item" and e.get("thumbnail_status")}
        assert sorted(items) == ["BROKEN", "DSC0001", "DSC0002"]   # basenames, as the client finds photos
        for e in items.values():
            shaped(e, "item_event")
        assert items["DSC0001"]["thumbnail_status"] == "generated"
        assert items["BROKEN"]["thumbnail_status"] == "failed"
        job_events = [e for e in got if e["kind"] == "job"]
        for e in job_events:
            assert "type" not in e, e                  # would overwrite the job's type in the client's merge
            shaped(e, "job_event")

        # The project with its photos, by basename.
        detail = shaped(http.get(f"/api/projects/{folder}").json(), "project_detail")
        photos = {p["filename"]: shaped(p, "photo") for p in detail["photos"]}
        assert sorted(photos) == ["BROKEN", "DSC0001", "DSC0002"]
        p1 = photos["DSC0001"]
        assert (p1["jpg_available"], p1["raw_available"], p1["keep_jpg"], p1["keep_raw"]) == (True,) * 4
        assert p1["display_name"] == "DSC0001.JPG" and p1["ext"] == "jpg"
        assert p1["metadata"]["make"] == "Canon" and p1["metadata"]["date_time_original"].startswith("2024-05-01")

        # Assets by basename: cacheable, revalidated, 404 while a derivative is failed or pending.
        thumb = http.get(f"/api/projects/{folder}/thumbnail/DSC0001")
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
        assert thumb.content[:2] == b"\xff\xd8" and thumb.headers["last-modified"]
        again = http.get(f"/api/projects/{folder}/thumbnail/DSC0001", headers={"If-None-Match": thumb.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        since = http.get(f"/api/projects/{folder}/thumbnail/DSC0001",
                         headers={"If-Modified-Since": thumb.headers["last-modified"]})
        assert since.status_code == 304
        assert http.get(f"/api/projects/{folder}/preview/DSC0001").status_code == 200
        image = http.get(f"/api/projects/{folder}/image/DSC0001")
        assert image.status_code == 200 and image.content == files["DSC0001.JPG"][1]
        for path in (f"/api/projects/{folder}/thumbnail/BROKEN", f"/api/projects/{folder}/preview/NOPE",
                     f"/api/projects/{folder}/thumbnail/..%2F..%2F.photojobs%2Fcatalog.db",
                     f"/api/projects/{folder}/image/%2E%2E", "/api/projects/..%2F/image/DSC0001"):
            refused = http.get(path)
            assert refused.status_code in (400, 404), path
            assert refused.headers["content-type"].startswith("application/json"), path

        # Cull: the client's keep call, then commit, watching the commit's events.
        keep = http.put(f"/api/projects/{folder}/keep", json={"updates": [
            {"filename": "DSC0001", "keep_jpg": False, "keep_raw": True},
            {"filename": "DSC0002", "keep_jpg": False, "keep_raw": False},
            {"filename": "GONE", "keep_jpg": False}]})
        assert keep.status_code == 200, keep.text
        assert shaped(keep.json(), "keep")["updated_count"] == 2 and keep.json()["unknown"] == ["GONE"]
        commit = http.post(f"/api/projects/{folder}/commit-changes")
        assert commit.status_code == 202, commit.text
        c = shaped(commit.json(), "commit")
        assert c["started"] and c["jpgs"] == ["DSC0001.JPG", "DSC0002.JPG"]
        got = read_events(stream, _ended(c["task_id"], "manifest_cleaning"))
        assert {e["filename"] for e in got if e["kind"] == "item" and e["status"] == "done"} >= {"DSC0001", "DSC0002"}
        removed = [shaped(e, "item_removed") for e in got if e["kind"] == "item_removed"]
        assert [e["filename"] for e in removed] == ["DSC0002"]     # no file left: gone from the list
        changed = [shaped(e, "manifest_changed") for e in got if e["kind"] == "manifest_changed"]
        assert any(e.get("removed_filenames") == ["DSC0002"] for e in changed)
        assert (library_path / folder / "DSC0001.DNG").exists() and not (library_path / folder / "DSC0001.JPG").exists()

        # Revert what is not committed yet.
        http.put(f"/api/projects/{folder}/keep", json={"updates": [{"filename": "DSC0001.DNG", "keep_raw": False}]})
        revert = http.post(f"/api/projects/{folder}/revert-changes")
        assert revert.status_code == 200 and shaped(revert.json(), "revert")["updated"] == 1

        # The processes panel: jobs grouped into tasks by payload_json, a job's detail, definitions.
        jobs = shaped(http.get(f"/api/projects/{folder}/jobs", params={"limit": 100}).json(), "jobs")["jobs"]
        for j in jobs:
            shaped(j, "job")
        steps = [j["type"] for j in reversed(jobs) if (j["payload_json"] or {}).get("task_id") == task]
        assert steps == ["upload_postprocess", "manifest_check", "folder_check"]
        first = next(j for j in jobs if j["type"] == "upload_postprocess" and j["task_id"] == task)
        job = shaped(http.get(f"/api/jobs/{first['id']}").json(), "job_detail")
        assert job["total_items"] == 3 and job["items_summary"]["done"] == 2 and job["items_summary"]["failed"] == 1
        shaped(job["job"], "job")
        defs = http.get("/api/tasks/definitions")
        assert defs.status_code == 200, defs.text
        for name, definition in defs.json().items():
            shaped(definition, "task_definition")
        assert defs.json()["upload_postprocess"]["steps"][0] == {"type": "upload_postprocess", "priority": 90}
        assert defs.json()["maintenance"]["user_relevant"] is False

        # The client starts tasks in its own shape; the seed document's job shape works beside it.
        started = http.post(f"/api/projects/{folder}/jobs",
                            json={"task_type": "upload_postprocess", "source": "client", "items": ["DSC0001"]})
        assert started.status_code == 202, started.text
        t = shaped(shaped(started.json(), "task_started")["task"], "task")
        assert t["type"] == "upload_postprocess" and t["job"]["progress_total"] == 1
        assert t["job"]["source"] == "client"
        plain = http.post(f"/api/projects/{folder}/jobs", json={"type": "generate_derivatives", "payload": None})
        assert plain.status_code == 202, plain.text
        named = http.post(f"/api/projects/{folder}/jobs",
                          json={"type": "generate_derivatives", "payload": {"filenames": ["dsc0001.dng"]}})
        assert named.status_code == 202 and named.json()["job"]["progress_total"] == 1
        got = read_events(stream, lambda evs: any(e["kind"] == "job" and e["id"] == named.json()["job"]["id"]
                                                  and e["status"] == "completed" for e in evs))
        assert {e["filename"] for e in got if e["kind"] == "item" and e["job_id"] == named.json()["job"]["id"]} \
            == {"DSC0001"}

        # Delete: forget the project; its folder goes to the library's trash with ?files=true.
        gone = http.delete(f"/api/projects/{folder}", params={"files": "true"})
        assert gone.status_code == 200, gone.text
        assert shaped(gone.json(), "deleted")["folder"] == folder
        assert http.get(f"/api/projects/{folder}").status_code == 404
        assert (library_path / ".trash" / gone.json()["trashed_as"] / "DSC0001.DNG").exists()


def test_a_pending_thumbnail_is_404_until_it_is_made(start_daemon, lib, tmp_path):
    folder = projects.create_project(lib, "Pending")["folder"]
    d = start_daemon()
    pause.pause(lib)
    with d.http() as http:
        jpg = make_jpeg(tmp_path / "P.JPG", size=(64, 48)).read_bytes()
        assert http.post(f"/api/projects/{folder}/upload", files=[("photos", ("P.JPG", jpg, "image/jpeg"))]) \
            .status_code == 201
        photo = http.get(f"/api/projects/{folder}").json()["photos"][0]
        assert photo["thumbnail_status"] == "pending"
        r = http.get(f"/api/projects/{folder}/thumbnail/P")
        assert r.status_code == 404 and "pending" in r.json()["error"]
        assert http.get(f"/api/projects/{folder}/image/P").status_code == 200   # the original is there


def test_an_upload_that_imports_nothing_is_refused_with_each_files_reason(start_daemon, lib, tmp_path):
    folder = projects.create_project(lib, "Refused")["folder"]
    d = start_daemon()
    jpg = make_jpeg(tmp_path / "A.JPG", size=(64, 48)).read_bytes()
    with d.http() as http:
        r = http.post(f"/api/projects/{folder}/upload", files=[
            ("photos", ("notes.txt", b"hello", "text/plain")), ("photos", ("fake.jpg", b"not a jpeg", "image/jpeg"))])
        assert r.status_code == 400, r.text
        body = shaped(r.json(), "upload_refused")
        assert {e["filename"] for e in body["perFileErrors"]} == {"notes.txt", "fake.jpg"}
        assert body["job"] is None and "notes.txt" in body["error"]

        assert http.post(f"/api/projects/{folder}/upload", files=[("photos", ("A.JPG", jpg, "image/jpeg"))]) \
            .status_code == 201
        # The same file again is in the project already: nothing to import, nothing wrong.
        same = http.post(f"/api/projects/{folder}/upload", files=[("photos", ("A.JPG", jpg, "image/jpeg"))])
        assert same.status_code == 200 and same.json()["skipped"][0]["identical"]
        # A different file under a taken name is not imported over it (no overwrite): refused.
        other = make_jpeg(tmp_path / "B.JPG", size=(64, 48), seed=5, noise=9).read_bytes()
        taken = http.post(f"/api/projects/{folder}/upload", files=[("photos", ("A.JPG", other, "image/jpeg"))])
        assert taken.status_code == 400 and "already in the project" in taken.json()["perFileErrors"][0]["error"]
        analysis = http.post(f"/api/projects/{folder}/analyze-files",
                             json={"files": [{"name": "A.JPG", "size": 1, "type": "image/jpeg"}]}).json()
        assert analysis["imageGroups"]["A"]["conflictType"] == "duplicate"
        assert analysis["imageGroups"]["A"]["plan"][0]["action"] == "skip"


def test_a_project_with_a_running_job_is_not_deleted(start_daemon, lib, tmp_path):
    from waiting import wait_for
    folder = projects.create_project(lib, "Busy")["folder"]
    d = start_daemon()
    with d.http() as http:
        job = http.post(f"/api/projects/{folder}/jobs", json={"type": "test_items", "payload": {
            "log": str(tmp_path / "log"), "filenames": ["a", "b"], "seconds": 1}}).json()["job"]
        assert wait_for(lambda: http.get(f"/api/jobs/{job['id']}").json()["job"]["status"] == "running")
        r = http.delete(f"/api/projects/{folder}", params={"files": "true"})
        assert r.status_code == 409 and "running jobs" in r.json()["error"], r.text
        assert http.get(f"/api/projects/{folder}").status_code == 200 and (lib.root / folder).is_dir()
        http.post(f"/api/jobs/{job['id']}/cancel")


def test_bad_requests_on_the_new_routes(start_daemon, lib):
    folder = projects.create_project(lib, "Bad")["folder"]
    d = start_daemon()
    cases = [
        ("post", "/api/projects", {"json": {}}, 400, "name is required"),
        ("post", "/api/projects", {"json": {"name": "  "}}, 400, "name is required"),
        ("get", "/api/projects/nope", {}, 404, "no such project"),
        ("delete", "/api/projects/nope", {}, 404, "no such project"),
        ("delete", f"/api/projects/{folder}?files=maybe", {}, 400, "files"),
        ("put", f"/api/projects/{folder}/keep", {"json": {"updates": "all"}}, 400, "updates"),
        ("put", f"/api/projects/{folder}/keep", {"json": {"updates": [{"filename": "A", "keep_jpg": "no"}]}},
         400, "keep_jpg"),
        ("post", f"/api/projects/{folder}/analyze-files", {"json": {"files": "x"}}, 400, "files"),
        ("post", f"/api/projects/{folder}/analyze-files", {"json": {"files": [], "on_duplicate": "eat"}}, 400,
         "on_duplicate"),
        ("post", f"/api/projects/{folder}/jobs", {"json": {"task_type": "format_disk"}}, 400, "unknown task type"),
        ("post", f"/api/projects/{folder}/jobs", {"json": {"task_type": "upload_postprocess", "items": ["../x"]}},
         400, "bad file name"),
        ("post", f"/api/projects/{folder}/jobs", {"json": {"type": "test_noop", "payload": 3}}, 400, "payload"),
    ]
    with d.http() as http:
        for method, url, kw, status, fragment in cases:
            r = getattr(http, method)(url, **kw)
            assert r.status_code == status, (url, r.status_code, r.text)
            assert fragment in r.json()["error"], (url, r.json())
