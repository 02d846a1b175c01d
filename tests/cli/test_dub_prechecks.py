"""Issue 16 D14: subtitle and media errors of `dub` come before any flow starts (they
used to arrive 15-25 s late, from inside a Prefect run), as one error line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import run_cli
from tests.support.media import face_clip

SRT = {
    "overlapping": "1\n00:00:00,000 --> 00:00:01,500\nHola.\n\n"
                   "2\n00:00:01,000 --> 00:00:02,000\nOtra vez.\n",
    "past the end": "1\n00:00:00,500 --> 00:00:09,000\nDemasiado larga.\n",
    "empty": "",
}


@pytest.fixture
def no_flow(monkeypatch: pytest.MonkeyPatch) -> None:
    def started(*args: object, **kwargs: object) -> None:
        raise AssertionError("the dub flow started although the input was bad")

    monkeypatch.setattr("flows.dub.run_dub", started)


@pytest.mark.parametrize("case", sorted(SRT))
def test_bad_subtitles_are_refused_before_the_flow(sqlite_home: Path, tmp_path: Path,
                                                   no_flow: None, case: str) -> None:
    clip = face_clip(tmp_path / "clip.mp4", seconds=3.0)
    script = tmp_path / "es.srt"
    script.write_text(SRT[case], encoding="utf-8")
    out = tmp_path / "out.mp4"
    r = run_cli("dub", clip, "--language", "es", "--script", script, "--performer", "ava",
                "--out", out)
    assert r.code == 2, (r.out, r.err)
    assert r.err.startswith("error: ") and "Traceback" not in r.err
    assert not out.exists()


def test_unreadable_video_is_refused_before_the_flow(sqlite_home: Path, tmp_path: Path,
                                                     no_flow: None) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"not a video" * 100)
    r = run_cli("dub", clip, "--language", "es", "--performer", "ava", "--out",
                tmp_path / "out.mp4")
    assert r.code == 2 and r.err.startswith("error: ") and "Traceback" not in r.err
