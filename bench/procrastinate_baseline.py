"""procrastinate on PostgreSQL, measured with procrastinate itself: the baseline of
`bench/queue_bench.py --backend postgresql` (photojobs issue #13).

In a fresh database (created through the admin URL, procrastinate's schema applied, dropped at
the end): enqueue rate (N sync `defer()` calls, one job and one commit each, as photojobs'
`queue.enqueue`), no-op drain with 1 and 3 worker processes (N jobs queued first, then K
separate processes each running a worker with concurrency 1 and wait=False, timed as in
procs.py from `go` until the last one has caught up), and idle enqueue-to-start p50/p95 (one
worker idle on LISTEN/NOTIFY; defer one job, time until the task body starts, repeat).
The tasks are `async def` no-ops, procrastinate's fast path (a sync task hops to a thread).

    .venv/bin/python bench/procrastinate_baseline.py [--database-url URL] [--jobs 2000] [--samples 50]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import procs  # noqa: E402
from pgdb import DEFAULT_URL, fresh_database  # noqa: E402

WORKER = [sys.executable, str(Path(__file__).resolve()), "--worker"]
finished = 0  # no-op task bodies run in this (worker) process


def available() -> bool:
    try:
        import procrastinate  # noqa: F401
    except ImportError:
        return False
    return True


def make_app(url: str):
    import logging
    import procrastinate
    # it warns when the App lives in the main module: true of a worker process, and harmless here
    logging.getLogger("procrastinate.blueprints").setLevel(logging.ERROR)

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url))

    @app.task(name="bench_noop")
    async def noop() -> None:
        global finished
        finished += 1

    @app.task(name="bench_mark")
    async def mark(key: int) -> None:
        print(f"mark {key} {time.monotonic()}", flush=True)

    return app, noop, mark


def worker_main(url: str, mode: str) -> None:
    """One worker process (see procs.py): drain until caught up, or listen until SIGTERM."""
    import logging
    logging.basicConfig(level=logging.WARNING)
    app, _, _ = make_app(url)

    async def run() -> None:
        async with app.open_async():
            print("ready", flush=True)
            await asyncio.to_thread(sys.stdin.readline)
            await app.run_worker_async(concurrency=1, wait=(mode == "listen"), listen_notify=True)
            print(f"done {time.monotonic()} {finished}", flush=True)

    asyncio.run(run())


def counts(url: str) -> dict[str, int]:
    import psycopg
    with psycopg.connect(url, autocommit=True) as conn:
        return dict(conn.execute("SELECT status::text, count(*) FROM procrastinate_jobs GROUP BY status").fetchall())


def measure(url: str, n: int, samples: int, runners=(1, 3), tmp: Path | None = None) -> dict:
    """The four figures in the (empty) database at `url`; applies procrastinate's schema."""
    tmp = tmp or Path(tempfile.mkdtemp(prefix="procrastinate-bench-"))
    log = tmp / "procrastinate-workers.log"
    app, noop, mark = make_app(url)
    app.open()
    try:
        app.schema_manager.apply_schema()
        t = time.perf_counter()
        for _ in range(n):
            noop.defer()
        enqueue = n / (time.perf_counter() - t)
        drain = {}
        for i, k in enumerate(runners):
            if i:
                noop.batch_defer(*({} for _ in range(n)))
            drain[k] = procs.drain_rate(WORKER + [url, "drain"], k, n, log)
        if counts(url) != {"succeeded": n * len(runners)}:
            raise SystemExit(f"procrastinate left jobs unfinished: {counts(url)}")
        lat = procs.start_latencies(WORKER + [url, "listen"], lambda i: (mark.defer(key=i), i)[1], samples, log)
    finally:
        app.close()
    return {"enqueue": enqueue, "drain": drain, "lat": lat}


def run(admin_url: str, n: int, samples: int, runners=(1, 3), tmp: Path | None = None) -> dict:
    """measure() in a fresh database made through `admin_url`, dropped afterwards."""
    with fresh_database(admin_url, "procrastinate_bench") as url:
        return measure(url, n, samples, runners, tmp)


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        worker_main(sys.argv[2], sys.argv[3])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database-url", default=DEFAULT_URL, help="admin URL the fresh database is created through")
    ap.add_argument("--jobs", type=int, default=2000)
    ap.add_argument("--samples", type=int, default=50)
    args = ap.parse_args()
    if not available():
        raise SystemExit("procrastinate is not installed: .venv/bin/pip install -e '.[bench]'")
    r = run(args.database_url, args.jobs, args.samples)
    print(f"procrastinate: enqueue {r['enqueue']:.0f} jobs/s; "
          + "; ".join(f"drain {k} worker{'s' if k > 1 else ''} {v:.0f} jobs/s" for k, v in r["drain"].items())
          + f"; idle start p50 {statistics.median(r['lat']) * 1000:.2f} ms, p95 {procs.pct(r['lat'], 95) * 1000:.2f} ms")


if __name__ == "__main__":
    main()
