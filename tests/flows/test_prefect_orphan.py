"""Issue 16 C6: a `likeness dub` killed with SIGKILL left its temporary Prefect server
(a `python -m uvicorn` child) running for good. The child now starts under
`flows.orphan_guard`, which stops it once its parent is gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows.orphan_guard import GUARD_MODULE, guarded_command
from tests.support.cli import ROOT
from tests.support.media import face_clip
from tests.support.people import add_performer, registered_grant

START_TIMEOUT_S = 240.0  # the temporary server takes 12-15 s on an idle machine
STOP_TIMEOUT_S = 30.0


def _children(parent: int) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
            found.append((int(entry.name), cmdline))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_guarded_command_wraps_only_uvicorn() -> None:
    python = sys.executable
    assert guarded_command([python, "-m", "uvicorn", "--port", "1"], parent=42) == [
        python, "-m", GUARD_MODULE, "42", "-", "uvicorn", "--port", "1"]
    assert guarded_command([python, "-m", "uvicorn"], parent=42, log=Path("/x/s.log")) == [
        python, "-m", GUARD_MODULE, "42", "/x/s.log", "uvicorn"]
    assert guarded_command([python, "-c", "pass"], parent=42) == [python, "-c", "pass"]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_c6_sigkill_of_dub_does_not_orphan_its_prefect_server(sqlite_home: Path,
                                                              tmp_path: Path) -> None:
    key = add_performer(tmp_path)
    registered_grant(tmp_path, key, "ava", "--language", "es")
    clip = face_clip(tmp_path / "ava.mp4", seconds=3.0)
    script = tmp_path / "es.srt"
    script.write_text("1\n00:00:00,200 --> 00:00:02,000\nHola a todos.\n")
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env["PYTHONPATH"] = str(ROOT)
    cli = subprocess.Popen(
        [sys.executable, "-c", "import sys; from likeness.cli import main; main(sys.argv[1:])",
         "dub", str(clip), "--language", "es", "--performer", "ava", "--script", str(script),
         "--out", str(tmp_path / "out.mp4")],
        env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server: int | None = None
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while server is None and time.monotonic() < deadline and cli.poll() is None:
            server = next((pid for pid, cmd in _children(cli.pid)
                           if GUARD_MODULE in cmd and "uvicorn" in cmd), None)
            time.sleep(0.2)
        assert server is not None, "the dub never started a guarded temporary server"
        cli.send_signal(signal.SIGKILL)
        cli.wait(timeout=30)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while _alive(server) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(server), "the temporary Prefect server outlived the killed dub"
    finally:
        if cli.poll() is None:
            cli.kill()
        if server is not None and _alive(server):
            os.kill(server, signal.SIGKILL)
