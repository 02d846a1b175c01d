"""The mel front-end: shapes, scale, filterbank and per-frame window indexing."""

from __future__ import annotations

import numpy as np
import pytest

from likeness.errors import BadInput
from models.lipsync.wav2lip.audio import (
    MAX_ABS_VALUE,
    hz_to_mel,
    mel_filterbank,
    mel_start_index,
    mel_to_hz,
    mel_window,
    mel_windows,
    melspectrogram,
    prepare_audio,
)

RATE = 16_000


def tone(seconds: float, frequency_hz: float, *, rate: int = RATE,
         level: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return level * np.sin(2 * np.pi * frequency_hz * t)


def chirp(seconds: float, *, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return 0.3 * np.sin(2 * np.pi * (100 * t + 1500 * t**2))


def test_one_second_gives_80_by_81() -> None:
    mel = melspectrogram(tone(1.0, 440))
    assert mel.shape == (80, 81)
    assert mel.dtype == np.float32
    assert melspectrogram(tone(0.5, 440)).shape == (80, 41)


def test_silence_is_the_floor_and_loud_tone_saturates_its_band() -> None:
    assert np.all(melspectrogram(np.zeros(RATE)) == -MAX_ABS_VALUE)
    mel = melspectrogram(tone(1.0, 1000, level=0.9))
    assert mel.min() >= -MAX_ABS_VALUE and mel.max() <= MAX_ABS_VALUE
    band = int(np.argmax(mel[:, 40]))
    centres = mel_to_hz(np.linspace(hz_to_mel(55.0), hz_to_mel(7600.0), 82))[1:-1]
    assert abs(centres[band] - 1000) < 80  # the loudest band is the one around 1 kHz


def test_slaney_scale_points() -> None:
    assert hz_to_mel(np.array(1000.0)) == pytest.approx(15.0)
    assert hz_to_mel(np.array(200.0)) == pytest.approx(3.0)
    freqs = np.array([55.0, 700.0, 1000.0, 4000.0, 7600.0])
    assert np.allclose(mel_to_hz(hz_to_mel(freqs)), freqs)


@pytest.mark.parametrize("n_fft", [400, 800])
def test_filterbank_matches_an_independent_slaney_implementation(n_fft: int) -> None:
    from faster_whisper.feature_extractor import FeatureExtractor

    theirs = FeatureExtractor.get_mel_filters(RATE, n_fft, n_mels=80)
    ours = mel_filterbank(sample_rate_hz=RATE, n_fft=n_fft, n_mels=80, fmin_hz=0.0,
                          fmax_hz=RATE / 2)
    assert ours.shape == theirs.shape == (80, n_fft // 2 + 1)
    assert np.allclose(ours, theirs, rtol=1e-6, atol=1e-9)


def test_filterbank_defaults_and_area_normalisation() -> None:
    bank = mel_filterbank()
    assert bank.shape == (80, 401)
    bin_hz = RATE / 800
    assert np.all(bank[:, : int(55 / bin_hz)] == 0)  # nothing below fmin
    assert np.all(bank[:, int(np.ceil(7600 / bin_hz)) + 1:] == 0)  # nothing above fmax
    areas = bank.sum(axis=1) * bin_hz
    assert np.allclose(areas[20:], 1.0, atol=0.03)  # wide bands integrate to ~1


def test_int16_stereo_and_resampling_give_the_same_mel() -> None:
    reference = melspectrogram(prepare_audio(chirp(1.0), sample_rate=RATE))
    pcm = np.round(chirp(1.0) * 32767).astype(np.int16)
    stereo = np.stack([pcm, pcm], axis=1)
    from_pcm = melspectrogram(prepare_audio(stereo, sample_rate=RATE))
    assert np.abs(from_pcm - reference).mean() < 0.002  # 16-bit quantization only
    resampled = prepare_audio(chirp(1.0, rate=48_000), sample_rate=48_000)
    assert resampled.shape == (RATE,)
    mel48 = melspectrogram(resampled)
    assert mel48.shape == reference.shape
    assert np.abs(mel48 - reference)[:, 2:-2].mean() < 0.05


def test_bad_audio_is_refused() -> None:
    with pytest.raises(BadInput, match="NaN"):
        prepare_audio(np.array([0.0, np.nan]), sample_rate=RATE)
    with pytest.raises(BadInput, match="sample_rate"):
        prepare_audio(np.zeros(10), sample_rate=0)
    with pytest.raises(BadInput, match="float or signed"):
        prepare_audio(np.zeros(10, dtype=np.uint8), sample_rate=RATE)
    with pytest.raises(BadInput):
        prepare_audio(np.zeros((2, 2, 2)), sample_rate=RATE)


def test_window_start_indices_follow_80_over_fps() -> None:
    assert [mel_start_index(i, fps=25.0) for i in range(7)] == [0, 3, 6, 9, 12, 16, 19]
    assert [mel_start_index(i, fps=30.0) for i in range(4)] == [0, 2, 5, 8]
    assert mel_start_index(25, fps=25.0) == 80  # one second later = 80 mel steps


def test_windows_are_16_steps_and_padded_with_silence_at_the_end() -> None:
    mel = melspectrogram(chirp(1.0))  # 81 steps
    first = mel_window(mel, 0, fps=25.0)
    assert first.shape == (80, 16) and np.array_equal(first, mel[:, :16])
    last = mel_window(mel, 22, fps=25.0)  # starts at 70: 11 real steps, 5 padded
    assert np.array_equal(last[:, :11], mel[:, 70:81])
    assert np.all(last[:, 11:] == -MAX_ABS_VALUE)
    beyond = mel_window(mel, 100, fps=25.0)
    assert np.all(beyond == -MAX_ABS_VALUE)


def test_vectorized_windows_equal_single_windows() -> None:
    mel = melspectrogram(chirp(1.3))
    indices = np.arange(40)
    for fps in (25.0, 29.97, 30.0):
        stacked = mel_windows(mel, indices, fps=fps)
        assert stacked.shape == (40, 80, 16)
        for i in indices:
            assert np.array_equal(stacked[i], mel_window(mel, int(i), fps=fps))


def test_non_positive_fps_is_refused() -> None:
    with pytest.raises(BadInput, match="fps"):
        mel_window(np.zeros((80, 20), dtype=np.float32), 0, fps=0.0)
