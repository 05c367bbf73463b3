"""`photojobs daemon`: run, start, inspect and stop the library's background daemon."""

from __future__ import annotations

import logging
import sys
from typing import Annotated, Optional

import typer

from ..daemon import control
from ..library import default_library_path
from . import exit_codes
from ._options import JsonOpt
from ._render import console, print_json, state

SYSTEMD_UNIT = """\
# ~/.config/systemd/user/photojobs.service
[Unit]
Description=photojobs daemon

[Service]
ExecStart=%h/.local/bin/photojobs --library %h/Photos daemon run
KillSignal=SIGTERM
TimeoutStopSec=30
Restart=on-failure

[Install]
WantedBy=default.target
"""

app = typer.Typer(
    help="Run the library's daemon: jobs start the moment they are asked for, maintenance runs on its own, "
         "and clients follow progress over HTTP (GET /api/jobs/stream).",
    epilog="As a systemd user service (then `systemctl --user enable --now photojobs`):\n\n" + SYSTEMD_UNIT,
    rich_markup_mode="markdown",
    no_args_is_help=True,
)

HostOpt = Annotated[Optional[str], typer.Option(
    "--host", help="Address to listen on (default: daemon.host, 127.0.0.1). Any other than loopback needs "
                   "daemon.token.")]
PortOpt = Annotated[Optional[int], typer.Option(
    "--port", min=0, max=65535, help="Port (default: daemon.port; 0 picks a free one).")]


def _root(ctx: typer.Context):
    st = state(ctx)
    return (st.library_path or default_library_path()).expanduser()


@app.command("run")
def run(ctx: typer.Context, host: HostOpt = None, port: PortOpt = None) -> None:
    """Run the daemon in the foreground (logs to stderr; SIGTERM or Ctrl-C stops it cleanly)."""
    st = state(ctx)
    logging.basicConfig(level=logging.DEBUG if st.verbose > 1 else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from ..daemon.server import run_daemon
    raise typer.Exit(run_daemon(st.library(create=True), host=host, port=port))


@app.command("start")
def start(ctx: typer.Context, host: HostOpt = None, port: PortOpt = None,
          timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait until it answers.")] = 30.0,
          json_out: JsonOpt = False) -> None:
    """Start the daemon in the background; returns once it answers."""
    st = state(ctx)
    st.library(create=True)  # create the library now, so a bad path fails here and not in the background
    result = control.start(_root(ctx), st.config, config_path=st.config_path, host=host, port=port,
                           timeout=timeout, verbose=st.verbose)
    if json_out:
        print_json(result)
    elif result["already_running"]:
        console.print(f"daemon already running (pid {result['pid']}) at {result['url']}", markup=False)
    else:
        console.print(f"daemon started (pid {result['pid']}) at {result['url']}", markup=False)


@app.command("status")
def status(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Say whether the daemon runs, where it listens, and its queue (exit 3 when it does not run)."""
    st = state(ctx)
    result = control.status(_root(ctx), st.config)
    if json_out:
        print_json(result)
    elif result["running"]:
        q = ", ".join(f"{k} {v}" for k, v in sorted(result["queue"].items())) or "empty"
        console.print(f"daemon running (pid {result['pid']}) at {result['url']}; up "
                      f"{result['uptime_seconds']:.0f}s; queue: {q}", markup=False)
    elif result["state"] == "unresponsive":
        console.print(f"daemon (pid {result['pid']}) holds the library but does not answer", markup=False)
    else:
        console.print("daemon not running", markup=False)
    if not result["running"]:
        raise typer.Exit(exit_codes.NOT_FOUND)


@app.command("stop")
def stop(ctx: typer.Context,
         timeout: Annotated[Optional[float], typer.Option(
             "--timeout", help="Seconds to wait (default: pipeline.shutdown_grace_seconds + 10).")] = None,
         force: Annotated[bool, typer.Option("--force", help="Kill it if it has not stopped by then.")] = False,
         json_out: JsonOpt = False) -> None:
    """Stop the daemon gracefully: running items finish within the grace period, the rest is requeued."""
    st = state(ctx)
    result = control.stop(_root(ctx), st.config, timeout=timeout, force=force)
    if json_out:
        print_json(result)
    elif not result["stopped"]:
        console.print("daemon not running", markup=False)
    else:
        console.print(f"daemon (pid {result['pid']}) {'killed' if result['killed'] else 'stopped'}", markup=False)
