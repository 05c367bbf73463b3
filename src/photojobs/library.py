"""The library: a folder of project folders plus the catalog, opened once and passed down."""

from __future__ import annotations

import difflib
import os
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, Callable

import platformdirs

from photojobs.config import Config, load_config
from photojobs.errors import NotFound, PhotojobsError
from photojobs.library_guard import (CATALOG_DIR, CATALOG_FILE, establish_identity, refuse_if_no_projects,
                                     refuse_unusable_file)
from photojobs.storage import Connection, Row, catalog_url, open_catalog
from photojobs.storage.repos import projects as projects_repo
from photojobs.storage.migrations import migrate


def default_library_path() -> Path:
    env = os.environ.get("PHOTOJOBS_LIBRARY")
    if env:
        return Path(env).expanduser()
    return platformdirs.user_data_path("photojobs") / "library"


class Waker:
    """Wakes sleepers in this process the moment something they wait for may have changed."""

    RECENT_WORK = 64   # wake-ups with work remembered, for lanes that look rarely

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._generation = 0
        self._work = 0
        self._recent: deque[tuple[int, Any]] = deque(maxlen=self.RECENT_WORK)

    def notify(self, work: Any = True) -> None:
        """Wake every sleeper. `work` (storage/db.py's Work) tells idle lane slots whether to look
        at the queue: False, the change cannot have made a job claimable (a job claimed, settled
        or reporting progress); True, any lane may have work; a set of priorities, jobs of those
        priorities were queued."""
        with self._cond:
            self._generation += 1
            if work:
                self._work += 1
                self._recent.append((self._work, work))
            self._cond.notify_all()

    def generation(self) -> int:
        return self._generation

    def work_generation(self) -> int:
        """Counts the wake-ups that may have made a job claimable (a job queued, a pause changed)."""
        return self._work

    def work_since(self, seen: int, min_priority: int, max_priority: int) -> bool:
        """Whether a wake-up after work generation `seen` may have made a job with a priority in
        [min_priority, max_priority] claimable (yes when too many came to remember them all)."""
        with self._cond:
            if self._work == seen:
                return False
            since = [work for n, work in self._recent if n > seen]
            if len(since) < self._work - seen:
                return True
            return any(work is True or any(min_priority <= p <= max_priority for p in work) for work in since)

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
        self.catalog = open_catalog(catalog_url(config.get("catalog.url")), self.root / CATALOG_DIR / CATALOG_FILE,
                                    config.pipeline.busy_timeout_ms,
                                    synchronous_commit=config.get("catalog.synchronous_commit", "off"))
        self.library_id: str | None = None   # set by open(), once checked against the root's marker
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
        config = config or load_config()
        on_server = catalog_url(config.get("catalog.url")) is not None
        if not allow_lost and not on_server:   # a file's damage: the SQLite catalog only
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
        lib = cls(root, config, clock=clock)
        try:
            migrate(lib.conn(), lib.catalog.path)
            if not allow_lost:
                refuse_if_no_projects(lib)
            lib.library_id = establish_identity(lib)
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


def resolve_project(conn: Connection, project: str | int | None, *,
                    note: Callable[[str], None] | None = None) -> Row | None:
    """The project a user's words name; None for None. The one lookup every command uses.

    An int is an id (what the code passes). Text is, in order: a project's exact name (a name
    beats an id, so `--project 2` is the project named "2" when there is one), its folder, an
    id, then a name or folder that differs only in case when just one project has it. Anything
    but an exact name or folder is told to `note`, naming the project chosen. NotFound says
    which names come close and where to see them all."""
    if project is None:
        return None
    if isinstance(project, int):
        row = projects_repo.get(conn, project)
        if row is None:
            raise NotFound(f"no such project: {project}")
        return row
    text = str(project)
    named = projects_repo.all_named(conn, text)
    if named:
        if len(named) > 1 and note is not None:
            note(f"{len(named)} projects are named {_quote(text)}; using the first, in folder {named[0]['folder']} "
                 f"(name another by its folder: {', '.join(r['folder'] for r in named[1:])})")
        return named[0]
    row = projects_repo.by_folder(conn, text)
    if row is not None:
        return row
    every = projects_repo.list_all(conn)
    if text.isdigit():
        row = next((r for r in every if r["id"] == int(text)), None)
        if row is not None:
            if note is not None:
                note(f"no project is named {_quote(text)}: using project {row['id']}, {_quote(row['name'])} "
                     f"(folder {row['folder']})")
            return row
    key = text.casefold()
    alike = {r["id"]: r for r in every if key in (r["name"].casefold(), r["folder"].casefold())}
    if len(alike) == 1:
        [row] = alike.values()
        if note is not None:
            note(f"using project {_quote(row['name'])} (folder {row['folder']}) for {_quote(text)}")
        return row
    raise NotFound(f"no such project: {text}{_suggestion(text, every)}")


def _quote(name: str) -> str:
    return f"'{name}'"


def _suggestion(text: str, every: list[Row]) -> str:
    """"; did you mean 'X'?" for the names close to `text` (any case), and where to see them all."""
    if not every:
        return " (the library has no projects yet)"
    names: dict[str, list[str]] = {}   # a spelling, any case -> the names of the projects it is
    for r in every:
        for spelling in {r["name"].casefold(), r["folder"].casefold()}:
            names.setdefault(spelling, []).append(r["name"])
    close = difflib.get_close_matches(text.casefold(), list(names), n=3, cutoff=0.6)
    chosen = list(dict.fromkeys(name for c in close for name in names[c]))
    hint = f"; did you mean {' or '.join(map(_quote, chosen))}?" if chosen else ""
    return f"{hint} (`photojobs project list` shows them all)"
