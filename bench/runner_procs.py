"""photojobs' queue figures with separate runner processes, on the backend the environment selects:
PHOTOJOBS_DATABASE_URL=postgresql://... selects PostgreSQL, unset the library's SQLite catalog.

The same four figures and the same method as bench/procrastinate_baseline.py (see procs.py):
enqueue rate (N `queue.enqueue` calls), no-op drain of N queued jobs by 1 and by 3 runner
processes (`Runner(until_empty=True)`, default lanes; the no-op jobs all wait in the normal
lane, which has one slot, so each process runs one job at a time, like a procrastinate worker
with concurrency 1), and idle enqueue-to-start p50/p95 with one idle runner process, so the
wake-up crosses processes (LISTEN/NOTIFY on PostgreSQL, data_version polling on SQLite).
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
if "benchjobs" not in os.environ.get("PHOTOJOBS_PLUGINS", "").split(","):
    os.environ["PHOTOJOBS_PLUGINS"] = ",".join(filter(None, [os.environ.get("PHOTOJOBS_PLUGINS"), "benchjobs"]))

import benchjobs  # noqa: E402
import procs  # noqa: E402
from photojobs.config import load_config  # noqa: E402
from photojobs.engine import queue  # noqa: E402
from photojobs.engine.runner import Runner  # noqa: E402
from photojobs.library import Library  # noqa: E402

URL_ENV = "PHOTOJOBS_DATABASE_URL"
WORKER = [sys.executable, str(Path(__file__).resolve()), "--worker"]


@contextmanager
def database_url(url: str | None) -> Iterator[None]:
    """PHOTOJOBS_DATABASE_URL set to `url` (unset for None) here and in the runner processes started meanwhile."""
    before = os.environ.get(URL_ENV)
    os.environ.pop(URL_ENV, None)
    if url:
        os.environ[URL_ENV] = url
    try:
        yield
    finally:
        os.environ.pop(URL_ENV, None)
        if before is not None:
            os.environ[URL_ENV] = before


def require_backend(lib: Library) -> str:
    """The catalog backend photojobs opened; refuses to measure SQLite when PostgreSQL was asked for."""
    got = getattr(lib.catalog, "backend", None)
    if not os.environ.get(URL_ENV):
        return got or "sqlite"
    if got != "postgresql":
        what = (f"lib.catalog.backend is {got!r}" if got else
                "lib.catalog has no `backend` attribute, so this photojobs has no PostgreSQL backend yet")
        sqlite = getattr(lib.catalog, "path", None)
        raise SystemExit(f"{URL_ENV} is set but photojobs did not open PostgreSQL ({what}"
                         + (f"; it opened the SQLite catalog {sqlite}" if sqlite else "") + ")")
    return got


def worker_main(root: str, mode: str) -> None:
    """One runner process (see procs.py): drain until the queue is empty, or run until SIGTERM."""
    lib = Library.open(root, load_config())
    require_backend(lib)
    if mode == "listen":
        benchjobs.on_mark = lambda job_id: print(f"mark {job_id} {time.monotonic()}", flush=True)
    runner = Runner(lib, until_empty=(mode == "drain"), name=f"bench-{os.getpid()}")
    print("ready", flush=True)
    sys.stdin.readline()
    runner.run(install_signals=(mode == "listen"))
    print(f"done {time.monotonic()} {runner.finished}", flush=True)
    lib.close()


def measure(root: Path, n: int, samples: int, runners=(1, 3)) -> dict:
    """The four figures for a new library at `root`, on the backend PHOTOJOBS_DATABASE_URL selects."""
    lib = Library.open(root, load_config())
    log = root.parent / f"{root.name}-runners.log"
    try:
        backend = require_backend(lib)
        t = time.perf_counter()
        for _ in range(n):
            queue.enqueue(lib, "bench_noop")
        enqueue = n / (time.perf_counter() - t)
        drain = {}
        for i, k in enumerate(runners):
            if i:
                for _ in range(n):
                    queue.enqueue(lib, "bench_noop")
            drain[k] = procs.drain_rate(WORKER + [str(root), "drain"], k, n, log)
        lat = procs.start_latencies(WORKER + [str(root), "listen"],
                                    lambda i: queue.enqueue(lib, "bench_mark")["id"], samples, log)
    finally:
        lib.close()
    return {"backend": backend, "enqueue": enqueue, "drain": drain, "lat": lat}


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        worker_main(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit("run by bench/queue_bench.py --backend postgresql")
