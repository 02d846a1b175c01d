"""The temporary Prefect server dies with the process that started it.

Prefect's temporary (ephemeral) server is a child ``python -m uvicorn``; Prefect stops it
from an ``atexit`` hook, which a SIGKILL of the CLI (or the OOM killer) never runs, so
a killed `likeness dub` left its server running for good (issue 16 C6). The child
therefore starts through this module instead: ``python -m flows.orphan_guard PID LOG
uvicorn ARGS...`` runs uvicorn as ``-m uvicorn`` would, with a daemon thread that
polls its parent, and its output going to LOG (in the studio's Prefect home): what the
server prints while it is stopped -- tracebacks of requests cut short included -- is
no business of the user's terminal (issue 16 D14). When the parent is gone (this
process was re-parented, or PID no longer runs) the thread sends the server SIGTERM
-- uvicorn's own graceful shutdown -- and, should that hang, exits hard after `GRACE_S`.

Why polling and not ``PR_SET_PDEATHSIG``: the kernel sends that signal when the
*thread* that forked the child ends, and Prefect may start its server from a worker
thread that ends long before the CLI does. A poll of ``getppid`` costs nothing and
sees the process, not a thread. `guard_temporary_server` makes Prefect start its
server this way; it is installed by `flows.prefect_env.offline_prefect`.

This module imports only the standard library: it runs first in the child, before
uvicorn loads Prefect's app.
"""

from __future__ import annotations

import os
import runpy
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

POLL_S = 0.5
GRACE_S = 10.0
GUARD_MODULE = "flows.orphan_guard"


def _parent_gone(parent: int) -> bool:
    if os.getppid() != parent:
        return True
    try:
        os.kill(parent, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def watch_parent(parent: int, *, poll_s: float = POLL_S, grace_s: float = GRACE_S) -> None:
    """Block until ``parent`` is gone, then stop this process (SIGTERM, then exit)."""
    while not _parent_gone(parent):
        time.sleep(poll_s)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(grace_s)
    os._exit(1)


def guarded_command(args: Sequence[str], *, parent: int, log: Path | None = None
                    ) -> list[str]:
    """``[python, -m, uvicorn, ...]`` -> ``[python, -m, flows.orphan_guard, PARENT, LOG,
    uvicorn, ...]`` (LOG ``-``: keep the inherited output); any other command is returned
    as it is."""
    command = list(args)
    if len(command) >= 3 and command[1:3] == ["-m", "uvicorn"]:
        return [command[0], "-m", GUARD_MODULE, str(parent), str(log or "-"), *command[2:]]
    return command


class _GuardedSubprocess:
    """Stands in for the ``subprocess`` module inside Prefect's server module: `Popen`
    starts uvicorn under the guard, everything else is the real module."""

    log: Path | None = None

    def Popen(self, args: Sequence[str], *rest: Any, **kwargs: Any) -> subprocess.Popen[Any]:  # noqa: N802 -- the name Prefect calls
        return subprocess.Popen(guarded_command(args, parent=os.getpid(), log=self.log),
                                *rest, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(subprocess, name)


def guard_temporary_server(log: Path | None = None) -> None:
    """Make Prefect start its temporary server under this guard, writing its output to
    ``log`` (idempotent; the latest ``log`` wins)."""
    from prefect.server.api import server as prefect_server

    if not isinstance(prefect_server.subprocess, _GuardedSubprocess):
        prefect_server.subprocess = _GuardedSubprocess()  # type: ignore[assignment]
    prefect_server.subprocess.log = log


def _output_to(log: str) -> None:
    if log == "-":
        return
    try:
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    except OSError:  # a home that went away: better the terminal than no server
        return
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def main(argv: Sequence[str]) -> None:
    """``PARENT_PID LOG MODULE ARGS...``: watch the parent, run MODULE as ``-m`` would."""
    if len(argv) < 3:
        raise SystemExit("usage: python -m flows.orphan_guard PARENT_PID LOG MODULE [ARGS...]")
    parent, log, module = int(argv[0]), argv[1], argv[2]
    _output_to(log)
    threading.Thread(target=watch_parent, args=(parent,), name="likeness-orphan-guard",
                     daemon=True).start()
    sys.argv = [module, *argv[3:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
