"""A signed file damaged anywhere -- video, audio or container -- verifies as tampered."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import run_cli
from tests.support.media import face_clip
from tests.support.people import add_performer, registered_grant


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return face_clip(tmp_path_factory.mktemp("media") / "ava.mp4", seconds=3.0)


def test_flipped_bytes_anywhere_are_tampered(sqlite_home: Path, tmp_path: Path,
                                             clip: Path) -> None:
    key = add_performer(tmp_path)
    registered_grant(tmp_path, key, "ava", "--language", "es")
    out = tmp_path / "out.mp4"
    assert run_cli("stamp", clip, "--performer", "ava", "--use", "dubbing", "--language", "es",
                   "--out", out).code == 0
    data = out.read_bytes()
    for fraction in (0.25, 0.5, 0.75, 0.9):
        damaged = tmp_path / f"damaged-{fraction}.mp4"
        buf = bytearray(data)
        buf[int(len(buf) * fraction)] ^= 0xFF
        damaged.write_bytes(bytes(buf))
        r = run_cli("verify", damaged, "--json")
        assert r.code == 4, (fraction, r.out, r.err)
        assert r.json()["status"] == "tampered"


def test_short_unsigned_clip_is_unknown_not_an_error(sqlite_home: Path, tmp_path: Path) -> None:
    short = face_clip(tmp_path / "short.mp4", seconds=1.5)
    r = run_cli("verify", short, "--json")
    assert r.code == 6, r.err
    assert r.json()["status"] == "unknown"
