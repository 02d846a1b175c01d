"""Issue 16 D14: subtitle and option errors of `likeness dub` come before Prefect starts
(they came 15-25 s late, from inside the flow run), and a dub that fails inside the
flow prints no traceback from the temporary server's shutdown."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows.prefect_env import TEMPORARY_SERVER_LOG
from tests.support.cli import ROOT, run_cli
from tests.support.media import face_clip
from tests.support.people import add_performer, registered_grant

GOOD_SRT = "1\n00:00:00,200 --> 00:00:02,000\nHola a todos.\n"


@pytest.fixture
def dub_inputs(sqlite_home: Path, tmp_path: Path) -> Path:
    key = add_performer(tmp_path)
    registered_grant(tmp_path, key, "ava", "--language", "fr")
    face_clip(tmp_path / "ava.mp4", seconds=3.0)
    (tmp_path / "es.srt").write_text(GOOD_SRT)
    (tmp_path / "bad.srt").write_text("1\n00:00:00,200 --> garbage\nHola\n")
    (tmp_path / "late.srt").write_text("1\n00:00:09,200 --> 00:00:12,000\nHola\n")
    return tmp_path


CASES = {
    "unparsable subtitles": (["--script", "bad.srt"], "has no cues"),
    "cue after the video": (["--script", "late.srt"], "ends after the video"),
    "subtitles format": (["--script", "es.srt", "--subtitles", "out.txt"], "must be a"),
    "lip-sync name": (["--script", "es.srt", "--lipsync", "bogus"], "dub lipsync"),
    "lip-sync licence": (["--script", "es.srt", "--lipsync", "wav2lip"], "wav2lip"),
    "voice": (["--script", "es.srt", "--voice", "nosuchvoice"], "dub voice"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_d14_option_errors_come_before_prefect(case: str, dub_inputs: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def no_prefect(*args: object, **kwargs: object) -> None:
        raise AssertionError("the dub flow (and its Prefect server) started")

    monkeypatch.setattr("flows.dub.run_dub", no_prefect)
    monkeypatch.chdir(dub_inputs)
    extra, message = CASES[case]
    r = run_cli("dub", "ava.mp4", "--language", "es", "--performer", "ava",
                "--out", "out.mp4", *extra)
    assert r.code == 2, r.err
    assert r.err.startswith("error: ") and message in r.err, r.err
    assert "Traceback" not in r.err
    assert not (dub_inputs / "out.mp4").exists()


def test_d14_failing_dub_prints_no_traceback_from_the_server_shutdown(
        dub_inputs: Path, sqlite_home: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from likeness.cli import main; main(sys.argv[1:])",
         "dub", "ava.mp4", "--language", "es", "--performer", "ava", "--script", "es.srt",
         "--out", "out.mp4"],
        env=env, cwd=dub_inputs, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 3, proc.stderr  # denied inside the flow: the grant is for fr
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "consent denied" in errors[0]
    assert (sqlite_home / "prefect" / TEMPORARY_SERVER_LOG).is_file()  # its output went here
