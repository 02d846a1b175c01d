"""`likeness server start|stop|status`: the studio's long-lived Prefect server.

Renders use it by themselves when it runs (no ``PREFECT_API_URL`` to export) and fall
back to Prefect's temporary in-process server when it does not; nothing starts it
automatically (see `flows.server`).
"""

from __future__ import annotations

from typing import Annotated

import typer

from likeness.cli.common import JsonOpt, literal, load_studio_settings
from likeness.output import emit, stderr, stdout

server_app = typer.Typer(no_args_is_help=True, help="The studio's long-lived Prefect server.")


def _print_status(data: dict[str, object]) -> None:
    if not data["running"]:
        stdout.print(f"no Prefect server running (home {literal(data['home'])})")
        return
    runs = data["runs"] if data["runs"] is not None else "?"
    stdout.print(f"[bold green]running[/] {literal(data['ui_url'])}  pid {data['pid']}  "
                 f"up {data['uptime_s']} s  runs {runs}")
    stdout.print(f"  api {literal(data['url'])}  log {literal(data['log'])}")


@server_app.command("start")
def start(port: Annotated[int | None, typer.Option("--port", help="Default: a free port.")]
          = None, as_json: JsonOpt = False) -> None:
    """Start the server on 127.0.0.1 and wait until it is healthy (~15 s)."""
    from flows import server

    home = load_studio_settings().home
    if not as_json:
        stderr.print("starting the Prefect server (about 15 s)…")
    state = server.start(home, port=port)
    emit(state.to_dict(), as_json=as_json, render=lambda: _print_status(state.to_dict()))


@server_app.command("stop")
def stop(as_json: JsonOpt = False) -> None:
    """Stop the studio's server (renders fall back to a temporary one)."""
    from flows import server

    state = server.stop(load_studio_settings().home)
    emit(state.to_dict(), as_json=as_json, render=lambda: stdout.print(
        f"stopped the Prefect server (pid {state.pid})"))


@server_app.command("status")
def status(as_json: JsonOpt = False) -> None:
    """URL, PID, uptime and flow runs of the studio's server (exit 0 either way)."""
    from flows import server

    state = server.status(load_studio_settings().home)
    emit(state.to_dict(), as_json=as_json, render=lambda: _print_status(state.to_dict()))
