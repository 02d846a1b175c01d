"""What every render flow shares: the studio it runs for, its task kinds, its clock,
and the checks made before a flow starts.

The studio is handed to the tasks through a context variable, not as a flow
parameter: Prefect records parameters, and the studio (database URL, keys) must
not be serialized.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from flows.context import RenderContext
from flows.prefect_env import NO_CACHE, task
from likeness.errors import BadInput, InternalError, LikenessError
from provenance.publish import check_destination

R = TypeVar("R")

IO_RETRIES = 2
IO_RETRY_DELAY_S = 1.0


_STUDIO: ContextVar[RenderContext] = ContextVar("likeness_flow_studio")


@contextmanager
def bound_studio(studio: RenderContext) -> Iterator[RenderContext]:
    """Make ``studio`` the one the flow's tasks use in this context (thread/task local)."""
    token = _STUDIO.set(studio)
    try:
        yield studio
    finally:
        _STUDIO.reset(token)


def current_studio() -> RenderContext:
    try:
        return _STUDIO.get()
    except LookupError:
        raise InternalError("a render flow ran without a studio",
                            hint="call it through run_dub / run_reenact "
                                 "(studio.render_context, ...)") from None


def _retry_unless_user_error(_task: Any, _task_run: Any, state: Any) -> bool:
    """Retry I/O hiccups, never bad input: a missing file stays missing."""
    return not isinstance(getattr(state, "data", None), LikenessError)


def io_task(name: str) -> Callable[[Callable[..., R]], Any]:
    """An idempotent read: retried on unexpected errors, results kept in memory."""
    return task(name=name, retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAY_S,
                retry_condition_fn=_retry_unless_user_error, cache_policy=NO_CACHE,
                persist_result=False)


def step_task(name: str) -> Callable[[Callable[..., R]], Any]:
    """A step with side effects or heavy values: run once, results kept in memory."""
    return task(name=name, cache_policy=NO_CACHE, persist_result=False)


class Stopwatch:
    """Seconds per stage, for the result (and the benchmark)."""

    def __init__(self) -> None:
        self.stages_s: dict[str, float] = {}

    def run(self, stage: str, step: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        began = time.perf_counter()
        try:
            return step(*args, **kwargs)
        finally:
            self.stages_s[stage] = round(self.stages_s.get(stage, 0.0)
                                         + time.perf_counter() - began, 3)


def frames_changed(engine: object) -> int | None:
    """Frames an engine altered, from its `RenderStats` (set when its stream ends)."""
    stats = getattr(engine, "last_stats", None)
    return None if stats is None else int(stats.changed)


def options_error(command: str, exc: ValidationError, *,
                  hints: dict[str, str] | None = None) -> BadInput:
    """The first validation error of a flow's options, as `BadInput` naming the option
    (with the hint given for that option, if any)."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "options"
    return BadInput(f"{command} {where}: {err['msg'].removeprefix('Value error, ')}",
                    hint=(hints or {}).get(where))


def check_paths(*, inputs: dict[str, Path | None], out: Path,
                protected: dict[str, Path]) -> None:
    """Refuse missing inputs and an unusable destination before Prefect even starts.

    ``protected`` names (as the user knows them) the inputs the output must not replace.
    """
    for role, path in inputs.items():
        if path is not None and not path.is_file():
            raise BadInput(f"cannot read {role} {path}: no such file")
    check_destination(out)
    for name, path in protected.items():
        if out.resolve() == path.resolve():  # resolved: `..` and symlinks name the same file
            raise BadInput(f"the output would overwrite the {name}")
