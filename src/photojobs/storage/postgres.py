"""The catalog on a PostgreSQL server: connections that behave like our sqlite3 ones for the
repositories, nested transactions with after-commit hooks, and LISTEN/NOTIFY change signals.

What differs from SQLite, and how the contract is kept (see storage/__init__.py):
- Writes run in READ COMMITTED transactions; claims lock their row (FOR UPDATE SKIP LOCKED).
- `data_version` counts the `NOTIFY photojobs` that writers send at commit (`notify_change`):
  a connection that asked once LISTENs from then on, and each call drains, without blocking,
  what arrived. `PgCatalog.listen(on_change)` blocks on them in a thread instead (no polling).
- `busy_timeout_ms` is the lock_timeout: a lock held longer raises StorageBusy.
- Writers queue as on SQLite's BEGIN IMMEDIATE: `atomic` takes WRITE_ORDER_LOCK in its BEGIN's
  round trip and holds it to the end. So event ids (from an identity) commit in order, and no
  transaction holds a row lock while it waits for another writer: taken later (at the first
  event, or the first write), a transaction holding a job's row (a progress write, the fencing
  check's FOR UPDATE) waited for the lock while its holder waited for that row: a deadlock.
- Durability: sessions run with `synchronous_commit = off` unless configured "on" (see
  SYNCHRONOUS_COMMIT): the guarantee of SQLite's WAL with synchronous=NORMAL, where a crash of
  the application loses nothing and one of the server may lose the last commits, never corrupts.
- Round trips: the lock shares BEGIN's, the NOTIFY is sent in the same message as the COMMIT.
"""

from __future__ import annotations


import logging
import threading
import time
from collections.abc import Mapping
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import psycopg
from psycopg.rows import tuple_row

from .backend import redacted
from .pg_rows import raise_typed, row_factory, translate

log = logging.getLogger("photojobs.storage.postgres")

CHANNEL = "photojobs"
# Every write transaction takes this advisory lock in its BEGIN and holds it to the end: writers
# queue one at a time as on SQLite (BEGIN IMMEDIATE), so event ids commit in order and no
# transaction ever holds a row lock while it waits for another writer. Any constant that never changes.
WRITE_ORDER_LOCK = 0x70686576   # "phev"
BACKEND = "postgresql"
# catalog.synchronous_commit: "off" (the default) acknowledges a commit before its WAL reaches the
# disk. A killed photojobs loses nothing; a crash of the server (or a power cut) may lose the last
# few hundred milliseconds of commits, never corrupts: the guarantee SQLite's catalog gives with
# WAL and synchronous=NORMAL. "on" waits for the flush of every commit.
SYNCHRONOUS_COMMIT = ("off", "on")


def connect_raw(url: str, busy_timeout_ms: int, synchronous_commit: str = "off") -> psycopg.Connection:
    """A psycopg connection in autocommit mode (we say BEGIN ourselves), errors made typed."""
    if synchronous_commit not in SYNCHRONOUS_COMMIT:
        raise ValueError(f"synchronous_commit must be one of {SYNCHRONOUS_COMMIT}, not {synchronous_commit!r}")
    try:
        raw = psycopg.connect(url, autocommit=True, row_factory=row_factory, connect_timeout=10)
        raw.execute(f"SET lock_timeout = {int(busy_timeout_ms)}; SET synchronous_commit = {synchronous_commit}")
    except psycopg.Error as exc:
        raise_typed(exc, url)
    return raw


class PgCursor:
    """What `conn.cursor()` gives: set `row_factory = None` for plain tuples, then execute."""

    def __init__(self, conn: "PgConnection"):
        self._conn = conn
        self.row_factory: Any = row_factory

    def execute(self, sql: str, params: Any = ()):
        return self._conn._run(sql, params, self.row_factory or tuple_row)


