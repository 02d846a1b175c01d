"""Locating ffmpeg: Debian first, a clear error for a bad override, capability checks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from likeness.errors import BadInput, InternalError
from media import ffmpeg


@pytest.fixture
def fresh_lookup() -> Iterator[None]:
    """The lookups are cached per process; clear them around tests that change the env."""
    ffmpeg.ffmpeg_path.cache_clear()
    ffmpeg.ffprobe_path.cache_clear()
    yield
    ffmpeg.ffmpeg_path.cache_clear()
    ffmpeg.ffprobe_path.cache_clear()


def test_prefers_debian_ffmpeg(fresh_lookup: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ffmpeg.FFMPEG_ENV_VAR, raising=False)
    if not ffmpeg.DEBIAN_FFMPEG.exists():
        pytest.skip("no Debian ffmpeg here")
    assert ffmpeg.ffmpeg_path() == ffmpeg.DEBIAN_FFMPEG
    assert ffmpeg.ffprobe_path() == ffmpeg.DEBIAN_FFPROBE


def test_bad_override_is_bad_input(fresh_lookup: None, monkeypatch: pytest.MonkeyPatch,
                                   tmp_path: Path) -> None:
    monkeypatch.setenv(ffmpeg.FFMPEG_ENV_VAR, str(tmp_path / "nope"))
    with pytest.raises(BadInput, match="LIKENESS_FFMPEG=.* is not an executable"):
        ffmpeg.ffmpeg_path()


def test_override_to_imageio_binary(fresh_lookup: None, monkeypatch: pytest.MonkeyPatch) -> None:
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    exe = Path(imageio_ffmpeg.get_ffmpeg_exe())
    monkeypatch.setenv(ffmpeg.FFMPEG_ENV_VAR, str(exe))
    assert ffmpeg.ffmpeg_path() == exe
    assert b"ffmpeg version" in ffmpeg.run_ffmpeg(["-version"], what="version check")


def test_failures_carry_ffmpeg_stderr(tmp_path: Path) -> None:
    with pytest.raises(InternalError, match="probing nothing: .*No such file"):
        ffmpeg.run_ffmpeg(["-i", str(tmp_path / "missing.wav"), "-f", "null", "-"],
                          what="probing nothing")
    with pytest.raises(BadInput, match="user file"):
        ffmpeg.run_ffmpeg(["-i", str(tmp_path / "missing.wav"), "-f", "null", "-"],
                          what="user file", error_type=BadInput)


def test_capabilities() -> None:
    assert ffmpeg.has_filter("atempo")
    assert ffmpeg.has_encoder("aac")
    assert not ffmpeg.has_filter("no_such_filter")
