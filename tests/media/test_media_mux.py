"""mux(): new soundtrack over a stream-copied video."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from likeness.errors import BadInput
from media.audio import AudioTrack, load_audio
from media.mux import mux
from media.probe import probe

RATE_HZ = 48_000


def _video_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(video=0) if p.size]


def _noise(seconds: float, channels: int) -> AudioTrack:
    rng = np.random.default_rng(3)
    samples = rng.uniform(-0.3, 0.3, size=(int(seconds * RATE_HZ), channels))
    return AudioTrack(samples.astype(np.float32), RATE_HZ)


def test_video_is_copied_and_audio_fitted(tmp_path: Path, silent_clip: Path) -> None:
    out = mux(silent_clip, audio=_noise(3.0, 2), out_path=tmp_path / "dub.mp4")
    info = probe(out)
    assert info.require_audio().channels == 2
    assert info.require_audio().duration_s == pytest.approx(2.0, abs=0.05)
    assert _video_packets(out) == _video_packets(silent_clip)
    assert out.read_bytes().index(b"moov") < out.read_bytes().index(b"mdat")


def test_existing_audio_is_replaced(tmp_path: Path, cfr_clip: Path) -> None:
    out = mux(cfr_clip, audio=_noise(1.0, 1), out_path=tmp_path / "mono.mp4")
    info = probe(out)
    assert len(info.audio_streams) == 1 and info.require_audio().channels == 1
    samples, rate = load_audio(out)
    assert samples.shape[0] / rate == pytest.approx(2.0, abs=0.05)
    assert np.abs(samples[int(1.2 * rate):int(1.9 * rate)]).max() < 0.01


def test_rotation_survives_the_copy(tmp_path: Path, rotated_clips: dict[int, Path]) -> None:
    out = mux(rotated_clips[90], audio=_noise(0.5, 1), out_path=tmp_path / "rot.mp4")
    assert probe(out).require_video().rotation_deg == 90


def test_bad_video_leaves_no_output(tmp_path: Path, bad_media: dict[str, Path],
                                    cfr_clip: Path) -> None:
    out = tmp_path / "never.mp4"
    with pytest.raises(BadInput, match="cannot read video"):
        mux(bad_media["text"], audio=_noise(1.0, 2), out_path=out)
    assert not out.exists()
    with pytest.raises(BadInput, match="onto itself"):
        mux(cfr_clip, audio=_noise(1.0, 2), out_path=cfr_clip)
    with pytest.raises(BadInput, match="does not exist"):
        mux(cfr_clip, audio=_noise(1.0, 2), out_path=tmp_path / "nope" / "x.mp4")
