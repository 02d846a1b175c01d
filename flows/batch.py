"""`likeness batch`: many jobs in one process, each gated and published on its own.

Why one process: Prefect's start-up is paid once and every further flow costs ~0.3 s
(heartbeats off), where a process per job pays 3-15 s each. The batch is a Prefect
flow; each job is a task (``job <name>``) on a thread pool of ``concurrency`` slots,
and the dub and reenact jobs run their own flows as subflows, named after the job and
tagged (performer, use, language, production), so the Prefect UI shows every job with
its stages. A job's failure or denial is its own outcome: it never stops the others.

Idempotent re-runs: after a job publishes, a small record (the SHA-256 of its inputs
and options, and the render id) is kept in the studio home; a re-run skips a job whose
output still verifies intact with that render id for the same fingerprint.

Cancellation (Ctrl-C): the batch stops admitting jobs, and every running job is
refused at its next consent or publish step (the publish path checks the registry
before encoding and again before its ledger entry), so it leaves no output; the
ledger records ``render_cancelled`` for each job the gate had allowed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from consent.models import Decision, RenderRequest
from flows.context import RenderContext
from flows.jobs import AvatarJob, DubJob, JobFile, ReenactJob, StampJob
from flows.prefect_env import RunLabels, flow, offline_prefect
from flows.runtime import bound_studio, current_studio, step_task
from flows.stages import settle_dead_renders
from likeness.errors import BadInput, ConsentDenied, InternalError, LikenessError

Status = Literal["published", "reviewed", "skipped", "denied", "failed", "cancelled"]
STATE_DIR = "batch-state"  # in the studio home: one record per published output
EXIT_DENIED = 3
EXIT_FAILED = 1


def default_concurrency() -> int:
    """Render slots this machine allows: a render keeps about two cores busy (decode,
    engine, encode), so half the cores, at least one."""
    return max(1, (os.cpu_count() or 2) // 2)


class RenderCancelled(LikenessError):
    """The batch was cancelled before this job published (exit 130 for the batch)."""

    exit_code = 130


class JobOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    kind: str
    status: Status
    out: str
    render_id: str | None = None
    decision_id: str | None = None
    reason: str | None = None
    seconds: float = 0.0
    stages_s: dict[str, float] = {}


class BatchReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    jobs_file: str
    concurrency: int
    jobs: tuple[JobOutcome, ...]
    seconds: float

    @property
    def exit_code(self) -> int:
        """0 all published (or skipped as already published), 3 any denied, 1 any failed."""
        statuses = {j.status for j in self.jobs}
        if "denied" in statuses:
            return EXIT_DENIED
        if statuses - {"published", "reviewed", "skipped"}:
            return EXIT_FAILED
        return 0

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for job in self.jobs:
            found[job.status] = found.get(job.status, 0) + 1
        return found


AnyJob = DubJob | AvatarJob | ReenactJob | StampJob
Progress = Callable[[str, str], None]  # (job name, what it is doing now)


# -- what each kind runs ---------------------------------------------------------------------


@dataclass(frozen=True)
class JobRender:
    render_id: str
    decision_id: str
    stages_s: dict[str, float]


@dataclass(frozen=True)
class JobReviewed:
    """A dub job with ``review: true``: its lines were written, nothing was rendered."""

    script: Path
    cues: int
    stages_s: dict[str, float]


def _run_dub(ctx: RenderContext, job: DubJob) -> JobRender | JobReviewed:
    from flows.dub import DubRequest, DubReview, dub_flow

    request = DubRequest.build(video=job.input, language=job.language, out=job.out,
                               script=job.script, performer=job.performer, voice=job.voice,
                               lipsync=job.lipsync, fit=job.fit, production=job.production,
                               review=job.review,
                               subtitles=job.out.with_suffix(".srt")
                               if job.subtitles or job.review else None)
    result = job.run_labels().run(dub_flow, request)
    if isinstance(result, DubReview):
        return JobReviewed(result.script, result.cues, dict(result.stages_s))
    return JobRender(result.render_id, result.decision_id, dict(result.stages_s))


def _run_reenact(ctx: RenderContext, job: ReenactJob) -> JobRender:
    from flows.reenact import ReenactRequest, reenact_flow

    request = ReenactRequest.build(target=job.input, driver=job.driver,
                                   performer=job.performer, out=job.out,
                                   production=job.production)
    result = job.run_labels().run(reenact_flow, request)
    return JobRender(result.render_id, result.decision_id,
                    dict(getattr(result, "stages_s", {}) or {}))


def _run_stamp(ctx: RenderContext, job: StampJob) -> JobRender:
    from flows.stamp import stamp_file

    _decision, receipt = stamp_file(ctx, source=job.input, performer_id=job.performer,
                                    uses=list(job.use), language=job.language,
                                    production=job.production, out=job.out,
                                    face_engine=ctx.settings.face_engine)
    return JobRender(receipt.render_id, receipt.decision_id, {})


def _run_avatar(ctx: RenderContext, job: AvatarJob) -> JobRender:
    """The avatar flow is built separately; it is looked up when a job needs it (an
    installed but broken module fails the job with its own error, not as "absent")."""
    import importlib
    import importlib.util

    if importlib.util.find_spec("flows.avatar") is None:
        raise InternalError("avatar jobs need the avatar flow (flows/avatar.py), which this "
                            "installation does not have")
    avatar = importlib.import_module("flows.avatar")
    run = getattr(avatar, "run_avatar", None)
    build = getattr(getattr(avatar, "AvatarRequest", None), "build", None)
    if run is None or build is None:
        raise InternalError("flows.avatar has no run_avatar(studio, request) and "
                            "AvatarRequest.build(**options) for batch jobs")
    from prefect import tags

    request = build(**job.model_dump(exclude={"name", "kind"}))
    with tags(*job.run_labels().tags):  # run_avatar names its own flow run
        result = run(ctx, request)
    return JobRender(result.render_id, result.decision_id,
                    dict(getattr(result, "stages_s", {}) or {}))


RUNNERS: dict[str, Callable[[RenderContext, Any], JobRender | JobReviewed]] = {
    "dub": _run_dub, "reenact": _run_reenact, "stamp": _run_stamp, "avatar": _run_avatar}


# -- idempotent re-runs ----------------------------------------------------------------------


def fingerprint(job: AnyJob) -> str:
    """SHA-256 over the job's options and the SHA-256 of each input file."""
    from media.digest import sha256_file

    options = job.model_dump(mode="json", exclude={"name"})
    files = {role: sha256_file(path) for role, path in sorted(job.inputs().items())}
    blob = json.dumps({"options": options, "files": files}, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()


def _state_path(ctx: RenderContext, out: Path) -> Path:
    key = hashlib.sha256(str(out.absolute()).encode()).hexdigest()[:32]
    return ctx.settings.home / STATE_DIR / f"{key}.json"


def _remember(ctx: RenderContext, job: AnyJob, print_: str, render_id: str) -> None:
    path = _state_path(ctx, job.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"out": str(job.out), "fingerprint": print_, "render_id": render_id}, fh)
    os.replace(tmp, path)


