"""`photojobs jobs watch|pause|resume`: a live view of the queue, and pausing its lanes."""

from __future__ import annotations

import json
import queue as queue_mod
import signal
import sys
import threading
from contextlib import contextmanager
from datetime import datetime
from enum import Enum
from typing import Annotated, Any, Iterator, Optional

import typer
from rich.console import Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from ..engine import monitor as watch_engine
from ..engine import pause as pause_engine
from ..engine.lanes import LANES
from ..library import Library
from ._dispatch import find_daemon
from ._options import JsonOpt
from ._progress import duration
from ._render import console, err_console, print_json, state



Lane = Enum("Lane", {name: name for name in LANES}, type=str)


LaneOpt = Annotated[Optional[Lane], typer.Option(
    "--lane", help="Only this lane (default: both lanes).", case_sensitive=False)]


def _paused_words(paused: dict) -> str:
    lanes = [name for name, on in paused["lanes"].items() if on]
    if not lanes:
        return "both lanes running"
    if len(lanes) == len(paused["lanes"]):
        return "both lanes paused"
    running = [name for name, on in paused["lanes"].items() if not on]
    return f"{' and '.join(lanes)} lane paused, {' and '.join(running)} lane running"


def pause(ctx: typer.Context, lane: LaneOpt = None, json_out: JsonOpt = False) -> None:
    """Pause a lane (or both): running jobs finish, nothing new is started, by any runner."""
    paused = pause_engine.pause(state(ctx).library(), lane.value if lane else None)
    if json_out:
        print_json(paused)
    else:
        console.print(f"{_paused_words(paused)}; running jobs finish, queued jobs wait "
                      "until `photojobs jobs resume`", markup=False)


def resume(ctx: typer.Context, lane: LaneOpt = None, json_out: JsonOpt = False) -> None:
    """Resume a paused lane (or both)."""
    paused = pause_engine.resume(state(ctx).library(), lane.value if lane else None)
    if json_out:
        print_json(paused)
    else:
        console.print(_paused_words(paused), markup=False)


def watch(ctx: typer.Context,
          project: Annotated[Optional[str], typer.Option("--project", "-p", help="Only this project's jobs.")] = None,
          once: Annotated[bool, typer.Option("--once", help="Print one snapshot and exit.")] = False,
          json_out: Annotated[bool, typer.Option(
              "--json", help="JSON instead of the live view: with --once one snapshot object, otherwise "
                             "a snapshot line then one event per line as they happen.")] = False) -> None:
    """Show running and queued jobs live, per lane, with progress, rate, ETA and recent failures.

    Follows the event log of the library (or a running daemon's event stream); Ctrl-C exits."""
    lib = state(ctx).library()
    model = watch_engine.load(lib, project=project)
    if once:
        snapshot = model.snapshot()
        if json_out:
            print_json(snapshot)
        else:
            console.print(render(snapshot))
        return
    stop = _StopFlag()
    with stop.installed():
        batches = _event_batches(lib, model, stop, _Say(state(ctx).verbose))
        try:
            if json_out:
                _stream_json(model, batches)
            else:
                _live(model, batches)
        except BrokenPipeError:  # `jobs watch --json | head`: the reader left, that's fine
            sys.stderr.close()


class _Say:
    """-v messages, from any thread (click's context, which `_dispatch.say` reads, is per thread)."""

    def __init__(self, verbose: int):
        self.verbose = verbose

    def __call__(self, message: str) -> None:
        if self.verbose:
            err_console.print(f"photojobs: {message}", markup=False, soft_wrap=True)


def _event_batches(lib: Library, model: watch_engine.QueueModel, stop: "_StopFlag",
                   say: _Say) -> Iterator[list[dict]]:
    """Events after the model's seed: from the daemon's stream when one runs, else from the event log."""
    found = find_daemon(lib)
    if found is not None:
        say(f"following the daemon's event stream at {found[0]['url']}")
        yield from _daemon_batches(found[1], model, stop, say)
        if stop.is_set():
            return
        say(f"the daemon went away; following the event log from event {model.last_event_id}")
    yield from watch_engine.follow(lib, model.last_event_id, should_stop=stop.is_set)


_GONE = object()


