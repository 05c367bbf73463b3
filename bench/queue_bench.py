"""Queue benchmark: photojobs' engine side by side with the original design and huey, in one run.

Prints durable enqueue rate, no-op drain rate with the default two lanes, idle enqueue-to-start
latency (p50/p95) and the start latency of a priority job while the normal lane is saturated,
each with ratios to the baselines measured in the same run (shared machines drift; ratios don't).

    .venv/bin/python bench/queue_bench.py [--jobs 4000] [--samples 40]

With `--backend postgresql` (issue #13) it measures photojobs on PostgreSQL instead, against
procrastinate on the same server (the optional bench extra) and photojobs on SQLite, all in one
run and by one method (bench/procs.py, bench/runner_procs.py, bench/procrastinate_baseline.py):
enqueue rate, no-op drain with 1 and 3 runner processes, idle enqueue-to-start across processes.
Each queue gets a fresh database, created through --database-url (an admin URL) and dropped after.

    .venv/bin/python bench/queue_bench.py --backend postgresql [--database-url URL] [--jobs 2000]
        [--samples 50] [--baseline-only]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ["PHOTOJOBS_PLUGINS"] = ",".join(filter(None, [os.environ.get("PHOTOJOBS_PLUGINS"), "benchjobs"]))

import benchjobs  # noqa: E402
from procs import pct  # noqa: E402
from photojobs.config import load_config  # noqa: E402
from photojobs.engine import queue  # noqa: E402
from photojobs.library import Library  # noqa: E402
from photojobs.engine.runner import Runner  # noqa: E402




# --- photojobs -------------------------------------------------------------------------------
def ours_enqueue(root: Path, n: int) -> float:
    lib = Library.open(root / "enq", load_config())
    t = time.perf_counter()
    for _ in range(n):
        queue.enqueue(lib, "bench_noop")
    rate = n / (time.perf_counter() - t)
    lib.close()
    return rate


def ours_drain(root: Path, n: int) -> float:
    lib = Library.open(root / "drain", load_config())
    for i in range(n):
        queue.enqueue(lib, "bench_noop", priority=95 if i % 2 else 10)
    t = time.perf_counter()
    runner = Runner(lib, until_empty=True)
    runner.run()
    rate = runner.finished / (time.perf_counter() - t)
    assert runner.finished == n
    lib.close()
    return rate


def ours_latency(root: Path, samples: int) -> list[float]:
    benchjobs.started.clear()  # job ids restart in every library
    lib = Library.open(root / "lat", load_config())
    runner = Runner(lib)
    thread = threading.Thread(target=runner.run)
    thread.start()
    out = []
    try:
        time.sleep(0.2)
        for _ in range(samples):
            t0 = time.perf_counter()
            job = queue.enqueue(lib, "bench_mark")
            while job["id"] not in benchjobs.started:
                time.sleep(0.0002)
            out.append(benchjobs.started[job["id"]] - t0)
            time.sleep(0.02)  # idle again
    finally:
        runner.request_stop()
        thread.join()
        lib.close()
    return out


def ours_priority_under_load(root: Path, samples: int) -> tuple[list[float], list[float]]:
    """(enqueue-to-start with a free priority slot, handover: previous priority job's end to start)."""
    benchjobs.started.clear()
    lib = Library.open(root / "prio", load_config())
    for _ in range(4):
        queue.enqueue(lib, "bench_sleep", payload={"seconds": 600}, priority=10)
    runner = Runner(lib)
    thread = threading.Thread(target=runner.run)
    thread.start()
    free, handover = [], []
    try:
        time.sleep(0.2)
        for _ in range(samples):
            t0 = time.perf_counter()
            job = queue.enqueue(lib, "bench_mark", priority=95)
            while job["id"] not in benchjobs.started:
                time.sleep(0.0002)
            free.append(benchjobs.started[job["id"]] - t0)
            time.sleep(0.01)
        for _ in range(samples // 2):
            blocker = queue.enqueue(lib, "bench_sleep", payload={"seconds": 0.05}, priority=95)
            job = queue.enqueue(lib, "bench_mark", priority=95)
            while job["id"] not in benchjobs.started:
                time.sleep(0.0002)
            row = lib.conn().execute("SELECT finished_at FROM jobs WHERE id = ?", (blocker["id"],)).fetchone()
            started_wall = time.time() - (time.perf_counter() - benchjobs.started[job["id"]])
            handover.append(max(0.0, started_wall - row[0]))
    finally:
        runner.request_force_stop()
        thread.join()
        lib.close()
    return free, handover


# --- the original design: select-then-update claim, 500 ms idle poll -------------------------
class OriginalQueue:
    """A re-creation of the original worker loop, for comparison only."""

    SCHEMA = """CREATE TABLE IF NOT EXISTS jobs (id INTEGER PRIMARY KEY, type TEXT, status TEXT,
                priority INTEGER, payload TEXT, created_at REAL, started_at REAL, finished_at REAL)"""

    def __init__(self, path: Path):
        self.path = path
        c = self.connect()
        c.execute(self.SCHEMA)
        c.close()
        self.stop = False
        self.started: dict[int, float] = {}

    def connect(self):
        c = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        c.execute("PRAGMA journal_mode=WAL")
        return c

    def enqueue(self, c, job_type="noop", priority=0) -> int:
        return c.execute("INSERT INTO jobs (type, status, priority, payload, created_at) VALUES (?, 'queued', ?, '{}', ?)",
                         (job_type, priority, time.time())).lastrowid

    def worker(self, min_p, max_p, until_empty):
        c = self.connect()
        while not self.stop:
            row = c.execute("SELECT id, type FROM jobs WHERE status='queued' AND priority BETWEEN ? AND ? "
                            "ORDER BY priority DESC, id LIMIT 1", (min_p, max_p)).fetchone()
            if row is None:
                if until_empty:
                    return
                time.sleep(0.5)
                continue
            cur = c.execute("UPDATE jobs SET status='running', started_at=? WHERE id=? AND status='queued'",
                            (time.time(), row[0]))
            if cur.rowcount == 0:
                continue
            if row[1] == "mark":
                self.started[row[0]] = time.perf_counter()
            c.execute("UPDATE jobs SET status='completed', finished_at=? WHERE id=?", (time.time(), row[0]))

    def lanes(self, until_empty):
        return [threading.Thread(target=self.worker, args=(90, 1 << 30, until_empty)),
                threading.Thread(target=self.worker, args=(-(1 << 30), 89, until_empty))]


def original_enqueue(root: Path, n: int) -> float:
    q = OriginalQueue(root / "orig-enq.db")
    c = q.connect()
    t = time.perf_counter()
    for _ in range(n):
        q.enqueue(c)
    return n / (time.perf_counter() - t)


def original_drain(root: Path, n: int) -> float:
    q = OriginalQueue(root / "orig-drain.db")
    c = q.connect()
    for i in range(n):
        q.enqueue(c, priority=95 if i % 2 else 10)
    t = time.perf_counter()
    threads = q.lanes(until_empty=True)
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return n / (time.perf_counter() - t)


def original_latency(root: Path, samples: int) -> list[float]:
    q = OriginalQueue(root / "orig-lat.db")
    threads = q.lanes(until_empty=False)
    for th in threads:
        th.start()
    c = q.connect()
    out = []
    time.sleep(0.2)
    for _ in range(samples):
        t0 = time.perf_counter()
        job_id = q.enqueue(c, "mark")
        while job_id not in q.started:
            time.sleep(0.0005)
        out.append(q.started[job_id] - t0)
        time.sleep(0.02)
    q.stop = True
    for th in threads:
        th.join()
    return out


# --- huey (optional) -------------------------------------------------------------------------
def huey_runs(root: Path, n: int, samples: int):
    try:
        from huey import SqliteHuey
        from huey.consumer import Consumer
    except ImportError:
        return None
    import logging
    logging.getLogger("huey").setLevel(logging.ERROR)
    huey = SqliteHuey(filename=str(root / "huey.db"))
    done = {"n": 0}
    marks: dict[int, float] = {}
    lock = threading.Lock()

    @huey.task()
    def noop():
        with lock:
            done["n"] += 1

    @huey.task()
    def mark(key):
        marks[key] = time.perf_counter()

    t = time.perf_counter()
    for _ in range(n):
        noop()
    enqueue_rate = n / (time.perf_counter() - t)
    consumer = Consumer(huey, workers=2, worker_type="thread", periodic=False, check_worker_health=False)
    t = time.perf_counter()
    consumer.start()
    while done["n"] < n:
        time.sleep(0.001)
    drain_rate = n / (time.perf_counter() - t)
    lat = []
    time.sleep(0.2)
    for key in range(samples):
        t0 = time.perf_counter()
        mark(key)
        while key not in marks:
            time.sleep(0.0005)
        lat.append(marks[key] - t0)
        time.sleep(0.02)
    consumer.stop(graceful=True)
    return enqueue_rate, drain_rate, lat


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--database-url", default=None,
                    help="postgresql: admin URL the fresh databases are created through "
                         "(default $PHOTOJOBS_TEST_DATABASE_URL or postgresql://postgres@127.0.0.1:5432/test)")
    ap.add_argument("--jobs", type=int, default=None, help="default 4000 (sqlite), 2000 (postgresql)")
    ap.add_argument("--samples", type=int, default=None, help="default 40 (sqlite), 50 (postgresql)")
    ap.add_argument("--baseline-only", action="store_true",
                    help="postgresql: skip photojobs on PostgreSQL (procrastinate and SQLite only)")
    args = ap.parse_args()
    if args.backend == "postgresql":
        import pg_bench
        pg_bench.main(args.database_url, args.jobs or 2000, args.samples or 50, args.baseline_only)
        return
    if args.database_url or args.baseline_only:
        ap.error("--database-url and --baseline-only go with --backend postgresql")
    root = Path(tempfile.mkdtemp(prefix="photojobs-queue-bench-"))
    try:
        n, s = args.jobs or 4000, args.samples or 40
        print(f"queue benchmark: {n} jobs, {s} latency samples, {os.cpu_count()} cores, in {root}")
        ours = {"enqueue": ours_enqueue(root, n), "drain": ours_drain(root, n), "lat": ours_latency(root, s)}
        free, handover = ours_priority_under_load(root, s)
        orig = {"enqueue": original_enqueue(root, n), "drain": original_drain(root, n),
                "lat": original_latency(root, min(s, 12))}
        huey = huey_runs(root, n, s)

        def ms(v):
            return f"{v * 1000:8.2f} ms"
        rows = [("durable enqueue (jobs/s)", f"{ours['enqueue']:10.0f}", f"{orig['enqueue']:10.0f}",
                 f"{huey[0]:10.0f}" if huey else "n/a"),
                ("drain no-op, 2 lanes (jobs/s)", f"{ours['drain']:10.0f}", f"{orig['drain']:10.0f}",
                 f"{huey[1]:10.0f}" if huey else "n/a"),
                ("idle enqueue->start p50", ms(statistics.median(ours["lat"])), ms(statistics.median(orig["lat"])),
                 ms(statistics.median(huey[2])) if huey else "n/a"),
                ("idle enqueue->start p95", ms(pct(ours["lat"], 95)), ms(pct(orig["lat"], 95)),
                 ms(pct(huey[2], 95)) if huey else "n/a"),
                ("priority job, normal lane full, p50", ms(statistics.median(free)), "", ""),
                ("priority job, normal lane full, p95", ms(pct(free, 95)), "", ""),
                ("priority slot freed -> next start p50", ms(statistics.median(handover)), "", ""),
                ("priority slot freed -> next start p95", ms(pct(handover, 95)), "", "")]
        width = max(len(r[0]) for r in rows)
        print(f"{'':{width}}  {'photojobs':>12}  {'original':>12}  {'huey':>12}")
        for r in rows:
            print(f"{r[0]:{width}}  {r[1]:>12}  {r[2]:>12}  {r[3]:>12}")
        print()
        print(f"drain vs original:        {ours['drain'] / orig['drain']:6.1f}x")
        print(f"latency p50 vs original:  {statistics.median(orig['lat']) / statistics.median(ours['lat']):6.0f}x lower")
        if huey:
            print(f"drain vs huey:            {ours['drain'] / huey[1]:6.1f}x   (goal >= 4x)")
            print(f"latency p50 vs huey:      {statistics.median(huey[2]) / statistics.median(ours['lat']):6.0f}x lower")
        else:
            print("huey not installed (pip install -e '.[bench]'): its column is n/a")
        print(f"goals: in-process enqueue->start p50 < 2 ms: {'met' if statistics.median(ours['lat']) < 0.002 else 'NOT met'}; "
              f"priority start within 5 ms of a free slot (p50): {'met' if statistics.median(handover) < 0.005 else 'NOT met'}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
