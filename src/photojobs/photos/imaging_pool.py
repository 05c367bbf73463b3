"""Run make_derivatives in worker processes, so decoders use every core and a decoder
crash fails only the photo it was decoding."""

from __future__ import annotations

import collections
import inspect
import multiprocessing
import signal
import threading
import time
import traceback
from concurrent.futures import Future
from multiprocessing.connection import wait
from pathlib import Path
from typing import Callable

from photojobs.engine import registry
from photojobs.photos import resampling
from photojobs.photos.imaging import ImagingError, ImagingSettings, make_derivatives

_DERIVATIVE_MAKER: list[Callable[..., dict]] = []   # the one a plugin registered, if any


def derivative_maker(fn: Callable[..., dict]) -> Callable[..., dict]:
    """Decorator: derivative workers call `fn(source, thumb_out, preview_out, settings)` instead of
    imaging.make_derivatives (say, to wrap it with a decoder for a format Pillow lacks); the last
    one registered wins. Workers are other processes: `fn` must be a module-level function, which
    they import by name."""
    _DERIVATIVE_MAKER[:] = [fn]
    return fn


def get_derivative_maker() -> Callable[..., dict]:
    """What the derivative workers run: a plugin's derivative_maker, else imaging.make_derivatives."""
    registry.load()   # the plugins register theirs when they are imported
    return _DERIVATIVE_MAKER[0] if _DERIVATIVE_MAKER else make_derivatives


