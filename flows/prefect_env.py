"""Prefect, offline and quiet: the one place the render flows import Prefect from.

Why a module of its own: Prefect reads its logging level and telemetry switches
when it is first imported, so the offline defaults must be in the environment
*before* ``import prefect``. Importing ``flow``/``task`` from here guarantees that
order (the CLI imports ``flows.dub`` only inside the ``dub`` command, so
``likeness --help`` and the consent commands never pay for Prefect).

What the defaults do (measured on this machine, see docs STACK "Prefect 3 offline"):
no outside traffic (``DO_NOT_TRACK``, server analytics off), a start-up timeout
long enough for a temporary local server on two cores, quiet logs, and no block
registration at server start (~2 s saved). A variable the user already set wins.

``offline_prefect(home=...)`` is the per-run part: Prefect's state lives in the
studio home (``$LIKENESS_HOME/prefect``) and the flow heartbeat thread, whose join
costs ~1 s per synchronous run, is off. ``PREFECT_API_URL`` from the environment
names the user's server; otherwise the studio's long-lived server (`flows.server`,
``likeness server start``) is used when it runs, and else Prefect starts its temporary
local server (ephemeral mode), with the user's folder kept off its ``sys.path`` and a
watch on this process, so a SIGKILL of the CLI does not orphan it (flows.orphan_guard).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from flows.orphan_guard import guard_temporary_server
from flows.server import PREFECT_SUBDIR, running_server_url
from likeness.errors import LikenessError

R = TypeVar("R")

OFFLINE_ENV_DEFAULTS: dict[str, str] = {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_API_BLOCKS_REGISTER_ON_START": "false",
}
SAFE_PATH_VARIABLE = "PYTHONSAFEPATH"
TEMPORARY_SERVER_LOG = "temporary-server.log"  # what the temporary server prints


def apply_offline_env() -> dict[str, str]:
    """Put the offline defaults into ``os.environ`` (keeping any value already set)."""
    return {name: os.environ.setdefault(name, value)
            for name, value in OFFLINE_ENV_DEFAULTS.items()}


apply_offline_env()

from prefect import flow, task  # noqa: E402  (must follow the environment defaults)
from prefect.cache_policies import NONE as NO_CACHE  # noqa: E402

__all__ = [
    "NO_CACHE",
    "RunLabels",
    "OFFLINE_ENV_DEFAULTS",
    "apply_offline_env",
    "flow",
    "offline_prefect",
    "prefect_home",
    "run_labels",
    "task",
    "untagged_task_runs",
]


def prefect_home(likeness_home: Path) -> Path:
    """Where Prefect keeps its database and logs for a studio."""
    return likeness_home / PREFECT_SUBDIR


class _HideExpectedErrors(logging.Filter):
    """Drop Prefect's console records about a user-facing `LikenessError`.

    Prefect logs every failed task and flow run with its traceback; for bad input or
    a denied consent the CLI prints one ``error:`` line instead. Only the console
    handler is filtered: the API log handler still receives the records, so the run
    history in Prefect keeps them. Other errors (bugs) still print in full.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("prefect"):
            return True
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, LikenessError):
            return False
        message = record.getMessage()
        return not any(f"{name}:" in message or f"{name}(" in message
                       for name in _error_names())


def _error_names() -> set[str]:
    names: set[str] = set()
    pending: list[type] = [LikenessError]
    while pending:
        cls = pending.pop()
        names.add(cls.__name__)
        pending.extend(cls.__subclasses__())
    return names


def _console_handlers() -> list[logging.Handler]:
    """Prefect puts its console handler on the root logger; take every non-API one."""
    handlers: list[logging.Handler] = []
    for name in ("", "prefect", "prefect.flow_runs", "prefect.task_runs"):
        for handler in logging.getLogger(name).handlers:
            if type(handler).__name__ != "APILogHandler" and handler not in handlers:
                handlers.append(handler)
    return handlers


