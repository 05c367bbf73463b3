"""The two-lane runner that serves both the inline CLI and the daemon.

A supervisor (the calling thread) keeps heartbeats, recovers lost workers, notices changes
made by other processes and decides when to stop; each lane slot is a thread that claims a
job with one atomic statement and runs it. Signal handlers only set flags: the first one
stops claiming and lets running jobs reach a safe point within the grace period, the second
releases everything at once. What a job's run came to and how it is written is in outcomes.py;
taking back jobs of lost workers in recovery.py; the lanes themselves in lanes.py.
"""

from __future__ import annotations

import itertools
import logging
import os
import random
import signal
import threading
import time
import uuid
from typing import Callable

from ..errors import StorageBusy, StorageFull
from ..library import Library
from ..storage import Connection, Row, atomic
from ..storage.db import data_version, retry_when_busy
from ..storage.repos import jobs as jobs_repo
from . import recovery
from .lanes import Lane, make_lanes
from .outcomes import Complete, DiskFull, Outcome, give_back, run_job, settle
from .queue import emit_job

log = logging.getLogger("photojobs.runner")


class Runner:
    """Runs queued jobs until told to stop (daemon), or until the queue is empty (--until-empty).

    A full disk gives the job in hand back to the queue, attempt refunded. With
    `stop_on_full_disk` (a command in a terminal) the runner then stops and `run` raises
    StorageFull; without it (the daemon) it claims nothing for a growing pause and goes on."""

    def __init__(self, lib: Library, *, until_empty: bool = False, max_jobs: int | None = None,
                 stop_when: Callable[[], bool] | None = None, name: str = "runner",
                 rng: random.Random | None = None, stop_on_full_disk: bool = False):
        self.lib = lib
        self.until_empty = until_empty
        self.stop_on_full_disk = stop_on_full_disk
        self.disk_full: str | None = None   # what the first full disk said
        self._stranded: set[int] = set()    # jobs a full catalog kept us from giving back
        self._full_streak = 0               # full disks since a job last completed
        self._claim_after = 0.0             # the daemon's pause after a full disk
        self.max_jobs = max_jobs
        self.stop_when = stop_when
        self.name = name
        self.rng = rng or random.Random()
        self.lanes = make_lanes(lib.config)
        self.pid = os.getpid()
        self.host = recovery.host_id(lib.config)
        self.claimed = 0
        self.finished = 0
        self.stopping = False          # warm stop: claim nothing more, release at the next safe point
        self.force_stop = False        # cold stop: release everything now
        self._lock = threading.Lock()
        self._active: dict[str, int] = {}   # worker_id -> job id held by this process
        self._next_recovery = 0.0
        self._next_poll = 0.0
        self._last_heartbeat = 0.0
        self._watch_conn: Connection | None = None
        self._data_version: int | None = None
        self._stop_listening: Callable[[], None] | None = None
        self.on_job_finished: Callable[[dict], None] | None = None
        self._token = uuid.uuid4().hex[:8]
        self._serial = itertools.count(1)

    # --- lifecycle ------------------------------------------------------------------------
    def initialize(self) -> None:
        """Recover jobs of dead workers on this host at once, then start the lane slots."""
        recovery.runner_started(self._token)
        self.recover(self.lib.now(), include_stale=False)
        # Other processes' commits: notifications where the catalog sends them (PostgreSQL),
        # else a poll of data_version every poll_ms.
        self._stop_listening = self.lib.catalog.listen(self._heard_change, self.lib.waker.notify)
        if self._stop_listening is None:
            self._watch_conn = self.lib.catalog.new_connection()
            self._data_version = self._read_data_version()
        for lane in self.lanes:
            for slot in range(lane.slots):
                t = threading.Thread(target=self._slot_main, args=(lane,), daemon=True,
                                     name=f"{self.name}-{lane.name}-{slot}")
                lane.threads.append(t)
                t.start()

    def run(self, *, install_signals: bool = False) -> None:
        """Supervise until done; the calling thread does heartbeats, recovery and change polling."""
        previous = self._install_signals() if install_signals else None
        try:
            self.initialize()
            while not self._should_exit():
                now = self.lib.now()
                self.loop(now)
                time.sleep(self._tick_seconds())
            self.shutdown()
        finally:
            if previous:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
        if self.stop_on_full_disk and self.disk_full:
            left = "the rest is back in the queue"
            if self._stranded:
                left = (f"job {', '.join(map(str, sorted(self._stranded)))} could not even be given back "
                        "(the next runner takes it back at once)")
            raise StorageFull(f"{self.disk_full}. Stopped: work done is kept and {left}; free some space, "
                              "then run again")

    def loop(self, now: float) -> None:
        """One supervisor step; `now` is injectable so tests can step the clock."""
        p = self.lib.config.pipeline
        if now - self._last_heartbeat >= p.heartbeat_ms / 1000:
            self._last_heartbeat = now
            self.heartbeat(now)
        if now >= self._next_recovery:
            self._next_recovery = now + max(p.heartbeat_ms / 1000, 0.05)
            self.recover(now)
        if now >= self._next_poll and self._stop_listening is None:
            self._next_poll = now + p.poll_ms / 1000
            version = self._read_data_version()
            if version != self._data_version:
                # Another process committed something (an enqueue, a pause, a cancel): wake the slots.
                self._data_version = version
                self.lib.waker.notify()

    def shutdown(self) -> None:
        """Wait for the slots up to the grace period, then give back whatever is still held."""
        self.stopping = True
        self.lib.waker.notify()
        deadline = time.monotonic() + self.lib.config.pipeline.shutdown_grace_seconds
        beat_every = self.lib.config.pipeline.heartbeat_ms / 1000
        for lane in self.lanes:
            for t in lane.threads:
                while t.is_alive() and not self.force_stop and time.monotonic() < deadline:
                    t.join(0.05)
                    # The jobs still running are ours until released: keep them from looking lost.
                    now = self.lib.now()
                    if now - self._last_heartbeat >= beat_every:
                        self._last_heartbeat = now
                        self.heartbeat(now)
        self.release_all("runner stopped before the job finished")
        recovery.runner_stopped(self._token)
        if self._watch_conn is not None:
            self._watch_conn.close()
            self._watch_conn = None
        if self._stop_listening is not None:
            self._stop_listening()
            self._stop_listening = None

    def request_stop(self) -> None:
        if self.stopping:
            self.force_stop = True
        self.stopping = True
        self.lib.waker.notify()

    def request_force_stop(self) -> None:
        self.stopping = True
        self.force_stop = True
        self.lib.waker.notify()

    # --- supervisor duties ----------------------------------------------------------------
    def heartbeat(self, now: float) -> None:
        with self._lock:
            held = list(self._active)
        if not held:
            return
        try:
            with atomic(self.lib.conn()) as conn:
                jobs_repo.heartbeat(conn, held, now)
        except StorageFull as exc:
            self._note_full(exc.message)  # heartbeats go on at the next tick
        except StorageBusy as exc:
            log.warning("heartbeat delayed: %s", exc)  # retry on the next tick

    def recover(self, now: float, *, include_stale: bool = True) -> list[int]:
        """Requeue running jobs whose worker is gone (see recovery.requeue_lost); ids taken back."""
        try:
            with atomic(self.lib.conn()) as conn:
                return recovery.requeue_lost(self.lib, conn, now, pid=self.pid, include_stale=include_stale,
                                             held_here=lambda worker_id: worker_id in self._active)
        except StorageFull as exc:
            self._note_full(exc.message)
        except StorageBusy as exc:
            log.warning("recovery delayed: %s", exc)
        return []

    def release_all(self, why: str) -> None:
        """Give every job this process still holds back to the queue, attempt refunded."""
        with self._lock:
            held = dict(self._active)
        if not held:
            return
        conn = self.lib.catalog.new_connection()  # the slots' connections may be mid-transaction
        try:
            now = self.lib.now()
            with atomic(conn):
                for worker_id, job_id in held.items():
                    give_back(self.lib, conn, job_id, worker_id, run_after=now, now=now, why=why, refund_attempt=True)
        except StorageFull as exc:
            # Our pid dies with this process: the next runner on this host takes them back at once.
            self._stranded.update(held.values())
            self._note_full(f"{exc.message}; jobs {sorted(held.values())} could not be given back")
        finally:
            conn.close()

    def _should_exit(self) -> bool:
        if self.stopping:
            return True
        if self.max_jobs is not None and self.claimed >= self.max_jobs:
            return self._idle()
        if self.stop_when is not None and self._idle() and self.stop_when():
            return True
        if self.until_empty and self._idle() and not self._work_left():
            # Check twice around a wake-up: a slot may have claimed between the two reads.
            return self._idle() and not self._work_left()
        return False

    def _idle(self) -> bool:
        with self._lock:
            return not self._active and all(lane.busy == 0 for lane in self.lanes)

    def _work_left(self) -> bool:
        conn = self.lib.conn()
        return any(lane.slots and jobs_repo.next_due(conn, min_priority=lane.min_priority,
                                                     max_priority=lane.max_priority,
                                                     paused_key=lane.pause_key) is not None
                   for lane in self.lanes)

    def _tick_seconds(self) -> float:
        # Heartbeats are due even when other processes' work is looked for less often.
        p = self.lib.config.pipeline
        return min(p.poll_ms, p.heartbeat_ms) / 1000

    def _heard_change(self) -> None:
        """Another process committed a change that makes no job claimable (a claim, a settle, progress)."""
        self.lib.waker.notify(work=False)

    def _read_data_version(self) -> int | None:
        if self._watch_conn is None:
            return None
        return data_version(self._watch_conn)

    def _install_signals(self) -> dict:
        def on_signal(signum, frame):  # only sets flags; the loops do the work
            self.request_stop()
        previous = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, on_signal)
        return previous

    # --- lane slots -----------------------------------------------------------------------
    def _slot_main(self, lane: Lane) -> None:
        row = None
        idle = False   # the last claim found nothing
        looked = (-1, 0.0)   # (work generation, monotonic deadline) of the last look at the queue
        while not self.stopping or row is not None:
            seen, work = self.lib.waker.generation(), self.lib.waker.work_generation()
            try:
                if row is None:
                    fresh = idle and self.lib.waker.work_since(looked[0], lane.min_priority, lane.max_priority)
                    if idle and (not fresh or self._stop_listening is None):
                        # Most wake-ups are for other work (every commit anywhere wakes every
                        # slot): one that cannot have made a job claimable in this lane (a claim,
                        # a settle, progress, a job for the other lane) costs nothing until the
                        # lane's next job is due. Else one read says whether this lane has a job
                        # due before a claim's transaction is spent on it; skipped where the
                        # catalog says what was queued (PostgreSQL's notifications): such a
                        # wake-up claims at once.
                        left = looked[1] - time.monotonic()
                        if not fresh and left > 0:
                            self.lib.waker.wait(seen, left)
                            continue
                        wait = self._until_due(lane)
                        looked = (work, time.monotonic() + wait)
                        if wait > 0:
                            self.lib.waker.wait(seen, wait)
                            continue
                    row = self._transact(lane, None, None)
                    idle = row is None
                    if row is None:
                        wait = max(0.001, self._until_due(lane))
                        looked = (work, time.monotonic() + wait)
                        self.lib.waker.wait(seen, wait)
                        continue
                outcome = run_job(self.lib, row, stopping=lambda: self.stopping)
                if isinstance(outcome, DiskFull):
                    self._note_full(outcome.message)   # before the settle's claim: nothing new is taken
                # Settling a job and claiming the next one share one transaction: half the
                # commits per job when the queue is busy.
                row = self._settle_retrying(lane, row, outcome)
            except StorageFull as exc:  # the catalog's disk: the failed transaction left nothing
                self._note_full(exc.message)
                if row is not None:
                    self._give_back_after_full(lane, row, exc.message)
                    row = None
            except Exception as exc:  # noqa: BLE001 - a slot must survive a database hiccup
                if row is None and isinstance(exc, StorageBusy):   # a claim met a locked catalog
                    log.warning("lane %s: catalog busy; will claim again", lane.name)
                else:
                    log.exception("lane %s: unexpected error; continuing", lane.name)
                if row is not None:
                    # Let heartbeats stop for it: another runner recovers it after stale_seconds.
                    with self._lock:
                        self._active.pop(row["worker_id"], None)
                        lane.busy -= 1
                    row = None
                time.sleep(0.1)

    def _settle_retrying(self, lane: Lane, row: Row, outcome: Outcome) -> Row | None:
        """A locked database (a slow disk, a long writer elsewhere) delays the settle; it never
        loses the outcome of work already done."""
        return retry_when_busy(
            lambda: self._transact(lane, row, outcome), give_up=lambda: self.force_stop,
            on_retry=lambda exc: log.warning("lane %s: database busy while settling job %s; retrying",
                                             lane.name, row["id"]))

    def _until_due(self, lane: Lane) -> float:
        """How long to sleep before the lane's next queued job is due (<= 0: one is due now).
        In-process enqueues and other processes' commits (notifications, or the supervisor's poll
        every poll_ms) both wake us; the timeout covers jobs whose run_after (retry backoff) comes
        due, and is a safety net beyond that, never more eager than the supervisor's poll."""
        idle = max(1.0, self.lib.config.pipeline.poll_ms / 1000)
        try:
            due = jobs_repo.next_due(self.lib.conn(), min_priority=lane.min_priority,
                                     max_priority=lane.max_priority, paused_key=lane.pause_key)
        except StorageBusy:
            return 0.1
        now = self.lib.now()
        if due is None:
            return idle
        # Claims paused for a full disk: a due job waits for the pause's end, the slot with it.
        return max(min(idle, due - now), self._claim_after - now)

    def _may_claim(self) -> bool:
        return (not self.stopping and self.lib.now() >= self._claim_after
                and (self.max_jobs is None or self.claimed < self.max_jobs))

    # --- a full disk ----------------------------------------------------------------------
    def _note_full(self, message: str) -> None:
        """A write failed for want of room: stop claiming (for good, or for a growing pause)."""
        with self._lock:
            self._full_streak += 1
            if self.disk_full is None:
                self.disk_full = message
            if self.stop_on_full_disk:
                self.stopping = True   # `run` raises it: one line for the user, not a log too
            else:
                pause = self._full_pause()
                self._claim_after = self.lib.now() + pause
                log.warning("%s; claiming no job for %.0f s", message, pause)
        self.lib.waker.notify()

    def _full_pause(self) -> float:
        p = self.lib.config.pipeline
        return min(p.retry_max_seconds, p.retry_base_seconds * 2 ** min(self._full_streak - 1, 30))

    def _full_run_after(self, now: float) -> float:
        # A runner that stops leaves it due at once, for the next one; the daemon retries later.
        return now if self.stop_on_full_disk else now + self._full_pause()

    def _give_back_after_full(self, lane: Lane, row: Row, message: str) -> None:
        """Give back a job whose outcome a full catalog kept from being written, in a fresh, small
        transaction (the failed one left room behind it in the WAL)."""
        now = self.lib.now()
        try:
            with atomic(self.lib.conn()) as conn:
                give_back(self.lib, conn, row["id"], row["worker_id"], run_after=self._full_run_after(now),
                          now=now, why=f"{message}; given back to the queue", refund_attempt=True)
            given_back = True
        except StorageFull:
            given_back = False
        with self._lock:
            lane.busy -= 1
            if given_back or not self.stop_on_full_disk:
                # (The daemon's own recovery takes back a job it could not write after stale_seconds.)
                self._active.pop(row["worker_id"], None)
            # else it stays held: shutdown's release_all tries once more (and says so if it fails).

    def _transact(self, lane: Lane, row: Row | None, outcome: Outcome | None) -> Row | None:
        """Settle `row` with `outcome` (if any) and claim this lane's next job, in one transaction."""
        conn = self.lib.conn()
        with self._lock:
            claim = self._may_claim()
            if claim:
                lane.busy += 1   # counted before the claim so --until-empty never exits mid-claim
        settled = None
        try:
            with atomic(conn):
                if row is not None:
                    settled = settle(self.lib, conn, row, outcome, rng=self.rng,
                                     full_run_after=self._full_run_after)
                new = None
                if claim:
                    worker_id = f"{self.host}:{self.pid}:{lane.name}:{self._token}-{next(self._serial)}"
                    new = jobs_repo.claim(conn, min_priority=lane.min_priority, max_priority=lane.max_priority,
                                          worker_id=worker_id, host=self.host, pid=self.pid, now=self.lib.now(),
                                          paused_key=lane.pause_key)
                    if new is not None:
                        emit_job(self.lib, conn, new)
        except BaseException:
            with self._lock:
                if claim:
                    lane.busy -= 1
            raise
        with self._lock:
            if isinstance(outcome, Complete) and settled is not None:
                self._full_streak = 0   # a job went through: the disk has room again
            if row is not None:
                self._active.pop(row["worker_id"], None)
                self.finished += 1
                lane.busy -= 1
            if new is not None:
                self._active[new["worker_id"]] = new["id"]
                self.claimed += 1
            elif claim:
                lane.busy -= 1
        if settled is not None:
            self._notify_finished(settled)
        return new

    def _notify_finished(self, row: Row) -> None:
        if self.on_job_finished is not None:
            try:
                self.on_job_finished(dict(row))
            except Exception:  # noqa: BLE001
                log.exception("on_job_finished callback failed")
