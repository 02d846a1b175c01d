"""The flows that Prefect deployments run (prefect.yaml): each opens the studio itself.

Why here and not in `flows`: a deployment run starts in a worker process with nothing
but its parameters, so it must open the studio from the environment (``LIKENESS_HOME``,
``LIKENESS_DATABASE_URL``), and only the `likeness` package may do that. The render
flows stay studio-free; these thin entry points bind a studio and call them.

The watch folder: every job file dropped into it is rendered once. A file is picked up
only when it has not changed for ``settle_s`` seconds (a half-written file is left for
the next run), is claimed by an atomic rename into ``processing/`` (two overlapping
runs or two workers cannot both claim it), and ends in ``done/`` (every job published
or already published) or ``failed/`` (a bad file, a denied or failed job), with a JSON
report beside it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flows.prefect_env import flow
from likeness.errors import LikenessError

JOB_FILE_SUFFIXES = (".yaml", ".yml")
SETTLE_S = 5.0  # unchanged this long = fully written (copies over a network share stall)
CLAIMED, DONE, FAILED = "processing", "done", "failed"


@contextmanager
def _studio() -> Iterator[Any]:
    from likeness.settings import load_settings
    from likeness.studio import Studio

    studio = Studio(load_settings())
    try:
        yield studio
    finally:
        studio.close()


@flow(name="batch-deployment", persist_result=False, log_prints=False)
def batch_deployment(jobs_file: str, concurrency: int | None = None,
                     only: list[str] | None = None) -> dict[str, Any]:
    """Run a job file (or only the named jobs of it: one run per job lets several
    workers share a batch) and return its report; raises when any job did not publish,
    so the run shows as failed in Prefect."""
    from flows.batch import run_batch
    from flows.jobs import load_job_file

    jobs = load_job_file(Path(jobs_file))
    if only:
        picked = tuple(j for j in jobs.jobs if j.name in set(only))
        if len(picked) != len(set(only)):
            raise LikenessError(f"{jobs_file} has no job named "
                                f"{', '.join(sorted(set(only) - {j.name for j in picked}))}")
        jobs = jobs.model_copy(update={"jobs": picked})
    with _studio() as studio:
        report = run_batch(studio.render_context, jobs, concurrency=concurrency,
                           name=f"batch-{Path(jobs_file).stem}")
    data = {**report.model_dump(mode="json"), "exit_code": report.exit_code}
    if report.exit_code:
        raise LikenessError(f"batch {jobs_file}: {report.counts()}")
    return data


def _render_one(kind: str, name: str | None, options: dict[str, Any]) -> dict[str, Any]:
    from flows.batch import run_batch
    from flows.jobs import single_job

    out = Path(str(options["out"]))
    job = single_job({"kind": kind, "name": name or out.stem, **options}, base=Path.cwd())
    with _studio() as studio:
        report = run_batch(studio.render_context, job, concurrency=1)
    outcome = report.jobs[0]
    if outcome.status not in ("published", "skipped"):
        raise LikenessError(f"{kind} {outcome.name} {outcome.status}: {outcome.reason}")
    return outcome.model_dump(mode="json")


@flow(name="dub-deployment", persist_result=False, log_prints=False)
def dub_deployment(input: str, language: str, out: str, performer: str,  # noqa: A002
                   script: str | None = None, voice: str | None = None,
                   lipsync: str = "auto", production: str | None = None,
                   name: str | None = None) -> dict[str, Any]:
    """One dub (the options of `likeness dub`; absolute paths: a worker's cwd is its own)."""
    return _render_one("dub", name, {
        "input": input, "language": language, "out": out, "performer": performer,
        "script": script, "voice": voice, "lipsync": lipsync, "production": production})


@flow(name="reenact-deployment", persist_result=False, log_prints=False)
def reenact_deployment(input: str, driver: str, out: str, performer: str,  # noqa: A002
                       production: str | None = None, name: str | None = None
                       ) -> dict[str, Any]:
    return _render_one("reenact", name, {"input": input, "driver": driver, "out": out,
                                         "performer": performer, "production": production})


@flow(name="avatar-deployment", persist_result=False, log_prints=False)
def avatar_deployment(performer: str, language: str, out: str, text: str | None = None,
                      script: str | None = None, still: str | None = None,
                      background: str | None = None, voice: str | None = None,
                      lipsync: str = "auto", subtitles: bool = False,
                      production: str | None = None, name: str | None = None
                      ) -> dict[str, Any]:
    return _render_one("avatar", name, {
        "performer": performer, "language": language, "out": out, "text": text,
        "script": script, "still": still, "background": background, "voice": voice,
        "lipsync": lipsync, "subtitles": subtitles, "production": production})


def settled(path: Path, *, settle_s: float, now: float | None = None) -> bool:
    """Not modified for ``settle_s`` seconds and not empty (a writer may still hold it)."""
    stat = path.stat()
    return stat.st_size > 0 and (now or time.time()) - stat.st_mtime >= settle_s


def claim(path: Path) -> Path | None:
    """Move ``path`` into ``processing/`` atomically; None when someone else got it."""
    target = path.parent / CLAIMED / path.name
    target.parent.mkdir(exist_ok=True)
    try:
        os.rename(path, target)  # atomic on one file system; fails if it is gone
    except FileNotFoundError:
        return None
    return target


def _finish(claimed: Path, report: dict[str, Any], *, ok: bool) -> Path:
    folder = claimed.parent.parent / (DONE if ok else FAILED)
    folder.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    dest = folder / f"{claimed.stem}.{stamp}{claimed.suffix}"
    report_path = dest.with_suffix(".report.json")
    report_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    os.rename(claimed, dest)
    return dest


def process_job_file(claimed: Path, studio: Any, *, concurrency: int | None) -> Path:
    from flows.batch import run_batch
    from flows.jobs import load_job_file

    began = datetime.now(UTC).isoformat()
    try:
        jobs = load_job_file(claimed, base=claimed.parent.parent)
        report = run_batch(studio.render_context, jobs, concurrency=concurrency,
                           name=f"watch-{claimed.stem}")
    except LikenessError as exc:
        return _finish(claimed, {"jobs_file": claimed.name, "started_at": began,
                                 "error": exc.diagnostics(), "exit_code": exc.exit_code},
                       ok=False)
    data = {**report.model_dump(mode="json"), "started_at": began,
            "exit_code": report.exit_code}
    return _finish(claimed, data, ok=report.exit_code == 0)


@flow(name="watch-folder", persist_result=False, log_prints=False)
def watch_folder(folder: str, concurrency: int | None = None,
                 settle_s: float = SETTLE_S) -> list[str]:
    """Render every settled job file in ``folder`` once; returns where each one went."""
    root = Path(folder)
    if not root.is_dir():
        raise LikenessError(f"watch folder {root} does not exist")
    moved: list[str] = []
    candidates = sorted(p for p in root.iterdir()
                        if p.is_file() and p.suffix in JOB_FILE_SUFFIXES
                        and not p.name.startswith("."))
    ready = [p for p in candidates if settled(p, settle_s=settle_s)]
    if not ready:
        return moved
    with _studio() as studio:
        for path in ready:
            claimed = claim(path)
            if claimed is not None:
                moved.append(str(process_job_file(claimed, studio, concurrency=concurrency)))
    return moved