class DecoderCrashed(ImagingError):
    """The worker process died while decoding (signal or exit). Not permanent: an
    out-of-memory kill is as likely as a bad file; the caller's retry limit decides."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message, permanent)


# glibc's mallopt(3) parameters
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def _keep_freed_image_memory() -> None:
    """Let this worker reuse the memory of one photo's images for the next. By default glibc hands
    freed big buffers back to the kernel (unmapping them, or trimming its heap), and the next
    photo's buffers page-fault in afresh: on a 24 MP JPEG that was a sixth of the photo's time here
    (197 -> 163 ms). Buffers up to 32 MB (glibc's ceiling for this setting) now come from the heap,
    which keeps up to 128 MB of free memory. A worker on another C library is left alone."""
    import ctypes
    import os

    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return
    except (AttributeError, ValueError, OSError):  # not glibc (musl, macOS, Windows)
        return
    try:
        libc = ctypes.CDLL(None)  # the C library this process already runs on
        libc.mallopt(_M_MMAP_THRESHOLD, 32 * 1024 * 1024)
        libc.mallopt(_M_TRIM_THRESHOLD, 128 * 1024 * 1024)
    except (OSError, AttributeError):
        pass


def _worker_main(conn, make: Callable[..., dict]) -> None:
    """Worker loop: receive (source, thumb_out, preview_out, settings), reply
    ("ok", make(...)) or ("error", exception). None or a closed pipe ends it."""
    # Ctrl-C goes to the whole process group; the parent decides when workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Our workers run nothing but make_derivatives, which applies its own
    # settings.max_pixels; Pillow's process-wide limit would only second-guess it.
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None
    _keep_freed_image_memory()
    resampling.prepare()  # here, not in the fork server: libvips starts threads
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if task is None:
            return
        try:
            reply = ("ok", make(*task))
        except Exception as e:
            reply = ("error", e)
        try:
            conn.send(reply)
        except Exception:  # an exception that does not pickle: send its text
            conn.send(("error", RuntimeError(
                "".join(traceback.format_exception_only(type(reply[1]), reply[1])))))


def _start_method() -> str:
    # Not "fork": the parent runs threads (heartbeat, this pool's dispatcher), and a
    # forked child inherits whatever locks they held (logging, sqlite, malloc arenas)
    # forever locked; rawpy's OpenMP also deadlocks after fork. "forkserver" forks
    # workers from a clean single-threaded server that has preloaded Pillow and rawpy,
    # so replacing a crashed worker costs milliseconds; "spawn" where it is missing.
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


# The decoders, and this module: the workers' target lives here, and it imports the job registry
# (importlib.metadata, the catalog's storage): ~40 ms each worker spent before its first photo.
PRELOAD = ["photojobs.photos.imaging", "photojobs.photos.imaging_pool"]


def warm_up() -> None:
    """Start the fork server (with the decoders imported) now, in the background, so the first
    pool of this process has workers in milliseconds: call it when derivatives are about to be
    wanted (an import begins). Harmless to call more than once, or where there is no fork server."""
    ctx = multiprocessing.get_context(_start_method())
    if ctx.get_start_method() != "forkserver":
        return
    ctx.set_forkserver_preload(PRELOAD)
    from multiprocessing import forkserver
    threading.Thread(target=forkserver.ensure_running, name="derivatives-warm-up", daemon=True).start()


class _Worker:
    def __init__(self, ctx, make: Callable[..., dict]):
        self.conn, child_conn = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child_conn, make),
                                   name="photojobs-derivatives", daemon=True)
        self.process.start()
        child_conn.close()
        self.task = None  # (future, args, started_at) while busy

    def stop(self, timeout: float) -> None:
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


class DerivativePool:
    """`workers` processes making derivatives; `submit` returns a Future of
    make_derivatives' result dict (or its ImagingError). A worker that dies fails its
    own item with DecoderCrashed and is replaced; an item running longer than
    `item_timeout` seconds is killed the same way. Each worker takes one item at a time,
    so a death is always charged to the right photo."""

    def __init__(self, workers: int, *, item_timeout: float | None = None):
        if workers < 1:
            raise ValueError("workers must be >= 1")
        self._ctx = multiprocessing.get_context(_start_method())
        if self._ctx.get_start_method() == "forkserver":
            # Only matters before the process-wide fork server starts; it then imports
            # the decoders once instead of once per worker.
            self._ctx.set_forkserver_preload(PRELOAD)
        # Resolved here, sent to each worker by name: a worker need not load the plugins itself.
        self._make = get_derivative_maker()
        # The content kind the caller sniffed spares the worker a second look, for a maker that
        # takes it (a plugin's may not).
        self._takes_kind = "kind" in inspect.signature(self._make).parameters
        self._item_timeout = item_timeout
        self._pending: collections.deque = collections.deque()
        self._lock = threading.Lock()
        self._closing = False
        self._wake_r, self._wake_w = self._ctx.Pipe(duplex=False)
        self._workers = [_Worker(self._ctx, self._make) for _ in range(workers)]
        self._thread = threading.Thread(target=self._dispatch, name="derivative-pool",
                                        daemon=True)
        self._thread.start()

    def submit(self, source: Path, thumb_out: Path, preview_out: Path,
               settings: ImagingSettings, *, kind: str | None = None) -> Future:
        future: Future = Future()
        task: tuple = (Path(source), Path(thumb_out), Path(preview_out), settings)
        with self._lock:
            if self._closing:
                raise RuntimeError("pool is closed")
            self._pending.append((future, (*task, kind) if self._takes_kind and kind else task))
        self._wake()
        return future

    def close(self, cancel_pending: bool = False) -> None:
        """Finish (or with `cancel_pending`, cancel) queued items, then stop workers."""
        with self._lock:
            self._closing = True
            if cancel_pending:
                while self._pending:
                    self._pending.popleft()[0].cancel()
        self._wake()
        self._thread.join()

    def __enter__(self) -> DerivativePool:
        return self

    def __exit__(self, *exc) -> None:
        self.close(cancel_pending=exc[0] is not None)

    # --- dispatcher thread -------------------------------------------------------

    def _wake(self) -> None:
        try:
            self._wake_w.send_bytes(b"!")
        except OSError:
            pass

    def _next_task(self):
        with self._lock:
            while self._pending:
                future, args = self._pending.popleft()
                if future.set_running_or_notify_cancel():
                    return future, args
        return None

    def _dispatch(self) -> None:
        try:
            while True:
                for i, worker in enumerate(self._workers):
                    if worker.task is None:
                        task = self._next_task()
                        if task is None:
                            break
                        self._start(i, task)
                busy = [w for w in self._workers if w.task is not None]
                with self._lock:
                    if self._closing and not busy and not self._pending:
                        return
                ready = wait([self._wake_r] + [w.conn for w in busy]
                             + [w.process.sentinel for w in busy],
                             timeout=self._poll_timeout(busy))
                if self._wake_r in ready:
                    while self._wake_r.poll():
                        self._wake_r.recv_bytes()
                for i, worker in enumerate(self._workers):
                    if worker.task is not None:
                        self._collect(i, worker, ready)
        except BaseException as e:  # a bug here must not leave callers waiting forever
            with self._lock:
                self._closing = True
                stranded = [w.task[0] for w in self._workers if w.task is not None]
                stranded += [future for future, _ in self._pending]
                self._pending.clear()
            for future in stranded:
                if not future.done():
                    future.set_exception(RuntimeError(f"derivative pool failed: {e!r}"))
            raise
        finally:
            for worker in self._workers:
                worker.stop(timeout=5)
            self._wake_r.close()
            self._wake_w.close()

    def _poll_timeout(self, busy) -> float | None:
        if self._item_timeout is None or not busy:
            return None
        now = time.monotonic()
        return max(0.0, min(w.task[2] + self._item_timeout - now for w in busy))

    def _start(self, i: int, task) -> None:
        future, args = task
        worker = self._workers[i]
        try:
            worker.conn.send(args)
        except OSError:  # died while idle: replace it and try once more
            worker = self._replace(i)
            worker.conn.send(args)
        worker.task = (future, args, time.monotonic())

    def _collect(self, i: int, worker: _Worker, ready) -> None:
        future, args, started = worker.task
        if worker.conn in ready:
            try:
                status, value = worker.conn.recv()
            except (EOFError, OSError):
                # The pipe closed without a reply: the process is dying; wait for it
                # so its exit status can be reported.
                status, value = None, None
                worker.process.join(5)
            if status is not None:
                worker.task = None
                if status == "ok":
                    future.set_result(value)
                else:
                    future.set_exception(value)
                return
        if worker.process.sentinel in ready or not worker.process.is_alive():
            worker.process.join()
            code = worker.process.exitcode
            how = (f"signal {-code} ({signal.Signals(-code).name})" if code and code < 0
                   else f"exit code {code}")
            worker.task = None
            self._replace(i)
            future.set_exception(DecoderCrashed(
                f"decoder process died ({how}) while making derivatives of {args[0]}"))
            return
        if (self._item_timeout is not None
                and time.monotonic() - started >= self._item_timeout):
            worker.process.kill()
            worker.process.join()
            worker.task = None
            self._replace(i)
            future.set_exception(DecoderCrashed(
                f"decoder took over {self._item_timeout:g} s on {args[0]}; killed"))

    def _replace(self, i: int) -> _Worker:
        old = self._workers[i]
        old.conn.close()
        if old.process.is_alive():
            old.process.kill()
        old.process.join()
        new = _Worker(self._ctx, self._make)
        self._workers[i] = new
        return new
