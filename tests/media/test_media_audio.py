"""Audio: loading layouts, resampling, loudness, fitting speech to slots, ducking."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from likeness.errors import BadInput
from media.audio import (
    PEAK_CEILING,
    duck_and_mix,
    fit_to_slot,
    load_audio,
    loudness_normalize,
    measure_loudness,
    resample,
)
from media.ffmpeg import has_filter

RATE_HZ = 48_000


def _dominant_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.shape[0])))
    return float(np.argmax(spectrum) * rate / samples.shape[0])


def _tone(seconds: float, freq_hz: float, *, amplitude: float = 0.5,
          rate: int = RATE_HZ) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)[:, None]


def test_load_mono_and_stereo(audio_files: dict[str, Path]) -> None:
    mono, rate = load_audio(audio_files["mono"])
    assert (mono.shape, rate, mono.dtype) == ((16_000, 1), 16_000, np.float32)
    stereo, rate = load_audio(audio_files["stereo"])
    assert stereo.shape == (44_100, 2) and rate == 44_100
    peaks = np.abs(stereo).max(axis=0)
    assert peaks[0] == pytest.approx(0.5, abs=0.01) and peaks[1] == pytest.approx(0.25, abs=0.01)


def test_load_five_one_keeps_channel_order(audio_files: dict[str, Path]) -> None:
    surround, rate = load_audio(audio_files["surround"])
    assert surround.shape[1] == 6 and rate == RATE_HZ
    found = [_dominant_hz(surround[4096:40_000, c], rate) for c in range(6)]
    assert found == pytest.approx([220, 330, 440, 55, 550, 660], abs=3)


def test_load_with_resample_and_downmix(audio_files: dict[str, Path]) -> None:
    samples, rate = load_audio(audio_files["surround"], sample_rate=16_000, mono=True)
    assert rate == 16_000 and samples.shape[1] == 1
    assert samples.shape[0] == pytest.approx(16_000, abs=200)
    assert np.abs(samples).max() > 0.05


def test_load_refuses_silent_video_and_garbage(silent_clip: Path,
                                               bad_media: dict[str, Path]) -> None:
    with pytest.raises(BadInput, match="no audio track"):
        load_audio(silent_clip)
    with pytest.raises(BadInput, match="cannot read audio"):
        load_audio(bad_media["noise"])


def test_resample_keeps_pitch_and_length() -> None:
    tone = _tone(1.0, 1000.0, rate=44_100)
    out = resample(tone, from_rate=44_100, to_rate=16_000)
    assert out.shape == (16_000, 1) and out.dtype == np.float32
    assert _dominant_hz(out[:, 0], 16_000) == pytest.approx(1000.0, abs=2)


def test_loudness_normalize_hits_target(speech_wav: Path) -> None:
    speech, rate = load_audio(speech_wav)
    normalized = loudness_normalize(speech, rate, target_lufs=-23.0)
    assert measure_loudness(normalized, rate) == pytest.approx(-23.0, abs=0.1)
    # Too loud a target for this peaky voice: the peak ceiling wins over the target.
    limited = loudness_normalize(speech, rate, target_lufs=-12.0)
    assert np.abs(limited).max() == pytest.approx(PEAK_CEILING, abs=1e-4)
    assert measure_loudness(limited, rate) < -12.0


def test_loudness_edge_cases() -> None:
    silence = np.zeros((RATE_HZ, 2), np.float32)
    assert measure_loudness(silence, RATE_HZ) == float("-inf")
    assert np.array_equal(loudness_normalize(silence, RATE_HZ), silence)
    short = _tone(0.1, 500.0, amplitude=0.05)  # shorter than one 400 ms gating block
    louder = loudness_normalize(short, RATE_HZ, target_lufs=-20.0)
    assert louder.shape == short.shape
    assert measure_loudness(louder, RATE_HZ) == pytest.approx(-20.0, abs=0.2)
    clipped = loudness_normalize(_tone(1.0, 500.0), RATE_HZ, target_lufs=0.0)
    assert np.abs(clipped).max() <= PEAK_CEILING + 1e-6


def test_loudness_ignores_the_lfe_channel() -> None:
    lfe_only = np.zeros((RATE_HZ, 6), np.float32)
    lfe_only[:, 3] = _tone(1.0, 50.0)[:, 0]
    assert measure_loudness(lfe_only, RATE_HZ) == float("-inf")


def test_fit_pads_short_speech() -> None:
    result = fit_to_slot(_tone(1.0, 300.0), RATE_HZ, slot_seconds=1.5)
    assert result.fits and result.ratio == 1.0 and result.overflow_s == 0.0
    assert result.samples.shape == (72_000, 1)
    assert not result.samples[RATE_HZ:].any()


@pytest.mark.parametrize("engine", ["atempo", "rubberband"])
def test_fit_speeds_up_without_changing_pitch(engine: str) -> None:
    if engine == "rubberband" and not has_filter("rubberband"):
        pytest.skip("ffmpeg without rubberband")
    result = fit_to_slot(_tone(1.2, 440.0), RATE_HZ, slot_seconds=1.0, engine=engine)
    assert result.fits and result.ratio == pytest.approx(1.2)
    assert result.samples.shape == (RATE_HZ, 1)
    assert _dominant_hz(result.samples[4800:40_000, 0], RATE_HZ) == pytest.approx(440, abs=5)


def test_fit_reports_speech_that_cannot_fit(speech_wav: Path) -> None:
    speech, rate = load_audio(speech_wav)
    slot_s = speech.shape[0] / rate / 2.0
    result = fit_to_slot(speech, rate, slot_seconds=slot_s, max_stretch=1.35)
    assert not result.fits and result.ratio == pytest.approx(1.35)
    expected_overflow = speech.shape[0] / rate / 1.35 - slot_s
    assert result.overflow_s == pytest.approx(expected_overflow, abs=0.01)
    with pytest.raises(BadInput, match="slot length"):
        fit_to_slot(speech, rate, slot_seconds=0)


def test_duck_and_mix_envelope() -> None:
    original = np.repeat(_tone(3.0, 200.0, amplitude=0.3), 2, axis=1)
    speech = np.zeros((3 * RATE_HZ, 1), np.float32)
    speech[RATE_HZ:2 * RATE_HZ] = _tone(1.0, 1000.0, amplitude=0.2)
    mixed = duck_and_mix(original, speech, RATE_HZ, duck_db=-15.0, attack_ms=40,
                         release_ms=250, hold_ms=200)
    assert mixed.shape == (3 * RATE_HZ, 2) and mixed.dtype == np.float32
    bed = mixed - speech  # what is left of the original

    def level(start_s: float, end_s: float) -> float:
        return float(np.abs(bed[int(start_s * RATE_HZ):int(end_s * RATE_HZ)]).max())

    assert level(0.0, 0.9) == pytest.approx(0.3, abs=0.01)  # untouched before the attack
    assert level(1.05, 1.95) == pytest.approx(0.3 * 10 ** (-15 / 20), abs=0.01)
    assert level(2.5, 3.0) == pytest.approx(0.3, abs=0.01)  # hold + release are over
    assert 0.06 < level(2.3, 2.32) < 0.29  # mid-release


def test_duck_and_mix_shapes_and_clipping() -> None:
    loud = np.full((RATE_HZ, 1), 0.9, np.float32)
    mixed = duck_and_mix(loud, np.repeat(_tone(1.5, 300.0, amplitude=0.9), 2, axis=1),
                         RATE_HZ, duck_db=0.0)
    assert mixed.shape == (int(1.5 * RATE_HZ), 2)
    assert np.abs(mixed).max() <= 1.0
    quiet = duck_and_mix(loud, np.zeros((RATE_HZ, 1), np.float32), RATE_HZ)
    assert np.array_equal(quiet, loud)
    with pytest.raises(BadInput, match="duck_db"):
        duck_and_mix(loud, loud, RATE_HZ, duck_db=6.0)
