"""`likeness batch JOBS.yaml`: every job of a job file in one process (see `flows.batch`).

The whole file is validated before Prefect starts (a bad job is reported with its line
and field, exit 2, nothing rendered). Exit codes: 0 when every job published (or was
already published, or wrote its lines for review), 3 when any was denied, 1 when any
failed otherwise, 130 on Ctrl-C.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from likeness.cli.common import JsonOpt, literal, open_studio
from likeness.output import emit, stderr, stdout

if TYPE_CHECKING:
    from flows.batch import BatchReport

STATUS_STYLE = {"published": "green", "reviewed": "cyan", "skipped": "green", "denied": "yellow",
                "failed": "red", "cancelled": "red"}


@contextmanager
def job_progress(names: list[str], *, quiet: bool) -> Iterator[Callable[[str, str], None]]:
    """One line per job on stderr with what it is doing; silent with --json or no terminal."""
    from rich.progress import Progress, SpinnerColumn, TimeElapsedColumn

    if quiet or not stderr.is_terminal:
        yield lambda name, stage: None
        return
    with Progress(SpinnerColumn(), "{task.description}", TimeElapsedColumn(),
                  console=stderr) as progress:
        rows = {name: progress.add_task(f"{literal(name)}: queued", total=1)
                for name in names}

        def update(name: str, stage: str) -> None:
            finished = stage in STATUS_STYLE
            progress.update(rows[name], description=f"{literal(name)}: {stage}",
                            completed=1 if finished else 0)

        yield update


def print_summary(report: BatchReport) -> None:
    from rich.table import Table

    table = Table(title=f"batch {literal(report.jobs_file)}")
    for column in ("job", "kind", "status", "output", "render", "s", "reason"):
        table.add_column(column)
    for job in report.jobs:
        style = STATUS_STYLE[job.status]
        table.add_row(literal(job.name), job.kind, f"[{style}]{job.status}[/]",
                      literal(Path(job.out).name), job.render_id or "", f"{job.seconds:.1f}",
                      literal(job.reason or ""))
    stdout.print(table)
    counts = ", ".join(f"{n} {status}" for status, n in sorted(report.counts().items()))
    stdout.print(f"{len(report.jobs)} jobs in {report.seconds:.1f} s: {counts}; outputs in "
                 f"{literal(Path(report.jobs[0].out).parent)}" if report.jobs else "no jobs")


def batch(
    jobs_file: Annotated[Path, typer.Argument(help="The job file.", metavar="JOBS.yaml")],
    concurrency: Annotated[int | None, typer.Option(
        "--concurrency", min=1, help="Jobs at once (default: half the CPU cores).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Render every job of a job file; each is gated and published on its own."""
    from flows.batch import run_batch
    from flows.jobs import load_job_file

    jobs = load_job_file(jobs_file)  # every bad job reported before anything renders
    studio = open_studio()
    if not as_json:
        stderr.print(f"{len(jobs.jobs)} jobs from {literal(jobs_file.name)} (Prefect flow)…")
    with job_progress([j.name for j in jobs.jobs], quiet=as_json) as progress:
        report = run_batch(studio.render_context, jobs, concurrency=concurrency,
                           progress=progress)
    data = {**report.model_dump(mode="json"), "exit_code": report.exit_code}
    emit(data, as_json=as_json, render=lambda: print_summary(report))
    if report.exit_code:
        raise typer.Exit(report.exit_code)
