"""What every render flow shares: the studio it runs for, its task kinds, its clock,
the failure bookkeeping after consent, and the checks made before a flow starts.

The studio is handed to the tasks through a context variable, not as a flow
parameter: Prefect records parameters, and the studio (database URL, keys) must
not be serialized.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from flows.context import RenderContext
from flows.prefect_env import NO_CACHE, task, untagged_task_runs
from flows.stages import StageClock
from likeness.errors import BadInput, InternalError, LikenessError
from provenance.leftovers import claim_path
from provenance.publish import (
    check_destination,
    record_failure,
)

if TYPE_CHECKING:
    from consent.models import Decision

if TYPE_CHECKING:
    from models.lipsync.base import LipSync
    from models.reenact.base import Reenactor

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


class RenderResult(BaseModel):
    """What every render flow returns (and the CLI prints with ``--json``): where the
    output went and which render, decision and grants it is recorded under."""

    model_config = ConfigDict(frozen=True)

    out: Path
    render_id: str
    decision_id: str
    grant_ids: tuple[str, ...]
    # seconds per step inside publishing (frames_in, label, watermark_video/_audio,
    # encode, ledger, c2pa); the decode/encode threads overlap, so these may sum past
    # the wall time of the render+publish stage
    publish_stages_s: dict[str, float] = {}


# -- the flow's clock ------------------------------------------------------------------------


_CLOCK: ContextVar[StageClock | None] = ContextVar("likeness_flow_clock", default=None)


@contextmanager
def flow_clock() -> Iterator[StageClock]:
    """Start the clock of one flow run; the tasks it calls add their stages to it.

    Inside it, task runs are untagged (`untagged_task_runs`): the labels belong to the
    render's flow run, and a tagged task run waits for the server's answer on a tag
    concurrency slot before it starts."""
    started = StageClock()
    token = _CLOCK.set(started)
    try:
        with untagged_task_runs():
            yield started
    finally:
        _CLOCK.reset(token)


@contextmanager
def clock(stage: str) -> Iterator[None]:
    """Time the block as ``stage`` of the running flow (nothing outside a flow, e.g. `.fn`)."""
    running = _CLOCK.get()
    if running is None:
        yield
        return
    with running.stage(stage):
        yield


def timed_stage(stage: str) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Decorate a task's function so its body counts as ``stage`` of the flow's clock
    (for tasks with their own Prefect options; `io_task`/`step_task` take ``stage=``)."""
    def decorate(fn: Callable[..., R]) -> Callable[..., R]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> R:
            with clock(stage):
                return fn(*args, **kwargs)
        return timed
    return decorate


def _timed(stage: str | None, fn: Callable[..., R]) -> Callable[..., R]:
    return fn if stage is None else timed_stage(stage)(fn)


# -- task kinds --------------------------------------------------------------------------------


def io_task(name: str, *, stage: str | None = None) -> Callable[[Callable[..., R]], Any]:
    """An idempotent read: retried on unexpected errors, results kept in memory."""
    def decorate(fn: Callable[..., R]) -> Any:
        return task(name=name, retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAY_S,
                    retry_condition_fn=_retry_unless_user_error, cache_policy=NO_CACHE,
                    persist_result=False)(_timed(stage, fn))
    return decorate


def step_task(name: str, *, stage: str | None = None) -> Callable[[Callable[..., R]], Any]:
    """A step with side effects or heavy values: run once, results kept in memory."""
    def decorate(fn: Callable[..., R]) -> Any:
        return task(name=name, cache_policy=NO_CACHE, persist_result=False)(_timed(stage, fn))
    return decorate


@contextmanager
def failures_logged(decision: Decision, *, flow: str, out: Path) -> Iterator[None]:
    """After the gate allowed a render, log a failure of the steps before publishing as
    ``render_failed`` naming the stage it came from (``publish`` logs its own).

    Meanwhile the render holds a claim file beside ``out`` (`provenance.leftovers`): if the
    process is killed here, no ``except`` runs, and the claim is how the next render into
    the folder finds the dead one and gives its budget back. From publishing on, the
    publish path's own temp files play that part."""
    claim = _hold_claim(decision, out)
    try:
        yield
    except BaseException as exc:
        running = _CLOCK.get()
        stage = running.failed_stage if running is not None else None
        reason = exc.diagnostics() if isinstance(exc, LikenessError) else repr(exc)
        record_failure(current_studio().publish, decision, stage=f"{flow}:{stage or 'setup'}",
                       reason=reason, out=out)
        raise
    finally:
        if claim is not None:
            with suppress(OSError):
                claim.unlink()


def _hold_claim(decision: Decision, out: Path) -> Path | None:
    if decision.render_id is None:
        return None
    claim = claim_path(out.absolute(), decision.render_id)
    try:
        os.close(os.open(claim, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600))
    except OSError:
        return None  # a folder we cannot write to fails at publish, with its own error
    return claim


def frames_changed(engine: LipSync | Reenactor) -> int:
    """Frames an engine altered, from its `RenderStats` (set when its stream ends)."""
    return int(engine.last_stats.changed)


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
