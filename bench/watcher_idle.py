"""CPU spent by an idle folder watcher and an idle `jobs watch` tail, against a sleeping baseline.

Usage: .venv/bin/python bench/watcher_idle.py [--projects 50] [--seconds 5]
Prints CPU seconds per wall second for each case, and its ratio to the baseline measured in
the same run (a process that only sleeps). Near-zero idle cost is the goal, not a number.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import threading
import time
from pathlib import Path

from photojobs.config import load_config
from photojobs.daemon.watcher import ProjectWatcher
from photojobs.engine import monitor as watch_engine
from photojobs.library import Library
from photojobs.photos import projects


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def measure(seconds: float) -> float:
    start_cpu, start = cpu(), time.monotonic()
    time.sleep(seconds)
    return (cpu() - start_cpu) / (time.monotonic() - start)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--projects", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lib = Library.open(Path(tmp) / "library", load_config(overrides={"daemon": {"watch_poll_seconds": 5.0}}))
        for i in range(args.projects):
            folder = projects.create_project(lib, f"Shoot {i}")["folder"]
            for j in range(20):
                (lib.root / folder / f"IMG_{j:04d}.JPG").write_bytes(b"x" * 1000)
        results = {"baseline (sleep)": measure(args.seconds)}
        for mode in ("native", "polling"):
            w = ProjectWatcher(lib, lambda f, k: None, mode=mode).start()
            time.sleep(0.5)  # let the initial snapshots/watches settle
            results[f"watcher {mode}, {args.projects} projects"] = measure(args.seconds)
            w.stop()
        stop = threading.Event()

        def tail():
            for _ in watch_engine.follow(lib, 0, should_stop=stop.is_set):
                pass
        t = threading.Thread(target=tail)
        t.start()
        time.sleep(0.5)
        results["jobs watch event-log tail"] = measure(args.seconds)
        stop.set()
        t.join()
        lib.close()
    base = results["baseline (sleep)"]
    for name, value in results.items():
        ratio = f"{value / base:8.1f}x" if base > 0 else "       -"
        print(f"{name:40s} {value * 1000:8.2f} ms CPU per s  {ratio}")


if __name__ == "__main__":
    main()
