"""`likeness deploy`: create the work pool and prefect.yaml's deployments on a server.

The server is the one named by ``PREFECT_API_URL``, else the studio's own
(`likeness server start`); with neither this is bad input, not a silent temporary
server whose deployments would vanish with the process. The commands it runs are the
documented ones (docs/scale-out.md), so a studio can run them by hand instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from likeness.cli.common import JsonOpt, literal, load_studio_settings
from likeness.errors import BadInput, InternalError
from likeness.output import emit, stdout

PROJECT_FILE = Path(__file__).resolve().parents[2] / "prefect.yaml"
DEPLOYMENTS = ("batch", "dub", "reenact", "avatar")
WATCH = "watch"


def _prefect(args: list[str], *, env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-m", "prefect", *args],  # noqa: S603 - fixed args
                          cwd=PROJECT_FILE.parent, env=env, capture_output=True, text=True,
                          check=False, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise InternalError(f"prefect {' '.join(args)} failed ({done.returncode}): "
                            f"{(done.stderr or done.stdout).strip()[-1500:]}")
    return done.stdout


def deploy(
    pool: Annotated[str, typer.Option("--pool", help="Process work pool to create/use.")]
    = "likeness",
    slots: Annotated[int | None, typer.Option(
        "--slots", min=1, help="The pool's concurrency limit (render slots).")] = None,
    watch: Annotated[Path | None, typer.Option(
        "--watch", help="Also deploy the scheduled watch folder over this folder.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create the work pool and the batch, dub, reenact, avatar (and watch) deployments."""
    from flows.server import running_server_url

    url = os.environ.get("PREFECT_API_URL") or running_server_url(load_studio_settings().home)
    if not url:
        raise BadInput("no Prefect server to deploy to",
                       hint="run `likeness server start`, or set PREFECT_API_URL")
    if not PROJECT_FILE.is_file():
        raise BadInput(f"{PROJECT_FILE} is missing (deploy from a checkout of Likeness)")
    names = list(DEPLOYMENTS)
    env = {**os.environ, "PREFECT_API_URL": url}
    if watch is not None:
        if not watch.is_dir():
            raise BadInput(f"watch folder {watch} does not exist")
        env["LIKENESS_WATCH_DIR"] = str(watch.absolute())
        names.append(WATCH)
    _prefect(["work-pool", "create", pool, "--type", "process", "--overwrite"], env=env)
    if slots is not None:
        _prefect(["work-pool", "set-concurrency-limit", pool, str(slots)], env=env)
    args = ["--no-prompt", "deploy", "--prefect-file", str(PROJECT_FILE), "--pool", pool]
    for name in names:
        args += ["--name", name]
    _prefect(args, env=env)
    data = {"api_url": url, "pool": pool, "slots": slots, "deployments": names,
            "watch": str(watch.absolute()) if watch else None,
            "worker": f"prefect worker start --pool {pool}"}
    emit(data, as_json=as_json, render=lambda: (
        stdout.print(f"[bold green]deployed[/] {', '.join(names)} to pool {literal(pool)} "
                     f"on {literal(url)}"),
        stdout.print(f"  start workers with: PREFECT_API_URL={literal(url)} "
                     f"prefect worker start --pool {literal(pool)}")))
