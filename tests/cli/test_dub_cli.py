"""`likeness dub` refuses bad input before starting any flow (fast, clear errors)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import run_cli


@pytest.mark.parametrize("args,message", [
    (["missing.mp4", "--language", "es"], "missing.mp4"),
    (["{clip}", "--language", "xx-QQ"], "language"),
    (["{clip}", "--language", "es", "--lipsync", "magic"], "--lipsync is one of auto"),
    (["{clip}", "--language", "es", "--fit", "stretch"], "--fit is speech"),
    (["{clip}", "--language", "es", "--subtitles", "{dir}/subs.txt"], "must be a .ass, .srt"),
])
def test_dub_bad_input(sqlite_home: Path, tmp_path: Path, args: list[str],
                       message: str) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00" * 100)
    out = tmp_path / "out.mp4"
    argv = [a.replace("{clip}", str(clip)).replace("{dir}", str(tmp_path)) for a in args]
    r = run_cli("dub", *argv, "--performer", "ava", "--out", out)
    assert r.code == 2, (r.out, r.err)
    assert r.err.startswith("error: ") and message in r.err
    assert "Traceback" not in r.err
    assert not out.exists()


def test_reenact_bad_input(sqlite_home: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    r = run_cli("reenact", "--target", tmp_path / "missing.png", "--driver",
                tmp_path / "missing.mp4", "--performer", "ava", "--out", out)
    assert r.code == 2 and r.err.startswith("error: ") and "missing" in r.err
    assert not out.exists()