class PgConnection:
    """One PostgreSQL session, used like a catalog sqlite3 connection by the repositories."""

    backend = BACKEND

    def __init__(self, url: str, busy_timeout_ms: int, synchronous_commit: str = "off"):
        self.url = url
        self.busy_timeout_ms = busy_timeout_ms
        self.raw = connect_raw(url, busy_timeout_ms, synchronous_commit)
        self.depth = 0
        self.hooks: list[Callable[[], None]] | None = None
        self.tx_state: dict | None = None
        self._notify = False
        self._listening = False
        self._version = 0

    # --- statements -------------------------------------------------------------------------
    def _run(self, sql: str, params: Any, factory):
        named = isinstance(params, Mapping)
        cur = self.raw.cursor(row_factory=factory)
        try:
            return cur.execute(translate(sql, named), params if named else tuple(params))
        except psycopg.Error as exc:
            raise_typed(exc, self.url)

    def execute(self, sql: str, params: Any = ()):
        return self._run(sql, params, row_factory)

    def executemany(self, sql: str, seq):
        seq = list(seq)
        named = bool(seq) and isinstance(seq[0], Mapping)
        cur = self.raw.cursor()
        if not seq:
            return cur
        try:
            cur.executemany(translate(sql, named), seq)
        except psycopg.Error as exc:
            raise_typed(exc, self.url)
        return cur

    def cursor(self) -> PgCursor:
        return PgCursor(self)

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE

    def close(self) -> None:
        try:
            self.raw.close()
        except psycopg.Error:
            pass

    # --- transactions -----------------------------------------------------------------------
    @contextmanager
    def atomic(self) -> Iterator["PgConnection"]:
        depth = self.depth
        if depth == 0:
            # A write transaction queues behind the other writers at once, in BEGIN's own round
            # trip (SQLite's BEGIN IMMEDIATE): no row lock is ever taken before the write order.
            try:
                self.raw.execute(f"BEGIN; SELECT pg_advisory_xact_lock({int(WRITE_ORDER_LOCK)})")
            except psycopg.Error as exc:
                self._quiet("ROLLBACK")
                raise_typed(exc, self.url)
            self.hooks, self.tx_state, self._notify = [], {}, False
        else:
            self.execute(f"SAVEPOINT sp{depth}")
        self.depth = depth + 1
        try:
            yield self
        except BaseException:
            self.depth = depth
            if depth == 0:
                self.hooks = self.tx_state = None
                self._quiet("ROLLBACK")
            elif self.in_transaction:
                self._quiet(f"ROLLBACK TO SAVEPOINT sp{depth}")
                self._quiet(f"RELEASE SAVEPOINT sp{depth}")
            raise
        self.depth = depth
        if depth:
            self.execute(f"RELEASE SAVEPOINT sp{depth}")
            return
        hooks = self.hooks or []
        self.hooks = self.tx_state = None
        try:
            # One round trip: the NOTIFY (delivered at commit anyway) rides with the COMMIT.
            self.execute(f"NOTIFY {CHANNEL}; COMMIT" if self._notify else "COMMIT")
        except BaseException:
            self._quiet("ROLLBACK")
            raise
        for hook in hooks:
            hook()

    def _quiet(self, sql: str) -> None:
        """A rollback that must not hide the error that caused it (the session may be gone)."""
        try:
            if not self.raw.closed and self.in_transaction:
                self.raw.execute(sql)
        except psycopg.Error:
            pass

    def after_commit(self, hook: Callable[[], None]) -> None:
        if not self.depth or self.hooks is None:
            hook()
        else:
            self.hooks.append(hook)

    def transaction_state(self) -> dict | None:
        return self.tx_state if self.depth else None

    @contextmanager
    def read_snapshot(self) -> Iterator["PgConnection"]:
        self.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            yield self
        finally:
            self._quiet("COMMIT")

    # --- change signals ---------------------------------------------------------------------
    def mark_changed(self) -> None:
        """Tell every listener once this transaction commits (at once outside one)."""
        if self.depth:
            self._notify = True
        else:
            self.execute(f"NOTIFY {CHANNEL}")

    def data_version(self) -> int:
        """A counter of the change notifications this session has heard (LISTENing from the first call)."""
        if not self._listening:
            self.execute(f"LISTEN {CHANNEL}")
            self._listening = True
        try:
            for _ in self.raw.notifies(timeout=0):
                self._version += 1
        except psycopg.Error as exc:
            raise_typed(exc, self.url)
        return self._version


class PgCatalog:
    """The catalog on a PostgreSQL server: each thread its own session."""

    backend = BACKEND
    path = None   # no file: backups, integrity checks and rebuilds are the server's business

    def __init__(self, url: str, busy_timeout_ms: int, synchronous_commit: str = "off"):
        self.url = url
        self.busy_timeout_ms = busy_timeout_ms
        self.synchronous_commit = synchronous_commit
        self._local = threading.local()
        self._all: list[PgConnection] = []
        self._lock = threading.Lock()

    @property
    def where(self) -> str:
        """The catalog's name in messages (the URL without its password)."""
        return redacted(self.url)

    def conn(self) -> PgConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.raw.closed:
            conn = PgConnection(self.url, self.busy_timeout_ms, self.synchronous_commit)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def new_connection(self) -> PgConnection:
        return PgConnection(self.url, self.busy_timeout_ms, self.synchronous_commit)

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()

    def try_leadership(self, name: str):
        """Lead for `name` across every host (a session advisory lock), or None if another does."""
        from .leadership import try_pg_leadership
        return try_pg_leadership(self.url, self.busy_timeout_ms, name)

    def listen(self, on_change: Callable[[], None]) -> Callable[[], None]:
        """Call `on_change` (in a thread of its own) whenever a writer anywhere commits a change;
        returns the function that stops it. Blocks on the server's notifications, no polling."""
        stop = threading.Event()
        state: dict[str, Any] = {"raw": None}

        def session() -> psycopg.Connection:
            raw = connect_raw(self.url, self.busy_timeout_ms)
            raw.execute(f"LISTEN {CHANNEL}")
            state["raw"] = raw
            return raw

        raw = session()

        def run() -> None:
            nonlocal raw
            while not stop.is_set():
                try:
                    for _ in raw.notifies(timeout=0.5):
                        on_change()
                except Exception as exc:  # noqa: BLE001 - the server went away: listen again
                    if stop.is_set():
                        break
                    log.warning("change listener lost its session (%s); reconnecting", exc)
                    try:
                        raw.close()
                    except psycopg.Error:
                        pass
                    time.sleep(1.0)
                    try:
                        raw = session()
                        on_change()   # whatever happened meanwhile
                    except Exception:  # noqa: BLE001
                        continue
            try:
                raw.close()
            except psycopg.Error:
                pass

        thread = threading.Thread(target=run, name="catalog-listen", daemon=True)
        thread.start()

        def stop_listening() -> None:
            stop.set()
            if thread is not threading.current_thread():
                thread.join(2)

        return stop_listening
