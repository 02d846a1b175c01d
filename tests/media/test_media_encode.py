"""VideoWriter: H.264 MP4 from numpy frames, audio in the same pass, no partial output."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from likeness.errors import BadInput, InternalError
from media.audio import AudioTrack, load_audio
from media.decode import iter_frames
from media.encode import VideoWriter
from media.probe import probe

RATE_HZ = 48_000


def _frames(count: int, *, height: int = 48, width: int = 64) -> list[np.ndarray]:
    """Smooth moving gradients: compressible, so CRF 20 must reproduce them closely."""
    y, x = np.mgrid[0:height, 0:width]
    return [np.stack([np.minimum(x * 3 + i, 255), np.minimum(y * 4 + 20, 255),
                      np.full_like(x, 128 + i)], axis=-1).astype(np.uint8) for i in range(count)]


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / max(mse, 1e-12)))


def _tone(seconds: float, freq_hz: float, channels: int = 2) -> AudioTrack:
    t = np.arange(int(seconds * RATE_HZ)) / RATE_HZ
    mono = (0.5 * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)
    return AudioTrack(np.repeat(mono[:, None], channels, axis=1), RATE_HZ)


def test_roundtrip_quality_and_stream_format(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    source = _frames(30)
    with VideoWriter(out, fps=25) as writer:
        for frame in source:
            writer.write(frame)
    assert writer.frames_written == 30
    video = probe(out).require_video()
    assert (video.codec, video.pix_fmt, video.width, video.height) == ("h264", "yuv420p", 64, 48)
    assert video.frame_count == 30 and video.avg_fps == pytest.approx(25)
    decoded = [f.rgb for f in iter_frames(out)]
    assert min(_psnr(a, b) for a, b in zip(source, decoded, strict=True)) > 35.0


def test_faststart_puts_the_index_first(tmp_path: Path) -> None:
    out = tmp_path / "fast.mp4"
    with VideoWriter(out, fps=10) as writer:
        for frame in _frames(5):
            writer.write(frame)
    data = out.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")


def test_ntsc_rate_stays_exact(tmp_path: Path) -> None:
    out = tmp_path / "ntsc.mp4"
    with VideoWriter(out, fps=30000 / 1001) as writer:
        for frame in _frames(6):
            writer.write(frame)
    assert probe(out).require_video().avg_rate == Fraction(30000, 1001)


@pytest.mark.parametrize(("policy", "expected"), [("pad", (50, 66)), ("crop", (48, 64))])
def test_odd_sizes_become_even(tmp_path: Path, policy: str, expected: tuple[int, int]) -> None:
    out = tmp_path / f"{policy}.mp4"
    source = _frames(3, height=49, width=65)
    with VideoWriter(out, fps=10, odd_size=policy) as writer:
        for frame in source:
            writer.write(frame)
    assert writer.output_size == (expected[1], expected[0])
    decoded = next(iter_frames(out)).rgb
    assert decoded.shape[:2] == expected
    assert _psnr(decoded[:48, :64], source[0][:48, :64]) > 30.0


def test_audio_is_muxed_in_the_same_pass_and_trimmed(tmp_path: Path) -> None:
    out = tmp_path / "av.mp4"
    with VideoWriter(out, fps=25, audio=_tone(1.6, 440.0)) as writer:
        for frame in _frames(25):
            writer.write(frame)
    info = probe(out)
    audio = info.require_audio()
    assert (audio.codec, audio.channels, audio.sample_rate) == ("aac", 2, RATE_HZ)
    assert audio.duration_s == pytest.approx(1.0, abs=0.03)
    samples, rate = load_audio(out, mono=True)
    spectrum = np.abs(np.fft.rfft(samples[:, 0]))
    peak_hz = np.argmax(spectrum) * rate / samples.shape[0]
    assert peak_hz == pytest.approx(440.0, abs=3.0)


def test_short_audio_is_padded_with_silence(tmp_path: Path) -> None:
    out = tmp_path / "pad.mp4"
    with VideoWriter(out, fps=25, audio=_tone(0.4, 300.0, channels=1)) as writer:
        for frame in _frames(25):
            writer.write(frame)
    samples, rate = load_audio(out)
    assert samples.shape[1] == 1
    assert samples.shape[0] / rate == pytest.approx(1.0, abs=0.03)
    assert np.abs(samples[int(0.6 * rate):int(0.95 * rate)]).max() < 0.01
    assert np.abs(samples[int(0.1 * rate):int(0.3 * rate)]).max() > 0.3


def test_failure_inside_the_block_leaves_no_file(tmp_path: Path) -> None:
    out = tmp_path / "broken.mp4"
    with pytest.raises(RuntimeError, match="render crashed"), VideoWriter(out, fps=25) as writer:
        writer.write(_frames(1)[0])
        raise RuntimeError("render crashed")
    assert not out.exists()


def test_mismatched_frame_and_empty_render_leave_no_file(tmp_path: Path) -> None:
    out = tmp_path / "mismatch.mp4"
    with pytest.raises(InternalError, match="earlier frames"), VideoWriter(out, fps=25) as writer:
        writer.write(_frames(1)[0])
        writer.write(_frames(1, height=32, width=32)[0])
    assert not out.exists()
    empty = tmp_path / "empty.mp4"
    with pytest.raises(InternalError, match="no frames"), VideoWriter(empty, fps=25):
        pass
    assert not empty.exists()


def test_bad_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="does not exist"), \
            VideoWriter(tmp_path / "missing" / "x.mp4", fps=25):
        pass
    with pytest.raises(BadInput, match="invalid CRF"):
        VideoWriter(tmp_path / "x.mp4", fps=25, crf=99)
    with pytest.raises(BadInput, match="preset"):
        VideoWriter(tmp_path / "x.mp4", fps=25, preset="warp")
    with pytest.raises(BadInput, match="frame rate"):
        VideoWriter(tmp_path / "x.mp4", fps=0)
    with pytest.raises(BadInput, match="4-channel"):
        VideoWriter(tmp_path / "x.mp4", fps=25,
                    audio=AudioTrack(np.zeros((10, 4), np.float32), RATE_HZ))