def _daemon_batches(client, model: watch_engine.QueueModel, stop: "_StopFlag", say: _Say,
                    tick_seconds: float = 0.5) -> Iterator[list[dict]]:
    """Events from the daemon's SSE stream, read on a thread so Ctrl-C and redraws never wait on
    the socket. A dropped stream is reopened with Last-Event-ID = the last event received, so
    nothing is lost or repeated; when the daemon is gone, the caller tails the log instead."""
    inbox: queue_mod.Queue = queue_mod.Queue()
    envelope = watch_engine.stream_envelope

    def read() -> None:
        try:
            for ev in client.follow(model.last_event_id, should_stop=stop.is_set,
                                    on_resume=lambda after: say(f"event stream resumed after event {after}")):
                if ev is not None and ev.id is not None:
                    inbox.put(envelope(ev.id, ev.data))
        finally:
            client.close()
            inbox.put(_GONE)

    thread = threading.Thread(target=read, name="watch-sse", daemon=True)
    thread.start()
    while not stop.is_set():
        batch: list[dict] = []
        try:
            item = inbox.get(timeout=tick_seconds)
            while True:
                if item is _GONE:
                    if batch:
                        yield batch
                    return
                batch.append(item)
                item = inbox.get_nowait()
        except queue_mod.Empty:
            pass
        yield batch


def _stream_json(model: watch_engine.QueueModel, batches: Iterator[list[dict]]) -> None:
    _write_line(model.snapshot())
    for events in batches:
        for event in events:
            model.apply(event)
            if model.wants(event):
                _write_line(event)


def _write_line(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, separators=(",", ":"), default=str) + "\n")
    sys.stdout.flush()


def _live(model: watch_engine.QueueModel, batches: Iterator[list[dict]]) -> None:
    def draw():
        return render(model.snapshot(), console.size.width, console.size.height)
    with Live(draw(), console=console, auto_refresh=False, transient=False) as live:
        for events in batches:
            for event in events:
                model.apply(event)
            live.update(draw(), refresh=True)


