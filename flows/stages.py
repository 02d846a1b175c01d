"""The bookkeeping every render command shares, Prefect or not: the clock of its stages,
publish's own steps in seconds, and the sweep of dead renders before a new one.

Why apart from `flows.runtime`: that module imports Prefect (about 2 s on this
machine), and `stamp`, which runs no flow, needs only these.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from flows.context import RenderContext
from provenance.publish import PublishReceipt, sweep_leftovers

ORCHESTRATION_STAGE = "orchestration"


@dataclass
class StageClock:
    """Seconds per stage of one flow run, and the stage a failure came from.

    Tasks time themselves (``io_task(name, stage=...)``), so a flow reads as plain task
    calls; what the run spends outside every stage (Prefect's task-run bookkeeping,
    the glue between tasks) is reported as ``orchestration``.
    """

    stages_s: dict[str, float] = field(default_factory=dict)
    failed_stage: str | None = None
    started: float = field(default_factory=time.perf_counter)
    _failure: BaseException | None = field(default=None, repr=False)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        began = time.perf_counter()
        try:
            yield
        except BaseException as exc:
            if exc is not self._failure:  # the innermost stage names a failure
                self._failure, self.failed_stage = exc, name
            raise
        finally:
            self.stages_s[name] = round(self.stages_s.get(name, 0.0)
                                        + time.perf_counter() - began, 3)

    def report(self) -> dict[str, float]:
        """The stages, plus ``orchestration``: wall time so far not inside any stage."""
        wall = time.perf_counter() - self.started
        outside = max(0.0, wall - sum(self.stages_s.values()))
        return {**self.stages_s, ORCHESTRATION_STAGE: round(outside, 3)}


def publish_stages(receipt: PublishReceipt) -> dict[str, float]:
    return {step: round(ms / 1000, 3) for step, ms in receipt.stages_ms.items()}


def settle_dead_renders(studio: RenderContext, out: Path) -> None:
    """Before asking the gate for a render into ``out``'s folder: close the story of
    renders into it whose process died (``render_failed``, budget given back), so a re-run
    after a killed worker is not refused for the budget the dead render still held."""
    sweep_leftovers(studio.publish, out.absolute().parent)
