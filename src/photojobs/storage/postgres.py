"""The catalog on a PostgreSQL server: connections that behave like our sqlite3 ones for the
repositories, nested transactions with after-commit hooks, and LISTEN/NOTIFY change signals.

What differs from SQLite, and how the contract is kept (see storage/__init__.py):
- Writes run in READ COMMITTED transactions; claims lock their row (FOR UPDATE SKIP LOCKED).
- `data_version` counts the `NOTIFY photojobs` that writers send at commit (`notify_change`):
  a connection that asked once LISTENs from then on, and each call drains, without blocking,
  what arrived. `PgCatalog.listen(on_change)` blocks on them in a thread instead (no polling).
- `busy_timeout_ms` is the lock_timeout: a lock held longer raises StorageBusy.
- Event ids commit in order without making writers queue: an event append inside a transaction
  is held back (`in_commit_order`) and sent with the COMMIT, in one message that first takes
  WRITE_ORDER_LOCK. The id is taken under that lock and the lock is held only while
  the appends and the COMMIT run, so an id taken earlier always commits before a later one, and
  other writers run side by side. The lock's holder waits for nothing (it only inserts into the
  events table and commits), so a transaction holding a row lock that waits for it cannot close
  a deadlock: taken earlier (at BEGIN, at the first write or at the first event), either every
  writer queued behind every other, or a transaction holding a job's row waited for the lock
  while its holder waited for that row.
- Durability: sessions run with `synchronous_commit = off` unless configured "on" (see
  SYNCHRONOUS_COMMIT): the guarantee of SQLite's WAL with synchronous=NORMAL, where a crash of
  the application loses nothing and one of the server may lose the last commits, never corrupts.
- Round trips: BEGIN travels with a transaction's first statement (pipeline mode); held-back
  appends, the lock and the NOTIFY travel with the COMMIT. NOTIFY's payload says whether the
  change may make a job claimable ('work', or 'work:<priorities>' queued; see `listen`).
"""

from __future__ import annotations


import logging
import os
import select
import threading
from collections.abc import Mapping
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import psycopg
from psycopg.rows import tuple_row

from .backend import redacted
from .db import merge_work
from .pg_rows import raise_typed, row_factory, translate

log = logging.getLogger("photojobs.storage.postgres")

CHANNEL = "photojobs"
WORK = "work"   # a notification's payload: 'work' (any lane) or 'work:50,90' (jobs of these priorities queued)


# A transaction that appends events takes this advisory lock at its COMMIT, just before the appends
# (see `in_commit_order`): event ids commit in the order they are taken. Any constant that never changes.
WRITE_ORDER_LOCK = 0x70686576   # "phev"
BACKEND = "postgresql"
# catalog.synchronous_commit: "off" (the default) acknowledges a commit before its WAL reaches the
# disk. A killed photojobs loses nothing; a crash of the server (or a power cut) may lose the last
# few hundred milliseconds of commits, never corrupts: the guarantee SQLite's catalog gives with
# WAL and synchronous=NORMAL. "on" waits for the flush of every commit.
SYNCHRONOUS_COMMIT = ("off", "on")


def _notify_sql(work) -> str:
    """The NOTIFY for a change whose Work (storage/db.py) is `work`: no payload when False."""
    if work is False:
        return f"NOTIFY {CHANNEL}"
    if work is True:
        return f"NOTIFY {CHANNEL}, '{WORK}'"
    return f"NOTIFY {CHANNEL}, '{WORK}:{','.join(str(p) for p in sorted(work))}'"


