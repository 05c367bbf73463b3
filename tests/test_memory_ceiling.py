"""A decompression bomb (a tiny PNG of 45000x45000 pixels) keeps the CLI and the daemon under a
memory ceiling, measured on the real processes: a ceiling is a correctness property, not a timing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import imagegen
from test_daemon_fixtures import start_daemon  # noqa: F401 - fixture
from waiting import wait_for

CEILING_MB = 300   # decoding the bomb takes 2 GB; Python with Pillow, rawpy and the daemon ~100 MB
# Runs a command as its only child and reports the peak resident size of the children it waited
# for (Linux: KiB), so nothing else this test session ran can count.
PEAK_OF_CHILD = ("import json, resource, subprocess, sys\n"
                 "proc = subprocess.run(sys.argv[2:], capture_output=True, text=True)\n"
                 "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
                 "open(sys.argv[1], 'w').write(json.dumps({'code': proc.returncode, 'out': proc.stdout,\n"
                 "                                         'err': proc.stderr, 'peak_kib': peak}))\n")


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    path = imagegen.make_bilevel_bomb_png(tmp_path_factory.mktemp("bomb") / "panorama.png")
    assert path.stat().st_size < 300_000
    return path


def test_upload_of_a_bomb_stays_under_the_ceiling_and_says_why_it_has_no_preview(bomb, library_path,
                                                                                    tmp_path):
    report = tmp_path / "peak.json"
    subprocess.run([sys.executable, "-c", PEAK_OF_CHILD, str(report),
                    sys.executable, "-m", "photojobs", "--library", str(library_path),
                    "upload", str(bomb), "--project", "Pano", "--json"], check=True, timeout=120)
    ran = json.loads(report.read_text())
    assert ran["code"] == 5, ran["err"]      # imported, but no preview could be made: said, exit 5
    assert ran["peak_kib"] < CEILING_MB * 1024, f"the CLI peaked at {ran['peak_kib'] // 1024} MB"
    summary = json.loads(ran["out"])
    assert summary["imported"] == ["panorama.png"]
    assert "over the limit" in json.dumps(summary["processing_failed"])
    # The photographer's file is kept as it is; only its derivatives are refused, with the reason.
    assert (library_path / "Pano" / "panorama.png").read_bytes() == bomb.read_bytes()
    listed = subprocess.run([sys.executable, "-m", "photojobs", "--library", str(library_path),
                             "photos", "list", "Pano", "--json"], capture_output=True, text=True, timeout=60)
    photo, = json.loads(listed.stdout)
    assert (photo["width"], photo["height"]) == (45000, 45000)
    assert photo["thumbnail_status"] == "failed"
    assert "45000x45000" in photo["derivative_error"] and "over the limit" in photo["derivative_error"]


def test_a_bomb_uploaded_to_the_daemon_stays_under_the_ceiling(bomb, start_daemon, lib):
    from photojobs.photos import projects
    folder = projects.create_project(lib, "Pano")["folder"]
    d = start_daemon()
    with d.http() as http:
        r = http.post(f"/api/projects/{folder}/upload",
                      files=[("photos", ("panorama.png", bomb.read_bytes(), "image/png"))])
        assert r.status_code == 201, r.text
        task_id = r.json()["job"]["task_id"]
        assert wait_for(lambda: http.get(f"/api/tasks/{task_id}").json()["task"]["status"] in
                        ("completed", "failed", "canceled"), timeout=60)
        jobs = http.get(f"/api/tasks/{task_id}").json()["task"]["jobs"]
        detail = http.get(f"/api/jobs/{jobs[0]['id']}").json()["job"]
    status = Path(f"/proc/{d.pid}/status").read_text()
    peak_kib = int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1])
    assert peak_kib < CEILING_MB * 1024, f"the daemon peaked at {peak_kib // 1024} MB"
    item, = detail["items"]
    assert item["status"] == "failed" and "45000x45000" in item["message"]
