"""What a render's Prefect session guarantees: its flow run is named and tagged, its task
runs are not tagged (so none waits for the server's answer on a tag concurrency slot),
and when the session closes its logs are on the server, not left queued for a server
that may be gone by the time the process exits."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import pytest


def test_the_labels_tag_the_flow_run_and_not_its_task_runs(
        prefect_server: None, monkeypatch: pytest.MonkeyPatch) -> None:
    import prefect.concurrency._sync as slots
    from prefect.context import FlowRunContext, TaskRunContext

    from flows.prefect_env import flow, run_labels
    from flows.runtime import flow_clock, step_task

    asked: list[list[str]] = []
    acquire = slots.acquire_concurrency_slots_with_lease

    def counted(names: list[str], *args: object, **kwargs: object) -> object:
        asked.append(list(names))
        return acquire(names, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(slots, "acquire_concurrency_slots_with_lease", counted)

    @step_task("look", stage="look")
    def look() -> tuple[str, ...]:
        run = TaskRunContext.get()
        assert run is not None
        return tuple(run.task_run.tags)

    @flow(name="labels-check", persist_result=False)
    def labelled() -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
        run = FlowRunContext.get()
        assert run is not None and run.flow_run is not None
        with flow_clock() as clock:
            inside = look()
        outside = look()  # outside the clock, a task takes the labels as before
        assert "look" in clock.stages_s
        return tuple(run.flow_run.tags), inside, outside

    labels = run_labels("labels-check-1", performer="ava", uses=("dubbing",), language="es")
    flow_tags, inside, outside = labels.run(labelled)
    assert set(labels.tags) <= set(flow_tags)
    assert inside == ()
    assert set(outside) == set(labels.tags)
    assert asked == [[f"tag:{tag}" for tag in outside]]  # only the tagged task asked


def test_the_runs_logs_are_delivered_when_the_session_closes(
        prefect_server: None, tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.context import FlowRunContext

    from flows.prefect_env import flow, offline_prefect
    from likeness.errors import BadInput

    runs: list[UUID] = []

    @flow(name="refused-check", persist_result=False)
    def refused() -> None:
        run = FlowRunContext.get()
        assert run is not None and run.flow_run is not None
        runs.append(run.flow_run.id)
        raise BadInput("refused")  # Prefect logs the failed run at ERROR, to the API too

    with offline_prefect(home=tmp_path), pytest.raises(BadInput):
        refused()
    with get_client(sync_client=True) as client:  # no waiting: it must be there already
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=runs)))
    assert any("refused" in log.message for log in logs), [log.message for log in logs]
