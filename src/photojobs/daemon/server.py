"""The daemon process: lock, runner and scheduler threads, the uvicorn-hosted API, state file, signals.

The main thread runs the HTTP server; the runner supervises its lane slots in a thread, the
scheduler queues due maintenance in another. Signal handlers only set flags: the first
SIGTERM/SIGINT stops claiming and lets running items reach a safe point within
pipeline.shutdown_grace_seconds (then releases the rest), the second releases at once.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import shutil
import signal
import socket
import threading
import time

import uvicorn

from .. import __version__
from ..engine.recovery import host_id
from ..engine.runner import Runner
from ..engine.scheduler import Scheduler
from ..errors import ConfigError, PhotojobsError
from ..library import Library
from . import state
from .app import DaemonContext, create_app, staging_root
from .sse import EventHub

log = logging.getLogger("photojobs.daemon")
SCHEDULER_MAX_SLEEP = 60.0
LEADERSHIP_RETRY_SECONDS = 2.0   # how often a follower asks whether the scheduler's leader is gone


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """Bind before serving, so port 0 becomes a real port we can record."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio turns Nagle off (TCP_NODELAY) only on sockets that do, and
    # with Nagle on, a response written in two parts waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise PhotojobsError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class _Server(uvicorn.Server):
    """uvicorn, with our signal handling instead of its own (ours also stops the runner).

    The daemon's handlers are installed by `Daemon.run` for its whole life, not only while
    the server runs: the server stops at once, the runner may still be in its grace period,
    and a second signal then must still mean "stop now", not the default action."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield


class Daemon:
    """One library's daemon. `run()` blocks until stopped and returns the exit code."""

    def __init__(self, lib: Library, *, host: str | None = None, port: int | None = None):
        self.lib = lib
        self.host = host or lib.config.get("daemon.host")
        self.port = lib.config.get("daemon.port") if port is None else port
        self.token = lib.config.get("daemon.token") or ""
        self.runner: Runner | None = None
        self.server: _Server | None = None
        self.hub = EventHub(lib)
        self._stop = threading.Event()
        self._signals = 0
        self._threads: list[threading.Thread] = []
        self._failed: BaseException | None = None
        self.info: dict | None = None
        self.watcher = None

    def check_security(self) -> None:
        if not is_loopback(self.host) and not self.token:
            raise ConfigError(f"listening on {self.host} (not loopback) needs a token: set daemon.token in the "
                              "config; clients then send 'Authorization: Bearer <token>'")

    # --- run ------------------------------------------------------------------------------
    def run(self) -> int:
        self.check_security()
        previous = self._install_signals()
        try:
            return self._run()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _install_signals(self) -> dict:
        if threading.current_thread() is not threading.main_thread():
            return {}
        return {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}

    def _run(self) -> int:
        lock = state.DaemonLock(self.lib.root, self.lib.config)
        lock.acquire()
        sock = None
        try:
            sock = bind(self.host, self.port)
            self.port = sock.getsockname()[1]
            self._clean_staging()
            self.runner = Runner(self.lib, name="daemon")
            ctx = DaemonContext(self.lib, self.runner, self.hub, self.host, self.port, token=self.token,
                                on_ready=self._ready)
            config = uvicorn.Config(create_app(ctx), log_config=None, access_log=False, lifespan="on",
                                    timeout_graceful_shutdown=2, http="httptools", loop="asyncio",
                                    timeout_keep_alive=30)
            self.server = _Server(config)
            if self._stop.is_set():   # a signal came while we were starting
                self.server.should_exit = True
            self._start_thread("runner", self._run_runner)
            self._start_thread("scheduler", self._run_scheduler)
            self._start_watcher()
            self.server.run(sockets=[sock])
        finally:
            state.remove_state(self.lib.root, os.getpid())
            if self.watcher is not None:
                self.watcher.stop()
            self._stop.set()
            if self.runner is not None and not self.runner.stopping:
                self.runner.request_stop()   # a second request_stop() would mean "force"
            self.hub.close()
            for t in self._threads:
                t.join()
            if sock is not None:
                sock.close()
            lock.release()
        if self._failed is not None:
            log.error("daemon stopped after an internal failure: %r", self._failed)
            return 1
        log.info("daemon stopped")
        return 0

    def _ready(self) -> None:
        self.info = {"pid": os.getpid(), "host": socket.gethostname(), "address": self.host, "port": self.port,
                     "url": DaemonContext(self.lib, None, self.hub, self.host, self.port).url,
                     "library": str(self.lib.root.resolve()), "version": __version__,
                     "started_at": time.time(), "token_required": bool(self.token)}
        path = state.write_state(self.lib.root, self.info)
        log.info("photojobs daemon listening on %s (pid %d, library %s, state %s)", self.info["url"],
                 os.getpid(), self.lib.root, path)

    def _start_thread(self, name: str, target) -> None:
        t = threading.Thread(target=self._guard, args=(target,), name=f"daemon-{name}", daemon=True)
        self._threads.append(t)
        t.start()

    def _guard(self, target) -> None:
        try:
            target()
        except BaseException as exc:  # noqa: BLE001 - a dead runner must stop the daemon, not hide
            log.exception("daemon thread failed")
            self._failed = exc
            self.request_stop()

    def _run_runner(self) -> None:
        self.runner.run(install_signals=False)

    def _run_scheduler(self) -> None:
        """Tick the scheduler while this daemon leads (one leader among every host sharing the
        catalog, see storage/leadership.py); a follower asks again every few seconds, so the
        duty moves on when the leader dies."""
        scheduler = Scheduler(self.lib)
        lease = None
        try:
            while not self._stop.is_set():
                lease = self._lead(lease)
                if lease is None:
                    self._stop.wait(LEADERSHIP_RETRY_SECONDS)
                    continue
                self._scheduler_tick(scheduler)
        finally:
            if lease is not None:
                lease.release()

    def _lead(self, lease):
        """The scheduler's lease, still held or newly taken; None while another daemon leads."""
        if lease is not None:
            if lease.held():
                return lease
            log.warning("scheduler: leadership lost (the catalog session ended)")
        try:
            lease = self.lib.catalog.try_leadership("scheduler")
        except PhotojobsError as exc:
            log.warning("scheduler: cannot ask for leadership: %s", exc)
            return None
        if lease is not None:
            log.info("scheduler: this daemon leads (host %s, pid %d)", host_id(self.lib.config), os.getpid())
        return lease

    def _scheduler_tick(self, scheduler: Scheduler) -> None:
        try:
            tick = scheduler.tick()
            if tick.queued:
                log.info("scheduler queued %s", ", ".join(f"{j['type']}#{j['id']}" for j in tick.queued))
            next_due = tick.next_due_at
        except Exception:  # noqa: BLE001 - a busy catalog: try again shortly
            log.exception("scheduler tick failed")
            next_due = None
        wait = SCHEDULER_MAX_SLEEP if next_due is None else next_due - self.lib.now()
        # Capped, so a wake from sleep (the monotonic wait does not count it) is noticed soon.
        self._stop.wait(min(SCHEDULER_MAX_SLEEP, max(1.0, wait)))

    def _start_watcher(self) -> None:
        """Folder changes made outside photojobs become checks (daemon.watch_mode; "off" disables)."""
        if self.lib.config.get("daemon.watch_mode") == "off":
            return
        from .watcher import ProjectWatcher
        try:
            self.watcher = ProjectWatcher(self.lib).start()
        except (OSError, PhotojobsError) as exc:  # e.g. the inotify watch limit: the schedule still checks
            log.warning("not watching the library for changes: %s", exc)
            self.watcher = None

    def _clean_staging(self) -> None:
        """Staging folders left by a daemon that died mid-upload (the import never took them)."""
        root = staging_root(self.lib)
        if root.is_dir():
            for child in root.iterdir():
                shutil.rmtree(child, ignore_errors=True)

    # --- stopping -------------------------------------------------------------------------
    def _on_signal(self, signum, frame) -> None:
        self._signals += 1
        if self._signals == 1:
            self.request_stop()
        else:
            self.request_force_stop()

    def request_stop(self) -> None:
        """Warm stop: claim nothing more, let running items finish within the grace period."""
        self._stop.set()
        if self.runner is not None and not self.runner.stopping:
            self.runner.request_stop()
        self.hub.close(wait=False)
        if self.server is not None:
            self.server.should_exit = True

    def request_force_stop(self) -> None:
        """Cold stop: release every held job now."""
        self.request_stop()
        if self.runner is not None:
            self.runner.request_force_stop()
        if self.server is not None:
            self.server.force_exit = True


def run_daemon(lib: Library, *, host: str | None = None, port: int | None = None) -> int:
    """Run the daemon for `lib` in this process until a signal stops it; returns the exit code."""
    return Daemon(lib, host=host, port=port).run()

