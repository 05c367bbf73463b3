"""Storage: the catalog, its migrations, and one repository module per table; the contract below.

Everything that speaks SQL lives in this package. The rest of photojobs calls repository
functions with a `Connection`, reads `Row`s by column name, and catches the typed errors of
photojobs.errors, never a driver's: so a second backend changes this package and the
configuration only. What the repositories promise, and what such a backend must keep:

Backends
  `open_catalog(url, sqlite_path, busy_timeout_ms)` (storage/backend.py) gives the SQLite file's
  `Catalog` (db.py) when `url` is empty, else a `PgCatalog` (postgres.py) on that PostgreSQL
  server; `catalog_url(configured)` is the URL in force (PHOTOJOBS_DATABASE_URL wins over
  `catalog.url`). Both have `.backend` ("sqlite" | "postgresql"), `.path` (the file; None on a
  server), `.url` (None for SQLite), `.where` (the name for messages, no password),
  `conn()`, `new_connection()`, `close()`, `listen(on_change)` and `try_leadership(name)`. The functions below take
  either backend's connection and dispatch on it (`is_postgres(conn)`); the repositories' SQL
  is the same text on both where it is portable, and branches on `is_postgres` where not.

Connections
  `Catalog.conn()` hands each thread its own connection; `Catalog.new_connection()` a private
  one (an SSE follower, a runner's change watcher, a give-back while the slots' connections may
  be mid-transaction). `data_version(conn)` changes whenever another connection commits: the only
  way idle loops notice other processes' work. `read_snapshot(conn)`: several reads, one state.
  `Catalog.listen(on_change, on_work=None)` calls `on_change` from a thread of its own whenever
  a change is committed anywhere, or `on_work` for one that may make a job claimable, and
  returns a stop function; None where the backend cannot (SQLite: poll data_version). Writes
  that idle loops wait for call `notify_change(conn, work=...)` (PostgreSQL: a NOTIFY at
  commit): enqueue, claim, settle, cancel/retry, settings (pauses), every event; `work=True`
  for a job queued (or queued again) and a settings change (pauses), which the transaction's
  state also records as "work" for the in-process wake-ups.

Leadership (leadership.py)
  `Catalog.try_leadership(name)` gives a `Lease` (`held()`, `release()`) if this process now
  leads for `name` (e.g. the scheduler), else None: ask again later. SQLite: always granted (one
  daemon per library). PostgreSQL: a session-level advisory lock on a dedicated session kept
  open, so exactly one process of all hosts holds it, and it passes on when the holder dies.

Durability
  A commit that returned survives a crash of photojobs; a crash of the machine (or of the
  PostgreSQL server) may lose the last commits before it, never corrupts the catalog. SQLite
  gets this from WAL with synchronous=NORMAL; PostgreSQL sessions from `synchronous_commit =
  off` (the default of `catalog.synchronous_commit`, passed to `open_catalog`; "on" flushes the
  WAL at every commit, for those who would rather pay a disk flush per job than lose any).

Transactions
  `atomic(conn)` is one write transaction that takes the write lock up front (no lock upgrade,
  so no deadlock), all or nothing. On PostgreSQL: READ COMMITTED with row locks (the busy timeout
  is the lock_timeout; a deadlock or serialization failure is StorageBusy too). Nested `atomic` blocks are savepoints: an exception rolls
  back only the inner block, and the outer one may go on. Writers of one process queue on a
  lock per catalog file; writers of other processes wait up to the busy timeout.
  `after_commit(conn, hook)` runs `hook` once the outermost transaction has committed (at once
  outside one; never when the outer transaction rolls back, even if it was registered in a
  savepoint that did): waking runners and streams only for work that exists.
  `transaction_state(conn)` is scratch state living as long as the outer transaction.

Errors (photojobs.errors)
  StorageBusy    another writer kept the lock past the busy timeout; nothing was written and
                 the same call may simply be made again (`retry_when_busy` does so).
  StorageFull    the disk is full; the transaction was rolled back and room was made for a
                 small following transaction (giving the job in hand back).
  CatalogCorrupt / CatalogUnwritable   the file itself is damaged / cannot be written.
  SchemaTooNew   the catalog was written by a newer photojobs (see migrations).
  Constraint or programming errors are bugs and stay what the driver raised.

Jobs (repos/jobs.py)
  `claim` is one atomic statement: it takes the queued job with the highest priority, then the
  oldest (lowest id), among those whose priority lies in the lane's range and whose `run_after`
  has come, and marks it running for the worker (host, pid, heartbeat, attempts + 1). It takes
  nothing while the lane's pause flag (`pause.<lane>` in settings) or `pause.all` is set. Two
  runners never claim the same job (PostgreSQL: FOR UPDATE SKIP LOCKED in the sub-select). Every later change of a running job (`finish`, `requeue`
  with a worker, `owned`) happens only while that worker still owns it, and returns None
  otherwise: a runner whose job was taken over cannot overwrite the new owner's work.
  A unique job is unique only while queued (`insert` returns the queued twin instead).

Events (repos/events.py)
  An append-only log. Ids only grow, are never reused (even after a prune), and, since one
  writer commits at a time, a reader that has seen id N never later finds a new event below N:
  ids are in commit order, which is what SSE's Last-Event-ID and `jobs watch` rely on.
  PostgreSQL has no single writer of its own, and writers run side by side: an append inside a
  transaction is held back and sent with its COMMIT, in one round trip that first takes the
  advisory lock WRITE_ORDER_LOCK, so each id is taken under the lock held until its commit and
  one taken earlier can never commit after a later one is seen (postgres.py). `append` tells
  the new id through `on_id`: at once on SQLite, at the commit on PostgreSQL.

Settings (repos/settings.py)
  Keys and string values; the pause flags are keys under `pause.` that `claim` reads.

A second backend provides the same functions in repos/ with these promises, its own `Row`
(indexable by column name, `dict(row)` works) and `Connection`, `Catalog`, `atomic`,
`after_commit`, `data_version`, `read_snapshot`, and maps its driver's errors to the typed ones.
"""

from .backend import URL_ENV, catalog_url, open_catalog
from .db import Catalog, Connection, Row, after_commit, atomic

__all__ = ["Catalog", "Connection", "Row", "atomic", "after_commit", "open_catalog", "catalog_url", "URL_ENV"]