class _StopFlag:
    """Ctrl-C and SIGTERM end the watch at the next poll, cleanly and with exit code 0."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        return self._event.wait(seconds)

    @contextmanager
    def installed(self) -> Iterator["_StopFlag"]:
        previous = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, lambda *_: self._event.set())
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


# --- rendering ---------------------------------------------------------------------------------
WIDE = 120   # from here on a running job fits one table row; below, it takes two lines


def render(snapshot: dict, width: int | None = None, height: int | None = None):
    """The live view of one snapshot for a terminal of `width` x `height` (default: the console's):
    a header, each lane's running and queued jobs, the last finished tasks, then recent failures
    (as many as fit in `height`, when given). File names are never cut; a narrow terminal gets
    two lines per job."""
    width = width or console.size.width
    parts: list = _header(snapshot)
    for name, lane in snapshot["lanes"].items():
        parts.append(Text(f"{name} lane" + (" (paused)" if lane["paused"] else ""), style="bold"))
        if not lane["running"]:
            parts.append(Text("  idle", style="dim"))
        elif width >= WIDE:
            parts.append(_running_table(lane["running"]))
        else:
            for job in lane["running"]:
                parts.extend(_running_lines(job, width))
        if lane["queued_total"]:
            shown = ", ".join(f"#{j['id']} {j['type']}" + (f" ({j['project_folder']})" if j["project_folder"] else "")
                              for j in lane["queued"][:5])
            more = lane["queued_total"] - min(5, len(lane["queued"]))
            parts.append(Text(f"  queued {lane['queued_total']}: {shown}" + (f", … {more} more" if more > 0 else ""),
                              style="dim", no_wrap=True, overflow="ellipsis"))
    if snapshot.get("recently_finished"):
        parts.append(Text("finished", style="bold"))
        parts.extend(_finished_line(t) for t in snapshot["recently_finished"])
    failures = snapshot["recent_failures"]
    room = len(failures) if height is None else height - sum(_lines(p, width) for p in parts) - 3  # title, header, cursor
    if failures and room > 0:
        t = Table(title="recent failures", title_justify="left", title_style="bold", header_style="bold",
                  show_edge=False, pad_edge=False, box=None)
        for col in ("job", "type", "file", "message"):
            t.add_column(col, no_wrap=True, overflow="ellipsis")
        t.columns[2].min_width = max((len(f["filename"] or "") for f in failures[:room]), default=0)
        for f in failures[:room]:
            t.add_row(str(f["job_id"]), f["type"] or "", f["filename"] or "", Text(f["message"] or ""))
        parts.append(t)
    return Group(*parts)


def _header(snapshot: dict) -> list:
    title = Text("photojobs queue", style="bold")
    if snapshot.get("project"):
        title.append(f" · {snapshot['project']}")
    if snapshot["paused"]["any"]:
        title.append(f"  [{_paused_words(snapshot['paused'])}]", style="bold yellow")
    counts = snapshot["counts"]
    line = " · ".join(f"{s} {counts[s]}" for s in counts)
    # A completed job can hold failed photos: count those too, not only failed jobs.
    failed_items = snapshot.get("failed_items", 0)
    counted = Text(line)
    if failed_items:
        counted.append(f" · failed items {failed_items}", style="bold red")
    return [title, counted]


def _progress_words(job: dict) -> str:
    total = job["progress_total"]
    words = f"{job['progress_done'] + job['progress_failed']}/{total}" if total else ""
    if job["progress_failed"]:
        words += f", {job['progress_failed']} failed"
    return words


def _running_table(running: list[dict]) -> Table:
    t = Table(expand=False, header_style="bold", show_edge=False, box=None, pad_edge=False)
    for col in ("job", "project", "type", "progress", "", "rate", "ETA", "file"):
        t.add_column(col, no_wrap=True)
    t.columns[7].min_width = max(len(j["current_file"] or "") for j in running)
    for job in running:
        total = job["progress_total"]
        bar = ProgressBar(total=total or None, completed=job["progress_done"] + job["progress_failed"], width=24)
        rate = f"{job['rate_per_second']:.1f}/s" if job["rate_per_second"] else ""
        t.add_row(str(job["id"]), job["project_folder"] or "", job["type"], bar, _progress_words(job), rate,
                  duration(job["eta_seconds"]), job["current_file"] or "")
    return t


def _running_lines(job: dict, width: int) -> list:
    """Two lines: what and how far; then the bar, rate, time left and the whole file name."""
    first = Text(f"  #{job['id']} {job['type']}")
    if job["project_folder"]:
        first.append(f" · {job['project_folder']}")
    counts = _progress_words(job)
    first.truncate(max(10, width - len(counts) - 2), overflow="ellipsis")
    first.append(" " * max(2, width - len(first) - len(counts)) + counts)
    tail = "  ".join(x for x in (f"{job['rate_per_second']:.1f}/s" if job["rate_per_second"] else "",
                                 f"{duration(job['eta_seconds'])} left" if job["eta_seconds"] is not None else "",
                                 job["current_file"] or "") if x)
    bar_width = max(8, width - 6 - len(tail) - 2)
    second = Table.grid(padding=(0, 2))
    second.add_column(width=4)
    second.add_column(width=bar_width)
    second.add_column(no_wrap=True)
    second.add_row("", ProgressBar(total=job["progress_total"] or None,
                                   completed=job["progress_done"] + job["progress_failed"], width=bar_width), tail)
    return [first, second]


def _finished_line(task: dict) -> Text:
    ids = task["jobs"]
    jobs = f"#{ids[0]}" + (f"–{ids[-1]}" if len(ids) > 1 else "")
    style = {"failed": "red", "canceled": "yellow"}.get(task["status"], "")
    line = Text(f"  {jobs} {task['type']}")
    if task["project_folder"]:
        line.append(f" · {task['project_folder']}")
    if task["progress_total"]:
        line.append(f"  {task['progress_done']} done")
        if task["progress_failed"]:
            line.append(f", {task['progress_failed']} failed", style="red")
    line.append(f"  {task['status']}", style=style)
    if task.get("finished_at"):
        line.append(f" {_clock(task['finished_at'])}", style="dim")
    line.no_wrap, line.overflow = True, "ellipsis"
    return line


def _clock(at: str) -> str:
    """An event's ISO time as local HH:MM:SS."""
    try:
        return datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone().strftime("%H:%M:%S")
    except ValueError:
        return ""


def _lines(renderable, width: int) -> int:
    return len(console.render_lines(renderable, console.options.update_width(width), pad=False))


def register(app: typer.Typer) -> None:
    """Add watch, pause and resume to the `jobs` group."""
    app.command("watch")(watch)
    app.command("pause")(pause)
    app.command("resume")(resume)
