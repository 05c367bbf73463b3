"""Starting a daemon in the background, asking its status, and stopping it (for `photojobs daemon ...`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ..config import Config
from ..engine.recovery import pid_alive
from ..errors import PhotojobsError
from . import state
from .client import find_daemon

POLL = 0.02


def status(root: Path, config: Config) -> dict:
    """{"running": True, pid, url, ...health} for a live daemon, else {"running": False, ...}."""
    found = find_daemon(root, config)
    if found is None:
        holder = state.lock_holder(root, config)
        if holder is not None:
            return {"running": False, "state": "unresponsive", "pid": holder, "library": str(root)}
        return {"running": False, "state": "stopped", "library": str(root)}
    info, client = found
    client.close()
    health = info.pop("health")
    return {"running": True, "state": "running", **info, "uptime_seconds": health["uptime_seconds"],
            "queue": health["queue"], "lanes": health["lanes"], "streams": health["streams"]}


def start(root: Path, config: Config, *, config_path: Path | None = None, host: str | None = None,
          port: int | None = None, timeout: float = 30.0, verbose: int = 0) -> dict:
    """Start `photojobs daemon run` detached and return its status once it answers."""
    current = status(root, config)
    if current["running"]:
        return {**current, "already_running": True}
    if current["state"] == "unresponsive":
        raise PhotojobsError(f"a daemon (pid {current['pid']}) holds this library but does not answer; "
                             "stop it with `photojobs daemon stop --force`")
    cmd = [sys.executable, "-m", "photojobs", "--library", str(root)]
    if config_path is not None:
        cmd += ["--config", str(config_path)]
    cmd += ["-v"] * verbose + ["daemon", "run"]
    if host is not None:
        cmd += ["--host", host]
    if port is not None:
        cmd += ["--port", str(port)]
    log = state.log_path(root)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
                                close_fds=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            raise PhotojobsError(f"the daemon exited with code {code} while starting: {_tail(log)}")
        info = state.read_state(root)
        if info is not None and info.get("pid") == proc.pid:
            now = status(root, config)
            if now["running"]:
                return {**now, "already_running": False, "log": str(log)}
        time.sleep(POLL)
    raise PhotojobsError(f"the daemon (pid {proc.pid}) did not answer within {timeout:g}s; see {log}")


def stop(root: Path, config: Config, *, timeout: float | None = None, force: bool = False) -> dict:
    """SIGTERM the library's daemon and wait until it has gone (SIGKILL after `timeout` with force)."""
    info = state.live_record(root)
    # The lock's holder is the daemon, whatever the record says (the record may be stale).
    pid = state.lock_holder(root, config)
    if pid == -1:  # locked, its pid not written yet: a daemon is just starting
        pid = info["pid"] if info is not None else None
    if pid is None:
        if info is not None:
            state.remove_state(root, info["pid"])
        return {"running": False, "stopped": False, "library": str(root)}
    if timeout is None:
        timeout = config.pipeline.shutdown_grace_seconds + 10
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(POLL)
    killed = False
    if pid_alive(pid):
        if not force:
            raise PhotojobsError(f"the daemon (pid {pid}) is still stopping after {timeout:g}s; "
                                 "use --force to kill it")
        os.kill(pid, signal.SIGKILL)
        killed = True
        while pid_alive(pid):
            time.sleep(POLL)
    state.remove_state(root, pid)
    return {"running": False, "stopped": True, "pid": pid, "killed": killed, "library": str(root)}


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return " | ".join(text[-lines:]) or "(empty log)"
