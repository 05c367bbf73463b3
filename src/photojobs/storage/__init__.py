"""Storage: the catalog, its migrations, and one repository module per table; the contract below.

Everything that speaks SQL lives in this package. The rest of photojobs calls repository
functions with a `Connection`, reads `Row`s by column name, and catches the typed errors of
photojobs.errors, never a driver's: so a second backend changes this package and the
configuration only. What the repositories promise, and what such a backend must keep:

Connections
  `Catalog.conn()` hands each thread its own connection; `Catalog.new_connection()` a private
  one (an SSE follower, a runner's change watcher, a give-back while the slots' connections may
  be mid-transaction). `data_version(conn)` changes whenever another connection commits: the only
  way idle loops notice other processes' work. `read_snapshot(conn)`: several reads, one state.

Transactions
  `atomic(conn)` is one write transaction that takes the write lock up front (no lock upgrade,
  so no deadlock), all or nothing. Nested `atomic` blocks are savepoints: an exception rolls
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
  runners never claim the same job. Every later change of a running job (`finish`, `requeue`
  with a worker, `owned`) happens only while that worker still owns it, and returns None
  otherwise: a runner whose job was taken over cannot overwrite the new owner's work.
  A unique job is unique only while queued (`insert` returns the queued twin instead).

Events (repos/events.py)
  An append-only log. Ids only grow, are never reused (even after a prune), and, since one
  writer commits at a time, a reader that has seen id N never later finds a new event below N:
  ids are in commit order, which is what SSE's Last-Event-ID and `jobs watch` rely on.

Settings (repos/settings.py)
  Keys and string values; the pause flags are keys under `pause.` that `claim` reads.

A second backend provides the same functions in repos/ with these promises, its own `Row`
(indexable by column name, `dict(row)` works) and `Connection`, `Catalog`, `atomic`,
`after_commit`, `data_version`, `read_snapshot`, and maps its driver's errors to the typed ones.
"""

from .backend import URL_ENV, catalog_url, open_catalog
from .db import Catalog, Connection, Row, after_commit, atomic

__all__ = ["Catalog", "Connection", "Row", "atomic", "after_commit", "open_catalog", "catalog_url", "URL_ENV"]
