"""The daemon's library endpoints end to end: multipart upload, process, commit/revert, maintenance."""

from __future__ import annotations

import io

import pytest

from photojobs.daemon.app import staging_root
from photojobs.photos import culling, projects
from test_daemon_fixtures import read_events, start_daemon  # noqa: F401 - fixture

pytest.importorskip("photojobs.photos.importing")
from imagegen import make_jpeg  # noqa: E402


def _jpeg_bytes(tmp_path, name: str, seed: int) -> bytes:
    return make_jpeg(tmp_path / name, size=(320, 240), seed=seed, noise=8).read_bytes()


def task_ended(task_id: str, last_step: str):
    def check(evs):
        for e in evs:
            if e.get("kind") == "job" and e.get("task_id") == task_id:
                if e["status"] in ("failed", "canceled"):
                    raise AssertionError(f"task step failed: {e}")
                if e["status"] == "completed" and e.get("job_type") == last_step:
                    return True
        return False
    return check


def test_upload_imports_under_safe_names_and_processes(start_daemon, lib, tmp_path):
    project = projects.create_project(lib, "Shoot")
    folder = project["folder"]
    d = start_daemon()
    files = [
        ("photos", ("IMG_0001.JPG", _jpeg_bytes(tmp_path, "a.jpg", 1), "image/jpeg")),
        ("photos", ("../../../escape/IMG_0002.JPG", _jpeg_bytes(tmp_path, "b.jpg", 2), "image/jpeg")),
        ("photos", (".hidden.jpg", _jpeg_bytes(tmp_path, "c.jpg", 3), "image/jpeg")),
        ("photos", ("notes.jpg", b"this is not a jpeg", "image/jpeg")),
        ("other", ("ignored.jpg", b"x", "image/jpeg")),
    ]
    with d.http() as http, d.api().events(read_timeout=60) as stream:
        r = http.post(f"/api/projects/{folder}/upload", files=files, data={"on_duplicate": "skip"})
        assert r.status_code == 201, r.text
        report = r.json()
        assert sorted(report["imported"]) == ["IMG_0001.JPG", "IMG_0002.JPG"]
        rejected = {e["name"]: e["reason"] for e in report["rejected"]}
        assert rejected[".hidden.jpg"] == "hidden file name" and "notes.jpg" in rejected
        job = report["job"]
        assert job["task_type"] == "upload_postprocess" and job["source"] == "api"
        got = read_events(stream, task_ended(job["task_id"], "folder_check"))
    items = [e for e in got if e.get("type") == "item" and e.get("project_folder") == folder]
    assert {"filename", "thumbnail_status", "preview_status", "updated_at"} <= set(items[0])
    root = lib.root
    assert sorted(p.name for p in (root / folder).iterdir() if not p.name.startswith(".")) == \
        ["IMG_0001.JPG", "IMG_0002.JPG"]
    assert not (root / "escape").exists() and not (root.parent / "escape").exists()
    assert len(list((root / folder / ".thumb").iterdir())) == 2
    assert list(staging_root(lib).iterdir()) == []          # nothing left behind in staging


def test_upload_limits_and_bad_requests(start_daemon, lib, tmp_path):
    folder = projects.create_project(lib, "Shoot")["folder"]
    d = start_daemon({"daemon": {"max_upload_mb": 1}})
    with d.http() as http:
        big = http.post(f"/api/projects/{folder}/upload",
                        files=[("photos", ("big.jpg", b"\xff" * (1 << 20 + 1), "image/jpeg"))])
        assert big.status_code == 413 and "max_upload_mb" in big.json()["error"]

        # A client that hides the size (chunked) is cut off at the cap as well.
        def chunks():
            boundary = b"--xyz"
            yield boundary + b'\r\nContent-Disposition: form-data; name="photos"; filename="a.jpg"\r\n\r\n'
            for _ in range(24):
                yield b"\0" * 65536
            yield b"\r\n" + boundary + b"--\r\n"
        chunked = http.post(f"/api/projects/{folder}/upload", content=chunks(),
                            headers={"Content-Type": "multipart/form-data; boundary=xyz"})
        assert chunked.status_code == 413

        not_form = http.post(f"/api/projects/{folder}/upload", json={"photos": []})
        assert not_form.status_code == 400 and "multipart" in not_form.json()["error"]
        empty = http.post(f"/api/projects/{folder}/upload", files=[("other", ("a.jpg", b"x", "image/jpeg"))])
        assert empty.status_code == 400 and "photos" in empty.json()["error"]
        broken = http.post(f"/api/projects/{folder}/upload", content=b"--xyz\r\nnonsense",
                           headers={"Content-Type": "multipart/form-data; boundary=xyz"})
        assert broken.status_code == 400
    assert list(staging_root(lib).iterdir()) == []


def test_process_commit_revert_and_maintenance(start_daemon, lib, tmp_path):
    folder = projects.create_project(lib, "Shoot")["folder"]
    d = start_daemon()
    with d.http() as http, d.api().events(read_timeout=60) as stream:
        files = [("photos", (f"IMG_{i}.JPG", _jpeg_bytes(tmp_path, f"{i}.jpg", i), "image/jpeg")) for i in range(3)]
        job = http.post(f"/api/projects/{folder}/upload", files=files).json()["job"]
        read_events(stream, task_ended(job["task_id"], "folder_check"))

        r = http.post(f"/api/projects/{folder}/process?force=true", json={"filenames": ["IMG_0.JPG"]})
        assert r.status_code == 202, r.text
        proc = r.json()["job"]
        assert proc["type"] == "generate_derivatives" and proc["payload"]["force"] is True
        assert proc["progress_total"] == 1
        unknown = http.post(f"/api/projects/{folder}/process", json={"filenames": ["NOPE.JPG"]})
        assert unknown.status_code == 404

        culling.keep(lib, folder, ["IMG_1"], jpg=False)
        reverted = http.post(f"/api/projects/{folder}/revert-changes")
        assert reverted.status_code == 200 and reverted.json()["changed"] == 1
        nothing = http.post(f"/api/projects/{folder}/commit-changes")
        assert nothing.status_code == 200 and nothing.json()["job"] is None

        culling.keep(lib, folder, ["IMG_1"], jpg=False)
        r = http.post(f"/api/projects/{folder}/commit-changes")
        assert r.status_code == 202, r.text
        commit = r.json()["job"]
        assert commit["task_type"] == "change_commit"
        read_events(stream, task_ended(commit["task_id"], "manifest_cleaning"))
        assert not (lib.root / folder / "IMG_1.JPG").exists()
        assert any(p.name.startswith("IMG_1") for p in (lib.root / folder / ".trash").rglob("*"))

        r = http.post(f"/api/projects/{folder}/maintenance")
        assert r.status_code == 202 and r.json()["job"]["task_type"] == "maintenance"
        one = http.post(f"/api/projects/{folder}/maintenance", json={"type": "folder_check"})
        assert one.status_code == 202 and one.json()["job"]["type"] == "folder_check"
        read_events(stream, task_ended(r.json()["job"]["task_id"], "manifest_cleaning"))
