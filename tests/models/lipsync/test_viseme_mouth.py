"""Mouth shapes: phonemes map to sensible visemes, tracks index by fps, audio drives them."""

from __future__ import annotations

import numpy as np
import pytest

from likeness.errors import BadInput
from media.timed_text import PhonemeTiming
from models.lipsync.mouth import (
    MouthTrack,
    mouth_track,
    track_from_audio,
    track_from_timings,
    viseme_for,
)
from tests.support.lipsync_media import frame_loudness, speech


def test_phonemes_map_to_visemes() -> None:
    for closed in ("p", "b", "m", "ˈm"):
        assert viseme_for(closed).opening == 0.0
    assert viseme_for("ˈaː").opening >= 0.8
    assert viseme_for("i").width > 0.8 and viseme_for("i").rounding == 0.0
    assert viseme_for("u").rounding >= 0.9 and viseme_for("u").width < 0.3
    assert viseme_for("aɪ") == viseme_for("a")  # a diphthong starts with its first vowel
    assert viseme_for("tʃ").opening == viseme_for("t").opening
    assert viseme_for("_").opening == 0.0 and viseme_for("").opening == 0.0
    unknown = viseme_for("☃")
    assert 0.0 < unknown.opening < 0.5


@pytest.mark.parametrize("fps", [23.976, 29.97, 60.0])
def test_track_indexes_frames_by_fps(fps: float) -> None:
    timings = [PhonemeTiming("m", 0.9, 1.0), PhonemeTiming("a", 1.0, 1.5)]
    track = track_from_timings(timings, duration_s=3.0)
    frames = np.arange(int(3.0 * fps))
    opening = track.for_frames(frames, fps=fps)[:, 0]
    peak_s = int(np.argmax(opening)) / fps
    assert 1.05 <= peak_s <= 1.45
    assert opening[: int(0.8 * fps)].max() < 0.02  # closed before the word
    assert opening[int(1.8 * fps):].max() < 0.02  # and after it
    assert opening[int(1.25 * fps)] > 0.8


def test_audio_track_opens_on_voice_and_closes_in_silence() -> None:
    rate = 16_000
    t = np.arange(int(1.5 * rate)) / rate
    voice = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 12))
    envelope = ((t > 0.5) & (t < 1.0)).astype(np.float64)
    audio = (0.3 * voice * envelope).astype(np.float32)
    track = track_from_audio(audio, rate)
    shapes = track.at(np.array([0.2, 0.75, 1.3]))
    assert shapes[0, 0] < 0.05 and shapes[2, 0] < 0.05
    assert shapes[1, 0] > 0.6
    stereo = track_from_audio(np.stack([audio, audio], axis=1), rate)
    np.testing.assert_allclose(stereo.values, track.values, atol=1e-5)


def test_speech_track_follows_envelope_without_flicker() -> None:
    spoken = speech()
    fps = 25.0
    count = int(spoken.duration_s * fps)
    loud = frame_loudness(spoken.samples, spoken.sample_rate, count, fps)
    for timings in (spoken.phonemes, None):
        track = mouth_track(spoken.samples, spoken.sample_rate, timings=timings)
        opening = track.for_frames(np.arange(count), fps=fps)[:, 0]
        assert np.corrcoef(opening, loud)[0, 1] > 0.5
        assert np.abs(np.diff(opening)).max() < 0.45  # smoothed: no single-frame snaps
        assert ((opening >= 0) & (opening <= 1)).all()


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(BadInput):
        mouth_track(np.zeros(100, np.float32), 0)
    with pytest.raises(BadInput):
        mouth_track(np.full(100, np.nan, np.float32), 16_000)
    with pytest.raises(BadInput):
        MouthTrack(np.zeros((10, 3), np.float32)).for_frames(np.arange(3), fps=0)
    with pytest.raises(BadInput):
        track_from_timings([PhonemeTiming("a", 1.0, 0.5)])
    silent = track_from_audio(np.zeros(16_000, np.float32), 16_000)
    assert silent.values[:, 0].max() == 0.0


def test_loud_bilabials_stay_shut_when_timings_are_given() -> None:
    rate = 16_000
    t = np.arange(int(1.5 * rate)) / rate
    audio = (0.3 * np.sin(2 * np.pi * 180 * t)).astype(np.float32)  # loud all the way
    timings = [PhonemeTiming("a", 0.2, 0.5), PhonemeTiming("m", 0.5, 0.9),
               PhonemeTiming("a", 0.9, 1.2)]
    track = mouth_track(audio, rate, timings=timings)
    opening = track.at(np.array([0.35, 0.7, 1.05]))[:, 0]
    assert opening[1] < 0.1 < 0.5 < min(opening[0], opening[2])
