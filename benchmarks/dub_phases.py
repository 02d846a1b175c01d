"""Where a `likeness dub` process spends the wall time its stages do not account for.

Run as the CLI itself (``python benchmarks/dub_phases.py dub VIDEO ...``): it wraps a few
functions of the CLI, the dub flow and Prefect (by reassigning module attributes, in this
process only; nothing in the project carries profiling hooks), runs the command, and at
exit writes one ``PHASES {json}`` line to stderr: wall-clock marks, seconds since the
parent started the process (``PHASES_SPAWN_T``, a ``time.time()``), and the seconds spent
in the wrapped calls. `split` turns them and the command's ``--json`` result into the
phases `server_bench.py` prints:

- Python start-up and ``import likeness.cli``;
- the studio and Typer, up to the ``dub`` command importing its flow;
- ``import flows.dub`` (Prefect, the media and engine modules it names);
- opening the studio (importing it too: SQLAlchemy, the consent models) and the checks
  made before Prefect starts (options, media header, engine preflight, leftover claims);
- Prefect's part of the flow run: ``run_dub`` minus the stages (creating the flow run,
  the task runs' bookkeeping, the queued logs and events delivered at the end);
- printing the result, and the process's exit (thread shutdowns, ``atexit``, teardown).

The hooks cost microseconds (a name compare per ``import`` statement).
"""

from __future__ import annotations

import atexit
import builtins
import functools
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SPAWN_ENV = "PHASES_SPAWN_T"
PREFIX = "PHASES "
_T0 = float(os.environ.get(SPAWN_ENV, repr(time.time())))
_marks: dict[str, float] = {}
_calls: dict[str, float] = {}


def _mark(name: str) -> None:
    _marks[name] = round(time.time() - _T0, 3)


def _timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        began = time.time()
        try:
            return fn(*args, **kwargs)
        finally:
            _calls[name] = round(_calls.get(name, 0.0) + time.time() - began, 3)
    return wrapper


def _marked(begin: str, end: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _mark(begin)
        try:
            return fn(*args, **kwargs)
        finally:
            _mark(end)
    return wrapper


def _wrap_flow_modules() -> None:
    import prefect.flow_engine as engine
    import prefect.flows as prefect_flows

    import flows.dub as dub
    import flows.stages as stages
    import likeness.cli.render as render

    dub.run_dub = _marked("run_dub begins", "run_dub ends", dub.run_dub)
    dub.preflight_engines = _timed("engine preflight", dub.preflight_engines)
    stages.settle_dead_renders = _timed("claim settling", stages.settle_dead_renders)
    render._precheck_dub_media = _timed("media precheck", render._precheck_dub_media)
    engine.FlowRunEngine.create_flow_run = _timed(  # type: ignore[method-assign]
        "prefect create_flow_run", engine.FlowRunEngine.create_flow_run)
    prefect_flows.Flow.serialize_parameters = _timed(  # type: ignore[method-assign]
        "prefect serialize_parameters", prefect_flows.Flow.serialize_parameters)


def _install() -> None:
    real_import = builtins.__import__

    def watching(name: str, *args: Any, **kwargs: Any) -> Any:
        first = name == "flows.dub" and name not in sys.modules
        if first:
            _mark("import flows.dub begins")
        module = real_import(name, *args, **kwargs)
        if first:
            _mark("import flows.dub done")
            builtins.__import__ = real_import
            _wrap_flow_modules()
        return module

    builtins.__import__ = watching


def _report() -> None:
    _mark("atexit")
    sys.stderr.write("\n" + PREFIX + json.dumps({"marks": _marks, "calls": _calls}) + "\n")
    sys.stderr.flush()


def split(wall_s: float, stages_s: float, stderr: str) -> dict[str, float]:
    """The phases of one process, from its ``PHASES`` line, its wall time as the parent
    measured it and the sum of its stages."""
    line = next(x for x in reversed(stderr.splitlines()) if x.startswith(PREFIX))
    data = json.loads(line.removeprefix(PREFIX))
    m: dict[str, float] = data["marks"]
    phases = {
        "python_and_cli_import_s": m["cli imported"],
        "studio_and_typer_s": m["import flows.dub begins"] - m["cli imported"],
        "flow_module_import_s": m["import flows.dub done"] - m["import flows.dub begins"],
        "studio_open_and_checks_s": m["run_dub begins"] - m["import flows.dub done"],
        "prefect_flow_run_s": m["run_dub ends"] - m["run_dub begins"] - stages_s,
        "result_output_s": m["main returned"] - m["run_dub ends"],
        "exit_s": wall_s - m["main returned"],
    }
    out = {name: round(value, 2) for name, value in phases.items()}
    out.update({f"of_which_{name.replace(' ', '_')}_s": value
                for name, value in data["calls"].items()})
    return out


def main() -> None:
    sys.path.insert(0, str(ROOT))
    _install()
    atexit.register(_report)  # before the CLI's own hooks: it runs after them
    from likeness.cli import main as cli

    _mark("cli imported")
    try:
        cli(sys.argv[1:])
    finally:
        _mark("main returned")


if __name__ == "__main__":
    main()
