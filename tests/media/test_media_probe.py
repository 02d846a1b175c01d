"""probe(): stream facts, VFR detection, rotation, and refusal of bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from likeness.errors import BadInput
from media.probe import probe


def test_cfr_clip_with_stereo_audio(cfr_clip: Path) -> None:
    info = probe(cfr_clip)
    video = info.require_video()
    assert (video.codec, video.width, video.height) == ("h264", 160, 120)
    assert video.avg_fps == pytest.approx(25.0)
    assert video.r_fps == pytest.approx(25.0)
    assert not video.is_vfr
    assert video.frame_count == 50 and video.frame_count_exact
    assert video.rotation_deg == 0
    assert info.duration_s == pytest.approx(2.0, abs=0.05)
    audio = info.require_audio()
    assert (audio.codec, audio.sample_rate, audio.channels, audio.layout) == \
        ("aac", 48_000, 2, "stereo")


def test_variable_frame_rate_is_detected(vfr_clip: Path) -> None:
    video = probe(vfr_clip).require_video()
    assert video.is_vfr
    assert video.frame_count == 40
    assert video.avg_fps < video.r_fps


def test_rotation_from_display_matrix(rotated_clips: dict[int, Path]) -> None:
    for degrees, path in rotated_clips.items():
        video = probe(path).require_video()
        assert video.rotation_deg == degrees, path.name
        expected = (48, 64) if degrees in (90, 270) else (64, 48)
        assert video.display_size == expected


def test_video_without_audio(silent_clip: Path) -> None:
    info = probe(silent_clip)
    assert info.audio is None and info.audio_streams == ()
    with pytest.raises(BadInput, match="no audio track"):
        info.require_audio()


def test_audio_only_file_has_no_video(audio_files: dict[str, Path]) -> None:
    info = probe(audio_files["surround"], what="audio")
    assert info.video is None
    assert info.require_audio().channels == 6
    assert info.require_audio().layout.startswith("5.1")
    with pytest.raises(BadInput, match="no video stream"):
        info.require_video()


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("empty", "empty \\(0 bytes\\)"),
        ("noise", "not a readable media file"),
        ("text", "not a readable media file"),
        ("truncated", "not a readable media file"),
        ("truncated_data", "truncated \\(\\d+ of 50 frames present\\)"),
    ],
)
def test_bad_files_are_refused(bad_media: dict[str, Path], kind: str, message: str) -> None:
    with pytest.raises(BadInput, match=f"cannot read video {bad_media[kind]}: .*{message}"):
        probe(bad_media[kind])


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="no such file"):
        probe(tmp_path / "absent.mp4")
    with pytest.raises(BadInput, match="is a directory"):
        probe(tmp_path)


def test_rotation_without_ffprobe(monkeypatch: pytest.MonkeyPatch,
                                  rotated_clips: dict[int, Path]) -> None:
    """imageio-ffmpeg ships no ffprobe: the rotation then comes from ffmpeg's stream dump."""
    import media.probe as probe_module

    monkeypatch.setattr(probe_module, "ffprobe_path", lambda: None)
    assert probe(rotated_clips[270]).require_video().rotation_deg == 270
