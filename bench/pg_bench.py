"""`bench/queue_bench.py --backend postgresql`: photojobs on PostgreSQL against procrastinate on the
same server and photojobs on SQLite, measured in one run by one method (issue #13)."""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
from pathlib import Path

import procrastinate_baseline
import runner_procs
from pgdb import DEFAULT_URL, fresh_database, server_version
from procs import pct

RUNNERS = (1, 3)


def main(admin_url: str | None, n: int, samples: int, baseline_only: bool) -> None:
    admin_url = admin_url or DEFAULT_URL
    version = server_version(admin_url)
    root = Path(tempfile.mkdtemp(prefix="photojobs-pg-bench-"))
    try:
        print(f"queue benchmark on PostgreSQL {version} ({admin_url}): {n} jobs, {samples} latency samples, "
              f"{os.cpu_count()} cores, in {root}")
        ours = None
        if not baseline_only:
            with fresh_database(admin_url, "photojobs_bench") as url, runner_procs.database_url(url):
                ours = runner_procs.measure(root / "pg", n, samples, RUNNERS)
        theirs = None
        if procrastinate_baseline.available():
            theirs = procrastinate_baseline.run(admin_url, n, samples, RUNNERS, root)
        with runner_procs.database_url(None):
            sqlite = runner_procs.measure(root / "sqlite", n, samples, RUNNERS)
        report(ours, theirs, sqlite)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def report(ours: dict | None, theirs: dict | None, sqlite: dict) -> None:
    def rate(r, key, k=None):
        return None if r is None else (r[key] if k is None else r[key][k])

    def lat(r, p):
        return None if r is None else (statistics.median(r["lat"]) if p == 50 else pct(r["lat"], p))

    rows = [("enqueue (jobs/s)", rate(ours, "enqueue"), rate(theirs, "enqueue"), rate(sqlite, "enqueue"), True)]
    for k in RUNNERS:
        rows.append((f"drain no-op, {k} runner process{'es' if k > 1 else ''} (jobs/s)",
                     rate(ours, "drain", k), rate(theirs, "drain", k), rate(sqlite, "drain", k), True))
    for p in (50, 95):
        rows.append((f"idle enqueue->start p{p} (ms)", lat(ours, p), lat(theirs, p), lat(sqlite, p), False))

    def cell(v, higher_better):
        return "n/a" if v is None else (f"{v:.0f}" if higher_better else f"{v * 1000:.2f}")

    def ratio(a, b, higher_better):
        if a is None or b is None:
            return "n/a"
        return f"{(a / b if higher_better else b / a):.2f}x"

    heads = ("photojobs PG", "procrastinate", "ratio", "photojobs SQLite")
    width = max(len(r[0]) for r in rows)
    print(f"{'':{width}}  " + "  ".join(f"{h:>16}" for h in heads))
    for name, a, b, c, hb in rows:
        print(f"{name:{width}}  " + "  ".join(f"{v:>16}" for v in (cell(a, hb), cell(b, hb), ratio(a, b, hb), cell(c, hb))))
    print("ratio: photojobs on PostgreSQL against procrastinate, > 1 is photojobs better (rates: ours/theirs; "
          "latencies: theirs/ours)")
    if theirs is None:
        print("procrastinate not installed (pip install -e '.[bench]'): its column is n/a")
    if ours is None:
        print("photojobs on PostgreSQL skipped (--baseline-only)")
    if ours and theirs:
        drain = all(ours["drain"][k] >= 2 * theirs["drain"][k] for k in RUNNERS)
        p50 = statistics.median(ours["lat"])
        print(f"goals: drain >= 2x procrastinate with the same number of workers: {'met' if drain else 'NOT met'}; "
              f"idle start p50 < 5 ms: {'met' if p50 < 0.005 else 'NOT met'}")
