"""SQLite connections for the catalog: pragmas, per-thread connections, and nested transactions."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, TypeAlias, TypeVar

from ..errors import CatalogError, StorageBusy, StorageFull
from .sqlite_errors import CatalogCursor, raise_typed, sqlite_busy

T = TypeVar("T")

# The types the rest of photojobs names in its hints: a row reads by column name (row["id"])
# and turns into a dict with dict(row); a connection is what the repositories take.
Row: TypeAlias = sqlite3.Row
Connection: TypeAlias = sqlite3.Connection

BUSY_TIMEOUT_MS = 30_000
MAX_ROW_ID = (1 << 63) - 1   # SQLite's largest INTEGER; a bigger Python int cannot even be bound
# One writer at a time per database file within this process. Threads of one process then
# queue on a Python lock instead of SQLite's busy handler, which sleeps in 1-100 ms steps;
# other processes still meet busy_timeout.
_file_locks: dict[str, threading.Lock] = {}
_file_locks_guard = threading.Lock()


class CatalogConnection(sqlite3.Connection):
    """A catalog connection, carrying its process-wide write lock and its open transaction's
    nesting depth, after-commit hooks and scratch state (gone with the connection).

    No sqlite3 error about the file itself leaves storage: a locked catalog raises StorageBusy,
    a damaged or unwritable one CatalogCorrupt / CatalogUnwritable naming the file (see catalog_error)."""

    backend = "sqlite"
    write_lock: threading.Lock | None = None
    busy_timeout_ms: int = BUSY_TIMEOUT_MS
    depth: int = 0
    hooks: list[Callable[[], None]] | None = None
    tx_state: dict | None = None
    catalog_path: str | None = None

    def cursor(self, factory=CatalogCursor):
        return super().cursor(factory)

    # Through our cursor (sqlite3's own execute makes a plain one), so rows read later are covered too.
    def execute(self, sql, parameters=(), /):
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql, parameters, /):
        return self.cursor().executemany(sql, parameters)


class _PlainTx:
    """The same bookkeeping for a plain sqlite3 connection handed in from outside."""

    write_lock = None
    busy_timeout_ms = BUSY_TIMEOUT_MS

    def __init__(self) -> None:
        self.depth = 0
        self.hooks: list[Callable[[], None]] | None = None
        self.tx_state: dict | None = None


_plain: dict[int, _PlainTx] = {}   # only while such a connection is inside a transaction


def _tx(conn: sqlite3.Connection, *, create: bool = False):
    if isinstance(conn, CatalogConnection):
        return conn
    tx = _plain.get(id(conn))
    if tx is None and create:
        tx = _plain[id(conn)] = _PlainTx()
    return tx


def is_row_id(value: int) -> bool:
    """Whether `value` can name a row at all (an id typed by a user may be any size)."""
    return 0 <= value <= MAX_ROW_ID


def is_busy_error(exc: BaseException) -> bool:
    """A locked catalog (StorageBusy, or SQLite's own error on a plain connection): a slow disk or
    a long writer, retryable, never fatal."""
    return isinstance(exc, StorageBusy) or sqlite_busy(exc)


def is_full_error(exc: BaseException) -> bool:
    """SQLite's "database or disk is full" (SQLITE_FULL): the disk holding the catalog has no room."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.Error) and code is not None and code & 0xFF == sqlite3.SQLITE_FULL


def _make_room(conn: sqlite3.Connection) -> None:
    """After a transaction that SQLITE_FULL rolled back: copy the WAL into the catalog (PASSIVE,
    waiting for no one). Once all of it is copied, the next transaction writes the WAL from its
    start, into room the file already holds on disk, so a small write that gives work back can
    succeed although the disk is still full."""
    try:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
    except sqlite3.Error:
        pass   # the catalog itself could not grow: nothing more to do here


def _storage_full(conn: sqlite3.Connection) -> StorageFull:
    try:
        where = f" ({conn.execute('PRAGMA database_list').fetchone()[2]})"
    except (sqlite3.Error, TypeError, IndexError):
        where = ""
    return StorageFull(f"the disk holding the catalog{where} is full; the change was not saved")


def retry_when_busy(body: Callable[[], T], *, give_up: Callable[[], bool] = lambda: False,
                    on_retry: Callable[[BaseException], None] | None = None) -> T:
    """Run `body` again, with a growing pause, for as long as the database answers "busy" (a
    write lock held by another process past busy_timeout) and `give_up()` is false. Only BEGIN
    can meet the lock, so a body that opens its own transaction is safe to run again."""
    delay = 0.05
    while True:
        try:
            return body()
        except (StorageBusy, sqlite3.OperationalError) as exc:
            if not is_busy_error(exc) or give_up():
                raise
            if on_retry is not None:
                on_retry(exc)
            time.sleep(delay)
            delay = min(1.0, delay * 2)


def open_connection(path: str | Path, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN ourselves, so a write transaction is always
    # BEGIN IMMEDIATE (takes the write lock up front; no deadlock-prone lock upgrades).
    try:
        conn = sqlite3.connect(str(path), timeout=busy_timeout_ms / 1000, isolation_level=None,
                               check_same_thread=False, factory=CatalogConnection)
    except sqlite3.DatabaseError as exc:
        raise_typed(exc, path)
    conn.catalog_path = str(path)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    conn.busy_timeout_ms = busy_timeout_ms
    conn.execute("PRAGMA journal_mode = WAL")
    # NORMAL in WAL mode: a commit survives a killed process; a power cut can lose the last
    # transactions (never corrupt the file). See README "Durability".
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    with _file_locks_guard:
        conn.write_lock = _file_locks.setdefault(os.path.realpath(path), threading.Lock())
    return conn


def is_postgres(conn) -> bool:
    """Whether `conn` is a PostgreSQL session (storage/postgres.py), whose transactions, hooks and
    change signals are its own methods; every public function here dispatches on it."""
    return getattr(conn, "backend", "sqlite") == "postgresql"


# Work: what a change means to idle lane slots. False, no job became claimable (a claim, a settle,
# progress, an event); True, any lane may have work (a pause changed, or nobody knows); a frozenset
# of priorities, jobs of those priorities were queued (only the lanes they fall in need look).


def merge_work(a, b):
    """Two changes' Work together."""
    if a is True or b is True:
        return True
    if not a or not b:
        return a or b or False
    return a | b


def notify_change(conn, *, work: bool = False, priority: int | None = None) -> None:
    """Say that this transaction changes what idle runners and streams wait for (a job queued,
    claimed or settled, a pause, an event). `work`: the change may make a job claimable, of
    `priority` only (a job queued or queued again), else in any lane (a pause flag changed). The
    transaction's state keeps the Work (`"work"`) for in-process wake-ups; on PostgreSQL a NOTIFY
    at commit carries it (see postgres.py), which `data_version` and `Catalog.listen` hear.
    SQLite's data_version needs no help."""
    what = (True if priority is None else frozenset((int(priority),))) if work else False
    if what:
        state = transaction_state(conn)
        if state is not None:
            state["work"] = merge_work(state.get("work", False), what)
    if is_postgres(conn):
        conn.mark_changed(what)


@contextmanager
def atomic(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction; nested calls become savepoints. Hooks run after the outer COMMIT."""
    if is_postgres(conn):
        with conn.atomic():
            yield conn
        return
    tx = _tx(conn, create=True)
    depth = tx.depth
    if depth == 0:
        if tx.write_lock is not None:
            tx.write_lock.acquire()
        try:
            _begin_immediate(conn, tx.busy_timeout_ms)
        except BaseException:
            _end(conn, tx)
            raise
        tx.hooks, tx.tx_state = [], {}
    else:
        conn.execute(f"SAVEPOINT sp{depth}")
    tx.depth = depth + 1
    try:
        yield conn
    except BaseException as exc:
        tx.depth = depth
        if depth == 0:
            try:
                if conn.in_transaction:  # SQLite may have rolled back already (e.g. on SQLITE_FULL)
                    conn.execute("ROLLBACK")
            finally:
                _end(conn, tx)
        elif conn.in_transaction:  # else SQLite rolled the whole transaction back, savepoints too
            conn.execute(f"ROLLBACK TO sp{depth}")
            conn.execute(f"RELEASE sp{depth}")
        if depth == 0 and (is_full_error(exc) or isinstance(exc, StorageFull)):
            _make_room(conn)
        if is_full_error(exc):
            raise _storage_full(conn) from exc
        raise
    tx.depth = depth
    if depth == 0:
        hooks = tx.hooks or []
        try:
            _commit(conn)
        finally:
            _end(conn, tx)
        for hook in hooks:
            hook()
    else:
        conn.execute(f"RELEASE sp{depth}")


def _end(conn: sqlite3.Connection, tx) -> None:
    """The outer transaction is over: drop its state and let the next writer in."""
    tx.hooks = tx.tx_state = None
    _plain.pop(id(conn), None)
    if tx.write_lock is not None:
        tx.write_lock.release()


def transaction_state(conn: sqlite3.Connection) -> dict | None:
    """A scratch dict that lives as long as the current outer transaction (None outside one)."""
    if is_postgres(conn):
        return conn.transaction_state()
    tx = _tx(conn)
    return tx.tx_state if tx is not None else None


def after_commit(conn: sqlite3.Connection, hook: Callable[[], None]) -> None:
    """Run `hook` once the current transaction commits (at once when there is none)."""
    if is_postgres(conn):
        return conn.after_commit(hook)
    tx = _tx(conn)
    if tx is None or not tx.depth or tx.hooks is None:
        hook()
    else:
        tx.hooks.append(hook)


def _begin_immediate(conn: sqlite3.Connection, busy_timeout_ms: int) -> None:
    deadline = time.monotonic() + busy_timeout_ms / 1000 * 4
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except (StorageBusy, sqlite3.OperationalError) as exc:
            if not is_busy_error(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _commit(conn: sqlite3.Connection) -> None:
    while True:
        try:
            conn.execute("COMMIT")
            return
        except StorageBusy:
            time.sleep(0.01)
        except sqlite3.OperationalError as exc:
            if not is_busy_error(exc):
                if conn.in_transaction:  # a failed COMMIT may have rolled back already (SQLITE_FULL does)
                    conn.execute("ROLLBACK")
                if is_full_error(exc):
                    _make_room(conn)
                    raise _storage_full(conn) from exc
                raise
            time.sleep(0.01)
        except CatalogError:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


class Catalog:
    """The catalog database file: hands each thread its own connection."""

    backend = "sqlite"

    def __init__(self, path: str | Path, busy_timeout_ms: int = BUSY_TIMEOUT_MS):
        self.path = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = open_connection(self.path, self.busy_timeout_ms)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def new_connection(self) -> sqlite3.Connection:
        """A private connection (for a reader such as an SSE stream or a change watcher)."""
        return open_connection(self.path, self.busy_timeout_ms)

    @property
    def url(self) -> str | None:
        return None

    @property
    def where(self) -> str:
        """The catalog's name in messages."""
        return str(self.path)

    def listen(self, on_change: Callable[[], None],
               on_work: Callable[[object], None] | None = None) -> Callable[[], None] | None:
        """SQLite has no change notifications: None, and callers keep polling data_version."""
        return None

    def try_leadership(self, name: str):
        """One daemon serves a SQLite library (its lock), so it always leads (storage/leadership.py)."""
        from .leadership import SoleLease
        return SoleLease()

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._all.clear()
        self._local = threading.local()


def data_version(conn: sqlite3.Connection) -> int:
    """A number that changes when another connection commits (SQLite's PRAGMA data_version):
    how idle loops notice other processes' work without reading any table. On PostgreSQL the
    count of change notifications the connection has heard (see notify_change)."""
    if is_postgres(conn):
        return conn.data_version()
    return conn.execute("PRAGMA data_version").fetchone()[0]


@contextmanager
def read_snapshot(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Several reads that see one consistent state of the catalog (a deferred read transaction)."""
    if is_postgres(conn):
        with conn.read_snapshot():
            yield conn
        return
    conn.execute("BEGIN")
    try:
        yield conn
    finally:
        conn.execute("COMMIT")
