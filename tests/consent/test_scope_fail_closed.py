"""Issue 16 A4: a grant that restricts a dimension (language, territory, production) does
not cover a request that leaves it unstated; render commands take --territory."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import run_cli
from tests.support.media import face_clip
from tests.support.people import add_performer, registered_grant


@pytest.mark.parametrize("limit,stated,reason", [
    (["--language", "es"], ["--language", "es"], "the request names none (give --language)"),
    (["--territory", "ES"], ["--territory", "ES"],
     "the request names none (give --territory)"),
])
def test_omitted_scope_is_denied(home: Path, tmp_path: Path, limit: list[str],
                                 stated: list[str], reason: str) -> None:
    key = add_performer(tmp_path)
    registered_grant(tmp_path, key, "ava", *limit)
    r = run_cli("consent", "check", "--performer", "ava", "--use", "dubbing", "--json")
    assert r.code == 3
    assert any(reason in x for x in r.json()["reasons"]), r.json()["reasons"]
    r = run_cli("consent", "check", "--performer", "ava", "--use", "dubbing", *stated)
    assert r.code == 0, r.err


def test_unrestricted_grant_needs_no_scope(home: Path, tmp_path: Path) -> None:
    key = add_performer(tmp_path)
    registered_grant(tmp_path, key)
    assert run_cli("consent", "check", "--performer", "ava", "--use", "dubbing").code == 0


def test_stamp_without_language_under_a_language_limited_grant(sqlite_home: Path,
                                                               tmp_path: Path) -> None:
    clip = face_clip(tmp_path / "ava.mp4", seconds=3.0)
    key = add_performer(tmp_path)
    registered_grant(tmp_path, key, "ava", "--language", "es", "--territory", "ES")
    out = tmp_path / "out.mp4"
    base = ["stamp", clip, "--performer", "ava", "--use", "dubbing", "--use", "lip_sync",
            "--out", out]
    r = run_cli(*base, "--territory", "ES")
    assert r.code == 3 and "give --language" in r.err and not out.exists()
    r = run_cli(*base, "--language", "es")
    assert r.code == 3 and "give --territory" in r.err and not out.exists()
    r = run_cli(*base, "--language", "es", "--territory", "FR")
    assert r.code == 3 and "territory FR not in ES" in r.err
    r = run_cli(*base, "--language", "es", "--territory", "QQ")
    assert r.code == 2 and "unknown territory code" in r.err
    r = run_cli(*base, "--language", "es", "--territory", "es", "--json")
    assert r.code == 0, r.err
    assert out.exists()


@pytest.mark.parametrize("command", ["dub", "reenact"])
def test_render_commands_take_territory(command: str) -> None:
    r = run_cli(command, "--help")
    assert r.code == 0 and "--territory" in r.out
