"""`performer add --reel` and `performer reel`: the avatar reel is identity-checked,
stored 0600 in the performer's 0700 folder, and its SHA-256 is in the registry and ledger."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest

from tests.support.cli import FACES, run_cli
from tests.support.media import face_clip

SHORT_REEL_MIN_S = 1.0  # tests keep media tiny; production reels last 30 s to 3 min


@pytest.fixture
def short_reels(monkeypatch: pytest.MonkeyPatch) -> None:
    import likeness.reels

    monkeypatch.setattr(likeness.reels, "REEL_MIN_SECONDS", SHORT_REEL_MIN_S)


@pytest.fixture(scope="module")
def reel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return face_clip(tmp_path_factory.mktemp("reel") / "ava-reel.mp4", seconds=2.0,
                     audio=False)


def _add(tmp: Path, pid: str, face: str, *extra: str | Path) -> object:
    key = tmp / f"{pid}.key"
    assert run_cli("keys", "new", "--out", key).code == 0
    return run_cli("performer", "add", "--id", pid, "--name", pid.title(), "--face",
                   FACES / face, "--public-key", f"{key}.pub", *extra)


def test_a_reel_is_stored_privately_with_its_hash_in_the_ledger(
        sqlite_home: Path, tmp_path: Path, reel: Path, short_reels: None) -> None:
    result = _add(tmp_path, "ava", "female01.png", "--reel", reel, "--json")
    assert result.code == 0, result.err
    sha256 = hashlib.sha256(reel.read_bytes()).hexdigest()
    assert result.json()["reel_sha256"] == sha256

    folder = sqlite_home / "performers" / "ava"
    stored = list(folder.iterdir())
    assert [p.read_bytes() == reel.read_bytes() for p in stored] == [True]
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(stored[0].stat().st_mode) == 0o600

    entries = run_cli("audit", "show", "--json").json()["entries"]
    added = [e for e in entries if e["kind"] == "performer_reel_added"]
    assert len(added) == 1 and added[0]["payload"]["reel_sha256"] == sha256
    assert run_cli("audit", "verify").code == 0


def test_a_reel_of_someone_else_is_refused_and_enrols_nobody(
        sqlite_home: Path, tmp_path: Path, reel: Path, short_reels: None) -> None:
    result = _add(tmp_path, "ben", "male01.png", "--reel", reel)
    assert result.code == 2, result.out
    assert "does not show this performer" in result.err and "Traceback" not in result.err
    assert run_cli("performer", "list", "--json").json()["performers"] == []
    assert not (sqlite_home / "performers" / "ben").exists()


def test_a_too_short_reel_is_refused_at_the_production_minimum(
        sqlite_home: Path, tmp_path: Path, reel: Path) -> None:
    assert _add(tmp_path, "ava", "female01.png").code == 0
    result = run_cli("performer", "reel", "--id", "ava", reel)
    assert result.code == 2
    assert "an avatar reel lasts 30 s to 180 s" in result.err
    assert not (sqlite_home / "performers" / "ava").exists()


def test_a_new_reel_replaces_the_old_one_and_its_file(
        sqlite_home: Path, tmp_path: Path, reel: Path, short_reels: None) -> None:
    assert _add(tmp_path, "ava", "female01.png", "--reel", reel).code == 0
    second = face_clip(tmp_path / "second.mp4", seconds=1.5, audio=False, sway_period_s=1.5)
    result = run_cli("performer", "reel", "--id", "ava", second, "--json")
    assert result.code == 0, result.err
    assert result.json()["reel_sha256"] == hashlib.sha256(second.read_bytes()).hexdigest()
    stored = list((sqlite_home / "performers" / "ava").iterdir())
    assert [p.read_bytes() == second.read_bytes() for p in stored] == [True]
    entries = run_cli("audit", "show", "--json").json()["entries"]
    replaced = [e["payload"]["replaced_sha256"] for e in entries
                if e["kind"] == "performer_reel_added"]
    assert replaced == [None, hashlib.sha256(reel.read_bytes()).hexdigest()]
