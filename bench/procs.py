"""Worker processes for the queue benchmarks, driven the same way for every queue measured.

A worker process prints `ready` once its queue is open, waits for `go` on stdin, then prints
`mark <key> <t>` when a marked job's body starts and `done <t> <finished>` when its run returns
(an empty queue in drain mode). t is time.monotonic(): one clock for all processes on a machine,
so the parent compares its own enqueue time with the child's start time directly.

Drain: the N jobs are queued first, the K processes are started and opened, then told `go` at
once; the time runs from `go` until the last process's run returns (interpreter start-up and
imports are outside it, connecting and the queue's own start-up are inside).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Callable


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


class Workers:
    """K worker processes running `argv`, stderr to `log`."""

    def __init__(self, argv: list[str], k: int, log: Path, env: dict | None = None):
        self.log = log
        self._err = open(log, "ab")
        self.procs = [subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._err,
                                       text=True, bufsize=1, env=env or dict(os.environ))
                      for _ in range(k)]

    def __enter__(self) -> "Workers":
        for p in self.procs:
            self._expect(p, "ready")
        return self

    def __exit__(self, *exc) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self._err.close()

    def _expect(self, p: subprocess.Popen, word: str) -> list[str]:
        line = p.stdout.readline()
        fields = line.split()
        if not fields or fields[0] != word:
            tail = self.log.read_text(errors="replace").strip().splitlines()[-5:]
            raise SystemExit(f"a worker process said {line.strip()!r} instead of {word!r}; its log "
                             f"({self.log}) ends:\n  " + "\n  ".join(tail))
        return fields[1:]

    def go(self) -> float:
        t = time.monotonic()
        for p in self.procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        return t

    def done(self) -> tuple[float, int]:
        """(the last process's end, jobs finished by all) once every process's run returned."""
        ends, finished = [], 0
        for p in self.procs:
            t, n = self._expect(p, "done")
            ends.append(float(t))
            finished += int(n)
        return max(ends), finished

    def mark(self) -> tuple[str, float]:
        key, t = self._expect(self.procs[0], "mark")
        return key, float(t)


def drain_rate(argv: list[str], k: int, n: int, log: Path, env: dict | None = None) -> float:
    """Jobs/s for K processes draining the N jobs already queued; checks each ran exactly once."""
    with Workers(argv, k, log, env) as workers:
        t0 = workers.go()
        end, finished = workers.done()
    if finished != n:
        raise SystemExit(f"{k} worker processes ran {finished} jobs, expected {n}")
    return n / (end - t0)


def start_latencies(argv: list[str], enqueue: Callable[[int], object], samples: int, log: Path,
                    env: dict | None = None) -> list[float]:
    """Idle enqueue-to-start, seconds: one listening worker process, one job at a time."""
    out = []
    with Workers(argv, 1, log, env) as workers:
        workers.go()
        time.sleep(0.5)  # started and listening
        for i in range(samples):
            t0 = time.monotonic()
            key = str(enqueue(i))
            got, t1 = workers.mark()
            if got != key:
                raise SystemExit(f"expected job {key} to start, got {got}")
            out.append(t1 - t0)
            time.sleep(0.02)  # idle again
    return out
