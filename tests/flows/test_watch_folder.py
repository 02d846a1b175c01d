"""The watch folder (the scheduled `watch` deployment's flow), run in-process: a settled
job file is rendered once and moved to done/ with its report; a file still being written
is left alone; a bad file goes to failed/ with the reason."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.support.cli import run_cli
from tests.support.media import face_clip
from tests.support.people import add_performer, registered_grant

STAMP_JOB = """jobs:
  - name: {name}
    kind: stamp
    input: media/ava.mp4
    use: [dubbing]
    language: es
    performer: ava
    out: out/{name}.mp4
"""


@pytest.fixture
def inbox(sqlite_home: Path, tmp_path: Path) -> Path:
    key = add_performer(tmp_path)
    registered_grant(tmp_path, key, "ava", "--language", "es", "--max-renders", "10")
    folder = tmp_path / "inbox"
    (folder / "media").mkdir(parents=True)
    (folder / "out").mkdir()
    face_clip(folder / "media" / "ava.mp4", seconds=3.0)
    return folder


def _drop(folder: Path, name: str, text: str, *, age_s: float) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    when = time.time() - age_s
    os.utime(path, (when, when))
    return path


def test_watch_folder_renders_each_settled_file_once(prefect_server: None, inbox: Path) -> None:
    from likeness.deployments import watch_folder

    _drop(inbox, "ready", STAMP_JOB.format(name="ready"), age_s=60)
    _drop(inbox, "writing", STAMP_JOB.format(name="writing"), age_s=0)
    _drop(inbox, "broken", "jobs: [oops\n", age_s=60)

    moved = watch_folder(str(inbox), settle_s=10)
    reports = {p.parent.name: json.loads(p.read_text()) for p in inbox.glob("*/*.report.json")}
    assert sorted(Path(m).parent.name for m in moved) == ["done", "failed"]
    assert (inbox / "writing.yaml").is_file()  # half-written: left for the next run
    assert sorted(p.name for p in (inbox / "out").iterdir()) == ["ready.mp4"]
    assert run_cli("verify", inbox / "out" / "ready.mp4").code == 0

    reports = {p.parent.name: json.loads(p.read_text()) for p in inbox.glob("*/*.report.json")}
    assert reports["done"]["exit_code"] == 0
    assert reports["done"]["jobs"][0]["status"] == "published"
    assert reports["failed"]["exit_code"] == 2 and "not valid YAML" in reports["failed"]["error"]
    assert not list((inbox / "processing").iterdir())

    published = lambda: [e for e in run_cli("audit", "show", "--json").json()["entries"]  # noqa: E731
                         if e["kind"] == "render_published"]
    assert len(published()) == 1
    ready_mtime = (inbox / "out" / "ready.mp4").stat().st_mtime_ns
    _drop(inbox, "writing", (inbox / "writing.yaml").read_text(encoding="utf-8"), age_s=60)
    second = watch_folder(str(inbox), settle_s=10)  # the writer finished: now it is picked up
    assert [Path(m).parent.name for m in second] == ["done"]
    assert watch_folder(str(inbox), settle_s=10) == []  # nothing new: nothing rendered twice
    assert len(published()) == 2
    assert (inbox / "out" / "ready.mp4").stat().st_mtime_ns == ready_mtime
