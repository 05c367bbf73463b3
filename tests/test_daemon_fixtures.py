"""Fixtures for the daemon tests: a real `photojobs daemon run` subprocess on an ephemeral loopback port.

Every daemon a test starts is stopped in the fixture's finalizer (SIGTERM, then SIGKILL on
timeout), so no test leaves a process behind. This module holds no tests itself."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import httpx
import pytest

from photojobs.daemon import state
from photojobs.daemon.client import DaemonClient

START_TIMEOUT = 30.0
# Short keep-alives and a quick grace period keep the tests fast; stale_seconds is long, so a
# recovered job proves the daemon recovered it at start, not by waiting out staleness.
BASE_CONFIG = {"pipeline": {"stale_seconds": 600, "shutdown_grace_seconds": 5},
               "daemon": {"sse_keepalive_seconds": 1.0}}


def _merge(base: dict, extra: dict) -> dict:
    out = json.loads(json.dumps(base))
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


class RunningDaemon:
    def __init__(self, proc: subprocess.Popen, root: Path, log: Path, config_path: Path, token: str):
        self.proc = proc
        self.root = root
        self.log = log
        self.config_path = config_path
        self.token = token
        self.info: dict = {}

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def url(self) -> str:
        return self.info["url"]

    def wait_ready(self, timeout: float = START_TIMEOUT) -> "RunningDaemon":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited with {self.proc.returncode}: {self.log_text()}")
            info = state.read_state(self.root)
            if info is not None and info.get("pid") == self.pid:
                self.info = info
                try:
                    self.http().get("/api/health").raise_for_status()
                    return self
                except httpx.HTTPError:
                    pass
            time.sleep(0.02)
        raise AssertionError(f"daemon did not become ready: {self.log_text()}")

    def http(self, token: str | None = None, **kw) -> httpx.Client:
        token = self.token if token is None else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=kw.pop("timeout", 30.0), trust_env=False,
                            **kw)

    def api(self) -> DaemonClient:
        return DaemonClient(self.url, self.token)

    def log_text(self) -> str:
        try:
            return self.log.read_text()[-4000:]
        except OSError:
            return ""

    def signal(self, sig: int) -> None:
        os.kill(self.pid, sig)

    def wait_exit(self, timeout: float = 30.0) -> int:
        return self.proc.wait(timeout)

    def stop(self) -> None:
        terminate(self.proc)


def terminate(proc: subprocess.Popen) -> None:
    """SIGTERM a daemon and wait for it; SIGKILL it if it has not gone in 15 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.fixture
def start_daemon(library_path, tmp_path) -> Callable[..., RunningDaemon]:
    """start_daemon(config=None, host=None, wait=True) -> RunningDaemon (stopped at teardown)."""
    started: list[RunningDaemon] = []

    def start(config: dict | None = None, *, host: str | None = None, wait: bool = True,
              root: Path | None = None) -> RunningDaemon:
        n = len(started)
        cfg = _merge(BASE_CONFIG, config or {})
        config_path = tmp_path / f"daemon-config-{n}.json"
        config_path.write_text(json.dumps(cfg))
        log = tmp_path / f"daemon-{n}.log"
        root = root or library_path
        cmd = [sys.executable, "-m", "photojobs", "--library", str(root), "--config", str(config_path),
               "daemon", "run", "--port", "0"]
        if host:
            cmd += ["--host", host]
        with open(log, "ab") as out:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        d = RunningDaemon(proc, root, log, config_path, cfg.get("daemon", {}).get("token", ""))
        started.append(d)
        return d.wait_ready() if wait else d

    yield start
    for d in started:
        d.stop()


def read_events(stream, until: Callable[[list[dict]], bool], limit: int = 10_000) -> list[dict]:
    """Collect the data of the event log's events on a stream (not the greeting) until `until(collected)` is true."""
    got: list[dict] = []
    for ev in stream:
        if ev is None or not ev.logged:
            continue
        got.append({**ev.data, "_id": ev.id})
        if until(got) or len(got) >= limit:
            return got
    raise AssertionError(f"stream ended before the condition held; got {got[-5:]}")


def job_reached(job_id: int, status: str) -> Callable[[list[dict]], bool]:
    return lambda evs: any(e.get("kind") == "job" and e.get("id") == job_id and e.get("status") == status
                           for e in evs)
