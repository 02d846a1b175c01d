"""Removing the original dialogue: found by Silero VAD, attenuated >= 30 dB with short
crossfades, the background untouched outside it and the source's room tone under it.

Media: generated tones and noise (the "background" and a 3 kHz stand-in for a voice, so
the two can be told apart by frequency), espeak-ng speech for the VAD, and the LibriVox
sentences of Debian's pocketsphinx-testdata when it is installed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from likeness.errors import BadInput
from media.audio import load_audio
from media.dialogue import (
    CROSSFADE_S,
    SpeechRegion,
    detect_speech,
    merge_regions,
    removal_gain,
    remove_dialogue,
    word_regions,
)
from tests.support.media import speech_wav

RATE_HZ = 16_000
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")


def _band_db(samples: np.ndarray, low: float, high: float) -> float:
    """Power in a frequency band (dB), all channels together."""
    spectrum = np.abs(np.fft.rfft(samples, axis=0)) ** 2
    freqs = np.fft.rfftfreq(samples.shape[0], 1 / RATE_HZ)
    band = spectrum[(freqs >= low) & (freqs <= high)]
    return float(10 * np.log10(band.sum() + 1e-20))


def _level_db(samples: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(np.square(samples))) + 1e-12))


def _scene(seconds: float = 4.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stereo background (200 Hz hum + noise) and a 3 kHz "voice" from 1.5 s to 2.5 s."""
    n = int(seconds * RATE_HZ)
    t = np.arange(n) / RATE_HZ
    rng = np.random.default_rng(7)
    hum = 0.05 * np.sin(2 * np.pi * 200 * t)
    background = np.stack([hum + 0.01 * rng.standard_normal(n),
                           0.8 * hum + 0.01 * rng.standard_normal(n)], axis=1)
    voice = np.zeros((n, 2))
    inside = (t >= 1.5) & (t < 2.5)
    voice[inside] = 0.3 * np.sin(2 * np.pi * 3000 * t[inside])[:, np.newaxis]
    return (background + voice).astype(np.float32), background.astype(np.float32), t


def test_speech_is_attenuated_by_30_db_and_the_background_kept() -> None:
    source, background, t = _scene()
    region = SpeechRegion(1.45, 2.55)
    removed = remove_dialogue(source, RATE_HZ, [region])
    out = removed.samples
    assert out.shape == source.shape and out.dtype == np.float32  # stereo, same length

    inside = (t >= region.start_s) & (t < region.end_s)
    voice_before = _band_db(source[inside], 2900, 3100)
    voice_after = _band_db(out[inside], 2900, 3100)
    assert voice_before - voice_after >= 30.0

    outside = (t < region.start_s - CROSSFADE_S) | (t >= region.end_s + CROSSFADE_S)
    np.testing.assert_array_equal(out[outside], source[outside])  # untouched, not just close

    # under the removed voice: the room tone, at the background's own level (no hole)
    assert abs(_level_db(out[inside]) - _level_db(background[inside])) <= 1.0
    assert removed.room_tone_s > 2.0


def test_the_gain_crossfades_outside_the_region_and_refuses_weak_removal() -> None:
    gain = removal_gain(RATE_HZ, RATE_HZ, [SpeechRegion(0.5, 0.6)], attenuation_db=-40)
    start, end = int(0.5 * RATE_HZ), int(0.6 * RATE_HZ)
    ramp = int(CROSSFADE_S * RATE_HZ)
    assert np.allclose(gain[start:end], 0.01)  # -40 dB from the first sample to the last
    assert gain[start - ramp - 1] == 1.0 and gain[end + ramp] == 1.0
    assert np.all(np.diff(gain[start - ramp:start]) <= 0)  # a ramp, not a step
    with pytest.raises(BadInput, match="at least 30 dB"):
        removal_gain(100, RATE_HZ, [SpeechRegion(0.0, 0.001)], attenuation_db=-20)


def test_with_speech_throughout_there_is_no_room_tone_to_loop() -> None:
    source, _, _ = _scene(1.0)
    removed = remove_dialogue(source, RATE_HZ, [SpeechRegion(0.0, 1.0)])
    assert removed.room_tone_s == 0.0
    assert np.all(np.isfinite(removed.samples))
    assert _level_db(removed.samples) <= _level_db(source) - 30.0


def test_regions_merge_and_words_are_padded() -> None:
    merged = merge_regions([SpeechRegion(2.0, 3.0), SpeechRegion(0.0, 1.0),
                            SpeechRegion(0.9, 1.5)])
    assert merged == (SpeechRegion(0.0, 1.5), SpeechRegion(2.0, 3.0))
    assert word_regions([(0.05, 0.4), (0.45, 0.9)]) == (SpeechRegion(0.0, 1.0),)


def test_vad_finds_the_spoken_stretch_and_nothing_in_a_hum(tmp_path: Path) -> None:
    wav = speech_wav(tmp_path / "hello.wav", "Hello, this sentence is the original dialogue.")
    speech, _ = load_audio(wav, sample_rate=RATE_HZ, mono=True)
    lead = np.zeros((RATE_HZ, 1), np.float32)
    source = np.concatenate([lead, speech, lead])
    regions = detect_speech(np.repeat(source, 2, axis=1), RATE_HZ)
    assert len(regions) == 1
    spoken_end = 1.0 + speech.shape[0] / RATE_HZ
    assert regions[0].start_s <= 1.1 and regions[0].end_s >= spoken_end - 0.3
    assert regions[0].start_s >= 0.6 and regions[0].end_s <= spoken_end + 0.5
    _, background, _ = _scene(2.0)
    assert detect_speech(background, RATE_HZ) == ()


@pytest.mark.skipif(not (LIBRIVOX / "transcription").is_file(),
                    reason="Debian pocketsphinx-testdata (LibriVox speech) is not installed")
def test_vad_covers_real_read_speech() -> None:
    clip = sorted(LIBRIVOX.glob("*.wav"))[1]  # "he was not an ill disposed young man", 3 s
    speech, _ = load_audio(clip, sample_rate=RATE_HZ, mono=True)
    regions = detect_speech(speech, RATE_HZ)
    covered = sum(r.duration_s for r in regions)
    assert regions and covered >= 0.6 * speech.shape[0] / RATE_HZ
