"""`likeness avatar` on the command line: bad input is refused before any flow starts,
and a performer registered with `performer add --reel` gets a published avatar (--json)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import FACES, assert_published, run_cli
from tests.support.media import face_clip
from tests.support.people import add_performer, registered_grant


@pytest.mark.parametrize("args,message", [
    ([], "--text TEXT or --script"),
    (["--text", "Hi.", "--script", "{srt}"], "--text TEXT or --script"),
    (["--text", "Hi.", "--background", "{srt}"], "neither an image nor a video"),
    (["--text", "Hi.", "--still", "{missing}"], "cannot read still"),
    (["--text", "Hi.", "--lipsync", "magic"], "--lipsync is one of auto"),
    (["--text", "Hi.", "--language", "xx-QQ"], "language"),
    (["--text", "Hi."], "has no avatar reel"),
])
def test_avatar_bad_input(sqlite_home: Path, tmp_path: Path, args: list[str],
                          message: str) -> None:
    add_performer(tmp_path)
    srt = tmp_path / "lines.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:01,000\nHi.\n", encoding="utf-8")
    values = {"{srt}": str(srt), "{img}": str(FACES / "male01.png"),
              "{missing}": str(tmp_path / "missing.png")}
    argv = [values.get(a, a) for a in args]
    if "--language" not in argv:
        argv += ["--language", "en"]
    out = tmp_path / "out.mp4"
    r = run_cli("avatar", "--performer", "ava", "--out", out, *argv)
    assert r.code == 2, (r.out, r.err)
    assert r.err.startswith("error: ") and message in r.err
    assert "Traceback" not in r.err
    assert not out.exists()


def test_a_performer_added_with_a_reel_gets_an_avatar(
        sqlite_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import likeness.reels

    monkeypatch.setattr(likeness.reels, "REEL_MIN_SECONDS", 1.0)  # tiny test media
    # a reel whose drift never comes back to where it was: it must ping-pong, not jump
    reel = face_clip(tmp_path / "reel.mp4", seconds=2.0, audio=False)
    key = add_performer(tmp_path, "ava", "female01.png", "--reel", str(reel))
    registered_grant(tmp_path, key, "ava", "--use", "avatar", "--language", "en")
    out = tmp_path / "ava.mp4"
    r = run_cli("avatar", "--performer", "ava", "--language", "en", "--text",
                "Hello from my licensed avatar.", "--out", out, "--json")
    assert r.code == 0, r.err
    result = r.json()
    assert result["likeness"] == "reel" and result["fps"] == 25
    assert [result["width"], result["height"]] == [640, 360]
    assert result["reel_bounces"] >= 1 and result["loop_cuts"] == 0
    payload = assert_published(out, render_id=result["render_id"],
                               decision_id=result["decision_id"])
    assert payload["source_type"] == "trainedAlgorithmicMedia"