def _heard(payload: str):
    """The Work a notification's payload tells (False: a plain change)."""
    if payload == WORK:
        return True
    if payload.startswith(WORK + ":"):
        try:
            return frozenset(int(p) for p in payload[len(WORK) + 1:].split(","))
        except ValueError:
            return True
    return False


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
        self._notify: Any = None   # None: nothing to tell at commit; else the change's Work (storage/db.py)
        self._begin_pending = False   # BEGIN said, not yet sent: it goes with the first statement
        self._ordered: list[tuple[str, Any, Callable[[Any], None]]] = []   # held back to the COMMIT
        self._listening = False
        self._version = 0

    # --- statements -------------------------------------------------------------------------
    def _run(self, sql: str, params: Any, factory):
        named = isinstance(params, Mapping)
        cur = self.raw.cursor(row_factory=factory)
        try:
            if self._begin_pending:
                # A transaction's BEGIN travels with its first statement: one round trip.
                self._begin_pending = False
                with self.raw.pipeline():
                    self.raw.execute("BEGIN")
                    cur.execute(translate(sql, named), params if named else tuple(params))
                return cur
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
            if self._begin_pending:
                self._begin_pending = False
                self.raw.execute("BEGIN")
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
            self._begin_pending = True
            self.hooks, self.tx_state, self._notify, self._ordered = [], {}, None, []
        else:
            self.execute(f"SAVEPOINT sp{depth}")
        held_back = len(self._ordered)
        self.depth = depth + 1
        try:
            yield self
        except BaseException:
            self.depth = depth
            del self._ordered[held_back:]   # what the undone block held back is undone too
            if depth == 0:
                self.hooks = self.tx_state = None
                self._begin_pending = False
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
        ordered, self._ordered = self._ordered, []
        try:
            if ordered:
                self._commit_in_order(ordered)
            elif self._begin_pending:   # nothing was sent: nothing to commit
                self._begin_pending = False
                if self._notify is not None:
                    self.execute(_notify_sql(self._notify))
            else:
                # One round trip: the NOTIFY (delivered at commit anyway) rides with the COMMIT.
                self.execute(f"{_notify_sql(self._notify)}; COMMIT" if self._notify is not None else "COMMIT")
        except BaseException:
            self._quiet("ROLLBACK")
            raise
        for hook in hooks:
            hook()

    def in_commit_order(self, sql: str, params: tuple, on_result: Callable[[Any], None]) -> None:
        """Run `sql` (an INSERT ... RETURNING, `?` placeholders) at this transaction's COMMIT, under
        WRITE_ORDER_LOCK, so what it takes from a sequence commits in the order it was taken;
        `on_result(first column)` hears the value before the after-commit hooks run. Must not
        wait for row locks (see top)."""
        if not self.depth:
            raise RuntimeError("in_commit_order needs a transaction")
        self._ordered.append((sql, params, on_result))

    def _commit_in_order(self, ordered: list[tuple[str, Any, Callable[[Any], None]]]) -> None:
        """The lock, the held-back statements, the NOTIFY and the COMMIT as one message: one round
        trip, bound on this side (psycopg's pipeline mode costs several times the CPU per statement)."""
        statements = ["BEGIN"] if self._begin_pending else []
        self._begin_pending = False
        statements.append(f"SELECT pg_advisory_xact_lock({int(WRITE_ORDER_LOCK)})")
        lead = len(statements)
        params: list[Any] = []
        for sql, args, _ in ordered:
            statements.append(translate(sql, False))
            params.extend(args)
        if self._notify is not None:
            statements.append(_notify_sql(self._notify))
        statements.append("COMMIT")
        cur = psycopg.ClientCursor(self.raw, row_factory=tuple_row)
        try:
            cur.execute("; ".join(statements), params)
            for _ in range(lead - 1):   # to the lock's result (after BEGIN's)
                cur.nextset()
            results = []
            for _ in ordered:
                cur.nextset()
                results.append(cur.fetchone()[0])
        except psycopg.Error as exc:
            raise_typed(exc, self.url)
        for (_, _, on_result), result in zip(ordered, results):
            on_result(result)

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
    def mark_changed(self, work=False) -> None:
        """Tell every listener once this transaction commits (at once outside one); `work` (see
        storage/db.py's Work) goes in the payload, which `PgCatalog.listen` reads."""
        if self.depth:
            self._notify = work if self._notify is None else merge_work(self._notify, work)
        else:
            self.execute(_notify_sql(work))

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

    def listen(self, on_change: Callable[[], None],
               on_work: Callable[[Any], None] | None = None) -> Callable[[], None]:
        """Call `on_change` (in a thread of its own) whenever a writer anywhere commits a change,
        or `on_work(work)` instead, when given, for a change that may make a job claimable (work:
        True, or the priorities queued; see `notify_change`); returns the function that stops it.
        Blocks on the server's notifications, no polling."""
        if on_work is None:
            on_work = lambda work: on_change()  # noqa: E731
        stop = threading.Event()
        state: dict[str, Any] = {"raw": None}

        def session() -> psycopg.Connection:
            raw = connect_raw(self.url, self.busy_timeout_ms)
            raw.execute(f"LISTEN {CHANNEL}")
            state["raw"] = raw
            return raw

        raw = session()
        wake_r, wake_w = os.pipe()   # stop_listening's nudge: the thread ends at once, not at a timeout

        def run() -> None:
            nonlocal raw
            while not stop.is_set():
                try:
                    ready, _, _ = select.select([raw.fileno(), wake_r], [], [])
                    if wake_r in ready:
                        break
                    for note in raw.notifies(timeout=0):   # what arrived, without blocking
                        work = _heard(note.payload)
                        on_work(work) if work else on_change()
                except Exception as exc:  # noqa: BLE001 - the server went away: listen again
                    if stop.is_set():
                        break
                    log.warning("change listener lost its session (%s); reconnecting", exc)
                    try:
                        raw.close()
                    except psycopg.Error:
                        pass
                    if stop.wait(1.0):
                        break
                    try:
                        raw = session()
                        on_work(True)   # whatever happened meanwhile
                    except Exception:  # noqa: BLE001
                        continue
            try:
                raw.close()
            except psycopg.Error:
                pass

        thread = threading.Thread(target=run, name="catalog-listen", daemon=True)
        thread.start()

        def stop_listening() -> None:
            if stop.is_set():
                return
            stop.set()
            os.write(wake_w, b"x")
            if thread is not threading.current_thread():
                thread.join(2)
            if not thread.is_alive():
                os.close(wake_r)
                os.close(wake_w)

        return stop_listening
