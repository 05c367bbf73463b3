"""Leadership: one process among all that share the catalog does a given duty (the scheduler).

`Catalog.try_leadership(name)` returns a `Lease` when this process now leads for `name`, else
None (another process leads; ask again in a while). On SQLite one daemon serves the library
(its file lock), so it always leads. On PostgreSQL the lease is a session-level advisory lock
held on a connection of its own, kept open: when the leader's process dies or loses its
session, the server drops the lock, and the next process to ask gets it. `held()` says whether
the session (and so the lock) is still there; `release()` gives it up.
"""

from __future__ import annotations

import hashlib
import threading

LEADERSHIP_NAMESPACE = "photojobs.leadership."


def lock_key(name: str) -> int:
    """The advisory lock id for `name`: a stable positive 63-bit number."""
    digest = hashlib.sha256((LEADERSHIP_NAMESPACE + name).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


class Lease:
    """Leadership for one duty, held until released or the session is lost."""

    def held(self) -> bool:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError


class SoleLease(Lease):
    """A catalog with a single daemon: it leads, always."""

    def held(self) -> bool:
        return True

    def release(self) -> None:
        pass


class PgLease(Lease):
    """A session-level advisory lock on a dedicated PostgreSQL session."""

    def __init__(self, raw, key: int):
        self._raw = raw   # a psycopg connection in autocommit mode, used by this lease only
        self._key = key
        self._lock = threading.Lock()

    def held(self) -> bool:
        """True while the lock's session lives (a session-level lock goes only with it)."""
        import psycopg
        with self._lock:
            if self._raw is None or self._raw.closed:
                return False
            try:
                self._raw.execute("SELECT 1").fetchone()
            except psycopg.Error:
                self._close()
                return False
            return True

    def release(self) -> None:
        import psycopg
        with self._lock:
            if self._raw is None:
                return
            try:
                if not self._raw.closed:
                    self._raw.execute("SELECT pg_advisory_unlock(%s)", (self._key,))
            except psycopg.Error:
                pass
            self._close()

    def _close(self) -> None:
        import psycopg
        try:
            self._raw.close()
        except psycopg.Error:
            pass
        self._raw = None


def try_pg_leadership(url: str, busy_timeout_ms: int, name: str) -> PgLease | None:
    """Take the advisory lock for `name` on a new session if nobody holds it (never waits)."""
    import psycopg
    from .postgres import connect_raw
    raw = connect_raw(url, busy_timeout_ms)
    key = lock_key(name)
    try:
        got = raw.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]
    except psycopg.Error:
        got = False
    if not got:
        try:
            raw.close()
        except psycopg.Error:
            pass
        return None
    return PgLease(raw, key)