@contextmanager
def offline_prefect(*, home: Path, quiet_expected_errors: bool = True) -> Iterator[None]:
    """Run flows inside with the studio's Prefect home and no heartbeat thread, against
    the studio's long-lived server when one runs (`likeness server start`).

    ``PREFECT_HOME`` and ``PREFECT_API_URL`` from the environment win over the studio
    defaults, so a user can share one Prefect home (or their own server) between studios.
    Without either, Prefect starts its temporary in-process server (12-15 s).
    """
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        PREFECT_HOME,
        temporary_settings,
    )

    updates: dict[object, object] = {PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
    temporary_server = "PREFECT_API_URL" not in os.environ
    if temporary_server:
        url = running_server_url(home)
        if url is not None:
            updates[PREFECT_API_URL] = url
            temporary_server = False
    if temporary_server:  # its child must not outlive a killed CLI (flows.orphan_guard)
        folder = Path(os.environ.get("PREFECT_HOME") or prefect_home(home))
        folder.mkdir(parents=True, exist_ok=True)
        guard_temporary_server(folder / TEMPORARY_SERVER_LOG)
    if "PREFECT_HOME" not in os.environ:
        folder = prefect_home(home)
        folder.mkdir(parents=True, exist_ok=True)
        updates[PREFECT_HOME] = folder
    hider = _HideExpectedErrors() if quiet_expected_errors else None
    handlers = _console_handlers() if hider is not None else []
    for handler in handlers:
        handler.addFilter(hider)  # type: ignore[arg-type]
    try:
        with (temporary_settings(updates=updates),  # type: ignore[arg-type]
              _safe_child_path(), _session_open()):
            yield
    finally:
        for handler in handlers:
            handler.removeFilter(hider)  # type: ignore[arg-type]


_SESSIONS_LOCK = threading.Lock()
_sessions_open = 0  # offline_prefect sessions running in this process, on any thread


@contextmanager
def _session_open() -> Iterator[None]:
    """Count the session; the last one to close in the process delivers the queued run
    records (`_deliver_run_records`): draining stops Prefect's shipping threads, which
    another thread's runs (an avatar job's own session inside a batch) still feed."""
    global _sessions_open
    with _SESSIONS_LOCK:
        _sessions_open += 1
    try:
        yield
    finally:
        with _SESSIONS_LOCK:
            _sessions_open -= 1
            last = _sessions_open == 0
        if last:
            _deliver_run_records()


def _deliver_run_records() -> None:
    """Send the logs and events the runs left queued, to the server they were meant for.

    Why: Prefect ships them from background threads in batches (logs every 2 s) and
    drains those threads only at interpreter exit. A process that outlives the server
    it rendered against (a test, a script that stops the studio's server) then sends
    them to a closed port and prints ``Error logging to API``; a CLI process pays the
    same drain here instead of at its exit. Bounded: Prefect gives each drain 5 s."""
    import asyncio

    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    try:
        asyncio.get_running_loop()
    except RuntimeError:  # a synchronous caller (the CLI, a batch): wait for both queues
        APILogWorker.drain_all(timeout=5)
        EventsWorker.drain_all(timeout=5)
    # inside an event loop a drain would block it; the exit-time drain stays in charge


@contextmanager
def _safe_child_path() -> Iterator[None]:
    """Children started meanwhile (the temporary Prefect server runs ``python -m
    uvicorn``) must not import from the user's current folder: with ``-m`` Python puts
    the cwd first on ``sys.path``, so a ``secrets.py`` there would run. PYTHONSAFEPATH
    (Python 3.11+) keeps it off; set only for the run, not for the whole process."""
    saved = os.environ.get(SAFE_PATH_VARIABLE)
    os.environ[SAFE_PATH_VARIABLE] = "1"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(SAFE_PATH_VARIABLE, None)
        else:
            os.environ[SAFE_PATH_VARIABLE] = saved


@dataclass(frozen=True)
class RunLabels:
    """A render's flow-run name and tags, so the Prefect UI lists it under the job or
    output it makes and filters it by performer, use, language and production."""

    name: str
    tags: tuple[str, ...]

    def run(self, render_flow: Callable[..., R], *args: Any) -> R:
        """Call ``render_flow`` as a run with these labels (Prefect 3 flows take their tags
        from the ``tags`` context, which the run's task runs inherit)."""
        from prefect import tags

        with tags(*self.tags):
            return render_flow.with_options(flow_run_name=self.name)(*args)  # type: ignore[attr-defined]


@contextmanager
def untagged_task_runs() -> Iterator[None]:
    """Task runs started inside carry no tags (the flow run keeps the render's labels).

    Why: Prefect treats every task-run tag as a possible tag concurrency limit and asks
    the server for a slot of each (one HTTP round trip through its own event-loop thread)
    before the task may start, even when no limit exists. A dub's 10-13 task runs
    inheriting the render's four tags spent 0.3-6 s waiting on those answers on this
    2-core machine (benchmarks/server_bench.py), longer the busier the server. Render
    slots are the work pool's concurrency limit (docs/scale-out.md), never a tag's, and
    the UI finds a run's task runs by their flow run, so the tags stay on the flow run
    only. Subflow runs started inside still take their tags from `RunLabels.run`."""
    from prefect.context import TagsContext

    with TagsContext(current_tags=set()):
        yield


def run_labels(name: str, *, performer: str, uses: tuple[str, ...] | list[str],
               language: str | None = None, production: str | None = None,
               kind: str | None = None) -> RunLabels:
    tags = [f"performer:{performer}", *(f"use:{u}" for u in uses)]
    tags += [f"{label}:{value}" for label, value in
             (("language", language), ("production", production), ("kind", kind)) if value]
    return RunLabels(name=name, tags=tuple(tags))
