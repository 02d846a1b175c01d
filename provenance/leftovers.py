"""What a publish that died leaves behind, and how the next one cleans it up.

``kill -9`` (or a power cut) during a publish runs no ``finally``: the hidden temp
files stay in the output folder, the render's budget stays reserved, and if it died
after the `render_published` entry the ledger names a file that never appeared. So
every temp file names its owner (process id and that process's start time, which
tells a live owner from a recycled pid), and each publish first sweeps the folder it
writes to: a temp file whose owner is gone is removed, and unless the ledger already
says how that render ended, a `render_failed` entry (stage ``interrupted``) is
recorded and its reservation released.

A render killed *before* it publishes (while it speaks, mixes or plans) has no temp
files yet, so from the gate's decision on it holds a *claim*, an empty hidden file named
the same way (``.OUT.<render>.<owner>.claim``); a claim whose owner is gone is settled
like a temp file. Render commands and batch jobs settle the folder before they ask the
gate, so the budget a dead render held is back before the re-run needs it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from sqlalchemy.orm import Session

from consent.registry import Registry
from provenance.ledger.log import entries_for_render

_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<rid>[0-9a-f]{16})\.(?P<pid>\d+)-(?P<start>\d+)"
                   r"\.(?:encoded\.mp4|signed\.mp4|claim)$")


@cache
def _start_ticks(pid: int) -> int | None:
    """A process's start time in clock ticks since boot (Linux /proc), None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])  # field 22: starttime


def owner_tag() -> str:
    """``PID-STARTTIME`` of this process, as temp file names carry it."""
    pid = os.getpid()
    return f"{pid}-{_start_ticks(pid) or 0}"


def temp_paths(out: Path, render_id: str) -> tuple[Path, Path]:
    """The encoded and the signed temp files of one publish, named after their owner."""
    stem = f".{out.name}.{render_id}.{owner_tag()}"
    return out.with_name(stem + ".encoded.mp4"), out.with_name(stem + ".signed.mp4")


def claim_path(out: Path, render_id: str) -> Path:
    """The claim a render holds on ``out`` from its decision until it publishes or fails."""
    return out.with_name(f".{out.name}.{render_id}.{owner_tag()}.claim")


def _owner_alive(pid: int, start: int) -> bool:
    if pid == os.getpid():
        return True
    _start_ticks.cache_clear()
    ticks = _start_ticks(pid)
    return ticks is not None and (start == 0 or ticks == start)


@dataclass(frozen=True)
class Leftover:
    path: Path
    output: str
    render_id: str


def stale_leftovers(folder: Path) -> list[Leftover]:
    """Temp files in ``folder`` whose publishing process no longer runs."""
    found: list[Leftover] = []
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    for name in names:
        match = _TEMP.match(name)
        if match and not _owner_alive(int(match["pid"]), int(match["start"])):
            found.append(Leftover(folder / name, match["name"], match["rid"]))
    return found


def settle_interrupted(session: Session, ledger: object, render_ids: Sequence[tuple[str, str]]
                       ) -> list[str]:
    """Record `render_failed` (released) for each (render id, output) whose ledger story
    has no end yet; returns the render ids settled."""
    settled: list[str] = []
    for rid, output in render_ids:
        rows = entries_for_render(session, int(rid, 16))
        kinds = [r.kind for r in rows]
        if "render_failed" in kinds:
            continue
        decision = next((json.loads(r.body)["payload"] for r in rows if r.kind == "decision"),
                        None)
        grants = list(decision.get("grant_ids") or []) if decision else []
        registry = Registry(session)
        for gid in grants:
            registry.release_render(gid)
        ledger.record(session, "render_failed", {  # type: ignore[attr-defined]
            "render_id": rid, "decision_id": decision.get("decision_id") if decision else None,
            "stage": "interrupted", "released": True, "output": output,
            "reason": "the rendering process died; what it left was removed by the next "
                      "render into the folder"})
        settled.append(rid)
    return settled


def remove(leftovers: Sequence[Leftover]) -> None:
    for item in leftovers:
        with suppress(OSError):
            item.path.unlink()
