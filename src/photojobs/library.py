"""The library: a folder of project folders plus the catalog, opened once and passed down."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Callable

import platformdirs

from photojobs.config import Config, load_config
from photojobs.errors import NotFound, PhotojobsError
from photojobs.library_guard import CATALOG_DIR, CATALOG_FILE, refuse_if_no_projects, refuse_unusable_file
from photojobs.storage import Catalog
from photojobs.storage.migrations import migrate


def default_library_path() -> Path:
    env = os.environ.get("PHOTOJOBS_LIBRARY")
    if env:
        return Path(env).expanduser()
    return platformdirs.user_data_path("photojobs") / "library"


class Waker:
    """Wakes sleepers in this process the moment something they wait for may have changed."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._generation = 0

    def notify(self) -> None:
        with self._cond:
            self._generation += 1
            self._cond.notify_all()

    def generation(self) -> int:
        return self._generation

    def wait(self, seen: int, timeout: float) -> int:
        """Sleep until the generation moves past `seen` or `timeout` passes; return the generation."""
        with self._cond:
            if self._generation == seen and timeout > 0:
                self._cond.wait(timeout)
            return self._generation


class Library:
    """An open library: its root folder, configuration, catalog and in-process wake-ups."""

    def __init__(self, root: Path, config: Config, *, clock: Callable[[], float] = time.time):
        self.root = Path(root)
        self.config = config
        self.clock = clock
        self.catalog = Catalog(self.root / CATALOG_DIR / CATALOG_FILE, config.pipeline.busy_timeout_ms)
        self.waker = Waker()
        self._subscribers: list[Callable[[list[dict]], None]] = []
        self.notes: list[str] = []
        self.on_note: Callable[[str], None] | None = None

    @classmethod
    def open(cls, root: str | os.PathLike | None = None, config: Config | None = None, *,
             create: bool = True, clock: Callable[[], float] = time.time, allow_lost: bool = False) -> "Library":
        """Open (or create) the library at `root`. A damaged catalog is refused before anything
        writes to it; so is a missing, empty or project-less one beside project folders, which a
        new catalog would orphan (`allow_lost`: the catalog rebuild, which re-creates it)."""
        root = Path(root).expanduser() if root else default_library_path()
        if root.exists() and not root.is_dir():
            raise PhotojobsError(f"library path {root} exists and is not a folder")
        if not allow_lost:
            refuse_unusable_file(root)
        catalog_dir = root / CATALOG_DIR
        if not catalog_dir.exists():
            if not create:
                raise NotFound(f"no photojobs library at {root} (`photojobs project create` or "
                               "`photojobs upload` makes one)")
            try:
                catalog_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise PhotojobsError(f"cannot create library at {root}: {exc.strerror}") from None
        lib = cls(root, config or load_config(), clock=clock)
        try:
            migrate(lib.conn(), lib.catalog.path)
            if not allow_lost:
                refuse_if_no_projects(lib)
        except BaseException:
            lib.close()
            raise
        return lib

    def conn(self):
        return self.catalog.conn()

    def now(self) -> float:
        return self.clock()

    def project_path(self, folder: str) -> Path:
        return self.root / folder

    # In-process subscribers to committed events (the daemon's SSE hub, tests). A failing
    # subscriber is reported and skipped, never fatal to the job that emitted the event.
    def subscribe(self, callback: Callable[[list[dict]], None]) -> Callable[[], None]:
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def publish(self, events: list[dict]) -> None:
        for callback in list(self._subscribers):
            try:
                callback(events)
            except Exception as exc:  # noqa: BLE001 - a subscriber must never break the emitter
                import logging
                logging.getLogger("photojobs.events").warning("event subscriber failed: %r", exc)

    def note(self, message: str) -> None:
        """Tell the user how a request was understood (a project found by its id, not its name):
        the CLI shows it on stderr, once; the daemon has no one to tell and only keeps it."""
        if message in self.notes:
            return
        self.notes.append(message)
        if self.on_note is not None:
            self.on_note(message)

    def close(self) -> None:
        self.catalog.close()
