"""Where a running daemon is recorded, the lock that makes it the only one, and stale records.

One daemon per library on a SQLite catalog; with the catalog on a server (PostgreSQL), one per
library and host (several machines share the library, each with its own daemon)."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import socket
from pathlib import Path
from typing import Any

import platformdirs

from ..config import Config
from ..engine.recovery import host_id, pid_alive
from ..errors import PhotojobsError
from ..library import CATALOG_DIR
from ..storage import catalog_url

LOCK_FILE = "daemon.lock"


class AlreadyRunning(PhotojobsError):
    pass


def state_dir() -> Path:
    """The per-user state folder (a record that outlives a reboot is stale and found so by its pid)."""
    return platformdirs.user_state_path("photojobs")


def library_key(root: Path) -> str:
    return hashlib.sha256(str(Path(root).resolve()).encode()).hexdigest()[:16]


def state_path(root: Path) -> Path:
    return state_dir() / "daemons" / f"{library_key(root)}.json"


def log_path(root: Path) -> Path:
    return state_dir() / "daemons" / f"{library_key(root)}.log"


def write_state(root: Path, info: dict[str, Any]) -> Path:
    path = state_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(info, indent=2))
    os.replace(tmp, path)
    return path


def read_state(root: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(state_path(root).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("pid"), int) else None


def remove_state(root: Path, pid: int) -> None:
    """Remove the record if it is `pid`'s (a newer daemon's record is left alone)."""
    current = read_state(root)
    if current is not None and current.get("pid") == pid:
        try:
            state_path(root).unlink()
        except FileNotFoundError:
            pass


def live_record(root: Path) -> dict[str, Any] | None:
    """The record of a daemon whose process still exists; a dead daemon's record is removed."""
    info = read_state(root)
    if info is None:
        return None
    if info.get("host") == socket.gethostname() and not pid_alive(info["pid"]):
        remove_state(root, info["pid"])
        return None
    return info


def lock_file(config: Config | None) -> str:
    """The lock's file name: the library's, or this host's when the catalog is on a server."""
    if config is None or catalog_url(config.get("catalog.url")) is None:
        return LOCK_FILE
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in host_id(config))
    return f"daemon-{safe}.lock"


class DaemonLock:
    """An exclusive lock on the library (or the library and host, see lock_file), held for the
    daemon's life (the kernel drops it if we die)."""

    def __init__(self, root: Path, config: Config | None = None):
        self.path = Path(root) / CATALOG_DIR / lock_file(config)
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = self.path.read_text().strip() or "another process"
            raise AlreadyRunning(f"a daemon is already running for this library (pid {holder})") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def lock_holder(root: Path, config: Config | None = None) -> int | None:
    """The pid of the daemon holding the library lock, or None when no process holds it."""
    path = Path(root) / CATALOG_DIR / lock_file(config)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = path.read_text().strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