def verified_render_id(ctx: RenderContext, out: Path) -> str | None:
    """The render id of ``out`` when it verifies intact against this studio, else None."""
    from provenance.c2pa.certs import ROOT_CERT_NAME
    from provenance.verify import verify_file

    if not out.is_file():
        return None
    publish = ctx.publish
    anchor = (publish.c2pa_dir / ROOT_CERT_NAME).read_bytes()
    with publish.session() as session:
        report = verify_file(out, session=session, studio_key=publish.signing_key.verify_key,
                             trust_anchor_pem=anchor, watermark_key=publish.watermark_key)
    return report.render_id if report.status == "intact" else None


def already_published(ctx: RenderContext, job: AnyJob, print_: str) -> str | None:
    try:
        record = json.loads(_state_path(ctx, job.out).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if record.get("fingerprint") != print_ or not job.out.is_file():
        return None
    found = verified_render_id(ctx, job.out)
    return found if found is not None and found == record.get("render_id") else None


# -- cancellation ----------------------------------------------------------------------------


class _JobGuard:
    """One job's view of the studio: refuses to start a gate or publish step once the
    batch is cancelled, and remembers the job's decision (for ``render_cancelled``)."""

    def __init__(self, ctx: RenderContext, cancelled: threading.Event) -> None:
        self.base = ctx
        self.cancelled = cancelled
        self.decision: Decision | None = None
        self.ctx = replace(ctx, authorize=self._authorize,
                           publish=replace(ctx.publish, session=self._session))

    def _check(self) -> None:
        if self.cancelled.is_set():
            raise RenderCancelled("the batch was cancelled before this job published")

    def _authorize(self, request: RenderRequest) -> Decision:
        self._check()
        self.decision = self.base.authorize(request)
        return self.decision

    def _session(self) -> AbstractContextManager[Any]:
        self._check()
        return self.base.publish.session()

    def record_cancelled(self, out: Path) -> None:
        decision = self.decision
        if decision is None or not decision.allowed:
            return
        with self.base.publish.session() as session:
            self.base.publish.ledger.record(session, "render_cancelled", {
                "render_id": decision.render_id, "decision_id": decision.decision_id,
                "output": out.name})


# -- the flow ---------------------------------------------------------------------------------


@dataclass
class _BatchControl:
    """The batch's cancel switch and progress callback, seen by every job thread
    (Prefect's thread pool copies the context variables into each task)."""

    cancelled: threading.Event
    progress: Progress


_CONTROL: ContextVar[_BatchControl | None] = ContextVar("likeness_batch_control", default=None)


def _control() -> _BatchControl:
    return _CONTROL.get() or _BatchControl(threading.Event(), lambda *_: None)


def _outcome(job: AnyJob, status: Status, began: float, **fields: Any) -> JobOutcome:
    return JobOutcome(name=job.name, kind=job.kind, status=status, out=str(job.out),
                      seconds=round(time.perf_counter() - began, 2), **fields)


@step_task("job")
def run_job(job: AnyJob) -> JobOutcome:
    """One job, start to finish; every outcome (even a crash) is returned, never raised."""
    ctx = current_studio()
    control = _control()
    began = time.perf_counter()
    if control.cancelled.is_set():
        return _outcome(job, "cancelled", began, reason="the batch was cancelled")
    guard = _JobGuard(ctx, control.cancelled)
    try:
        control.progress(job.name, "checking")
        print_ = fingerprint(job)
        done = already_published(ctx, job, print_)
        if done is not None:
            control.progress(job.name, "skipped")
            return _outcome(job, "skipped", began, render_id=done,
                            reason="already published for the same inputs")
        control.progress(job.name, "rendering")
        settle_dead_renders(ctx, job.out)  # a killed earlier run's budget comes back first
        with bound_studio(guard.ctx):
            rendered = RUNNERS[job.kind](guard.ctx, job)
        if isinstance(rendered, JobReviewed):  # lines to proofread; no render, no budget
            control.progress(job.name, "reviewed")
            return _outcome(job, "reviewed", began, stages_s=rendered.stages_s,
                            reason=f"{rendered.cues} line(s) written to {rendered.script.name}"
                                   "; correct them and re-run with script:")
        _remember(ctx, job, print_, rendered.render_id)
        control.progress(job.name, "published")
        return _outcome(job, "published", began, render_id=rendered.render_id,
                        decision_id=rendered.decision_id, stages_s=rendered.stages_s)
    except Exception as exc:  # noqa: BLE001 - one job's crash is its outcome, not the batch's
        return _failed_outcome(job, exc, guard, control, began)


def _failed_outcome(job: AnyJob, exc: Exception, guard: _JobGuard, control: _BatchControl,
                    began: float) -> JobOutcome:
    """Cancelled (the guard refused, or any failure once the batch is cancelled: it is
    the cancellation that stopped it), denied, or failed."""
    if isinstance(exc, RenderCancelled) or control.cancelled.is_set():
        guard.record_cancelled(job.out)
        control.progress(job.name, "cancelled")
        return _outcome(job, "cancelled", began, reason="the batch was cancelled",
                        **_ids(guard))
    if isinstance(exc, ConsentDenied):
        control.progress(job.name, "denied")
        reasons = "; ".join(exc.reasons) if exc.reasons else exc.message
        return _outcome(job, "denied", began, reason=reasons, **_ids(guard))
    control.progress(job.name, "failed")
    reason = exc.diagnostics() if isinstance(exc, LikenessError) else repr(exc)
    return _outcome(job, "failed", began, reason=reason, **_ids(guard))


def _ids(guard: _JobGuard) -> dict[str, Any]:
    d = guard.decision
    return {} if d is None else {"render_id": d.render_id or None,
                                 "decision_id": d.decision_id}


@flow(name="batch", persist_result=False, log_prints=False)
def batch_flow(jobs: JobFile, concurrency: int) -> BatchReport:
    """Submit every job to the thread pool (``concurrency`` slots) and collect outcomes."""
    control = _control()
    began = time.perf_counter()
    futures = [run_job.with_options(name=f"job {job.name}").submit(job) for job in jobs.jobs]
    outcomes: list[JobOutcome] = []
    try:
        for future in futures:
            outcomes.append(future.result())
    except KeyboardInterrupt:
        control.cancelled.set()
        for future in futures[len(outcomes):]:
            future.wait()
        raise
    return BatchReport(jobs_file=str(jobs.path), concurrency=concurrency,
                       jobs=tuple(outcomes), seconds=round(time.perf_counter() - began, 2))


@contextmanager
def _controlled(progress: Progress | None) -> Iterator[_BatchControl]:
    control = _BatchControl(threading.Event(), progress or (lambda *_: None))
    token = _CONTROL.set(control)
    try:
        yield control
    finally:
        _CONTROL.reset(token)


def run_batch(studio: RenderContext, jobs: JobFile, *, concurrency: int | None = None,
              progress: Progress | None = None, name: str | None = None) -> BatchReport:
    """Run a validated job file (`flows.jobs.load_job_file`) as one Prefect flow run.

    Ctrl-C cancels the batch (see the module docstring) and re-raises KeyboardInterrupt.
    """
    from prefect.task_runners import ThreadPoolTaskRunner

    slots = concurrency or default_concurrency()
    if slots < 1:
        raise BadInput("--concurrency must be at least 1")
    configured = batch_flow.with_options(task_runner=ThreadPoolTaskRunner(max_workers=slots))
    labels = RunLabels(name=name or f"batch-{jobs.path.stem}", tags=("kind:batch",))
    with offline_prefect(home=studio.settings.home), bound_studio(studio), \
            _controlled(progress):
        return labels.run(configured, jobs, slots)
