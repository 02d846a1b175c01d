"""A render whose process is killed mid-render (what a Prefect worker's death does to the
flow run it is executing), on the studio's long-lived Prefect server: the render is a real
flow run in its own `likeness dub` process, SIGKILLed right after the gate allowed it
(while it speaks and mixes, before publishing), so no ``finally`` runs.

Then: no output appeared; the next render into the folder finds the dead render's claim,
logs ``render_failed`` (stage ``interrupted``, budget released) *before* asking the gate,
so a re-run succeeds on a grant of one render; nothing stray is left in the folder; the
ledger and the registry's budget counters verify. (The kill of a whole worker with its
flow-run processes, on PostgreSQL, is the scale-out test's setting; the render's story is
the same.)
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import ROOT, assert_published, run_cli
from tests.support.media import face_clip
from tests.support.people import add_performer, registered_grant

pytestmark = pytest.mark.slow  # a Prefect server and two dub processes
CLAIM = re.compile(r"^\.ava\.es\.mp4\.(?P<rid>[0-9a-f]{16})\.\d+-\d+\.claim$")
CLAIM_TIMEOUT_S = 600.0
SRT = """1
00:00:00,300 --> 00:00:01,700
Hola, soy Ava.

2
00:00:02,000 --> 00:00:03,800
Este vídeo está doblado con permiso.
"""


@pytest.fixture
def server(sqlite_home: Path) -> Iterator[Path]:
    from flows import server

    server.start(sqlite_home)
    try:
        yield sqlite_home
    finally:
        server.stop(sqlite_home)


def _claims(folder: Path) -> list[re.Match[str]]:
    return [m for name in os.listdir(folder) if (m := CLAIM.match(name))]


def test_a_render_killed_mid_flight_leaves_nothing_and_gives_its_budget_back(
        server: Path, tmp_path: Path) -> None:
    key = add_performer(tmp_path)
    registered_grant(tmp_path, key, "ava", "--language", "es", "--max-renders", "1")
    clip = face_clip(tmp_path / "ava.mp4", seconds=4.0)
    script = tmp_path / "ava.es.srt"
    script.write_text(SRT, encoding="utf-8")
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "ava.es.mp4"
    args = ["dub", str(clip), "--language", "es", "--script", str(script), "--lipsync",
            "viseme", "--performer", "ava", "--out", str(out), "--json"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PREFECT_API_URL", None)  # the render finds the studio's server by itself

    render = subprocess.Popen(  # noqa: S603 - our interpreter and CLI
        [sys.executable, "-c", "from likeness.cli import main; main()", *args], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + CLAIM_TIMEOUT_S
    while not _claims(folder):
        assert render.poll() is None, render.stderr.read() if render.stderr else ""
        assert time.monotonic() < deadline, "the render never reached its decision"
        time.sleep(0.02)
    os.killpg(render.pid, signal.SIGKILL)  # the worker dies: nothing of it runs any more
    render.wait()
    (killed,) = _claims(folder)
    dead_render = killed["rid"]
    assert not out.exists()

    story = run_cli("audit", "show", "--render", dead_render, "--json")
    assert story.code == 0, story.err
    kinds = [e["kind"] for e in story.json()["entries"]]  # type: ignore[index]
    assert "decision" in kinds and "render_failed" not in kinds  # no finally ran

    again = run_cli(*args)  # the grant's one render is back: the re-run is allowed
    assert again.code == 0, again.err
    result = again.json()
    assert_published(out, render_id=result["render_id"],  # type: ignore[index]
                     decision_id=result["decision_id"])  # type: ignore[index]

    story = run_cli("audit", "show", "--render", dead_render, "--json")
    failed = [e["payload"] for e in story.json()["entries"]  # type: ignore[index]
              if e["kind"] == "render_failed"]
    assert len(failed) == 1 and failed[0]["stage"] == "interrupted"
    assert failed[0]["released"] is True
    assert [n for n in os.listdir(folder) if n.startswith(".")] == []  # nothing stray
    assert run_cli("audit", "verify").code == 0  # ledger and budget counters agree
    third = run_cli(*[a if a != str(out) else str(folder / "third.mp4") for a in args])
    assert third.code == 3  # and the budget really is one render
