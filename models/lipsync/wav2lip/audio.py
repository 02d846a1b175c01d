"""The mel-spectrogram front-end the Wav2Lip checkpoints were trained on.

The network never hears audio; it sees 80x16 windows of a log-mel spectrogram made
with one fixed recipe (16 kHz, pre-emphasis, 50 ms Hann windows every 12.5 ms, 80
Slaney mel bands from 55 Hz to 7.6 kHz, dB clipped at -100 and scaled to +-4). Any
drift in that recipe shifts what the weights see, so every constant is named here
and the whole thing is plain vectorized numpy: no librosa, no torch.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy import signal

from likeness.errors import BadInput

SAMPLE_RATE_HZ = 16_000
PREEMPHASIS = 0.97
N_FFT = 800
HOP_SAMPLES = 200  # 12.5 ms at 16 kHz: 80 mel steps per second
WINDOW_SAMPLES = 800  # 50 ms
N_MELS = 80
FMIN_HZ = 55.0
FMAX_HZ = 7600.0
MIN_LEVEL_DB = -100.0
REF_LEVEL_DB = 20.0
MAX_ABS_VALUE = 4.0  # normalized mels live in [-4, 4]; -4 is silence
MEL_STEPS_PER_SECOND = SAMPLE_RATE_HZ / HOP_SAMPLES
MEL_WINDOW_STEPS = 16  # one video frame sees 16 mel steps (200 ms)
SILENCE_LEVEL = -MAX_ABS_VALUE
STFT_CHUNK_STEPS = 8192  # ~100 s of audio per FFT block (~50 MB of float64)

# Slaney's mel scale: linear up to 1 kHz (3 mels per 200 Hz), logarithmic above.
_SLANEY_LINEAR_HZ_PER_MEL = 200.0 / 3.0
_SLANEY_BREAK_HZ = 1000.0
_SLANEY_BREAK_MEL = _SLANEY_BREAK_HZ / _SLANEY_LINEAR_HZ_PER_MEL
_SLANEY_LOG_STEP = math.log(6.4) / 27.0


def hz_to_mel(frequency_hz: np.ndarray) -> np.ndarray:
    """Slaney mel value of each frequency (the scale librosa uses unless htk=True)."""
    hz = np.asarray(frequency_hz, dtype=np.float64)
    linear = hz / _SLANEY_LINEAR_HZ_PER_MEL
    above = _SLANEY_BREAK_MEL + np.log(np.maximum(hz, _SLANEY_BREAK_HZ) / _SLANEY_BREAK_HZ) / (
        _SLANEY_LOG_STEP
    )
    return np.where(hz >= _SLANEY_BREAK_HZ, above, linear)


def mel_to_hz(mel: np.ndarray) -> np.ndarray:
    """Inverse of `hz_to_mel`."""
    m = np.asarray(mel, dtype=np.float64)
    linear = m * _SLANEY_LINEAR_HZ_PER_MEL
    above = _SLANEY_BREAK_HZ * np.exp(_SLANEY_LOG_STEP * (m - _SLANEY_BREAK_MEL))
    return np.where(m >= _SLANEY_BREAK_MEL, above, linear)


@functools.cache
def mel_filterbank(
    *,
    sample_rate_hz: int = SAMPLE_RATE_HZ,
    n_fft: int = N_FFT,
    n_mels: int = N_MELS,
    fmin_hz: float = FMIN_HZ,
    fmax_hz: float = FMAX_HZ,
) -> np.ndarray:
    """(n_mels, n_fft//2+1) triangular filters, area-normalised ("slaney" norm).

    Triangles have corners at n_mels+2 points evenly spaced on the mel scale; each
    row is scaled by 2/(bandwidth in Hz) so every band has the same area, which is
    what the checkpoints' training front-end (librosa's default) did.
    """
    if not 0 <= fmin_hz < fmax_hz <= sample_rate_hz / 2:
        raise BadInput(f"mel band edges must satisfy 0 <= fmin < fmax <= Nyquist, "
                       f"got {fmin_hz}..{fmax_hz} Hz at {sample_rate_hz} Hz")
    bin_hz = np.linspace(0.0, sample_rate_hz / 2.0, n_fft // 2 + 1)
    corners_hz = mel_to_hz(np.linspace(hz_to_mel(fmin_hz), hz_to_mel(fmax_hz), n_mels + 2))
    widths_hz = np.diff(corners_hz)
    offsets = corners_hz[:, None] - bin_hz[None, :]  # (n_mels+2, bins)
    rising = -offsets[:-2] / widths_hz[:-1, None]
    falling = offsets[2:] / widths_hz[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (corners_hz[2:] - corners_hz[:-2]))[:, None]
    weights.setflags(write=False)  # cached: nobody may edit the shared copy
    return weights


def prepare_audio(audio: np.ndarray, *, sample_rate: int) -> np.ndarray:
    """Mono float64 samples in [-1, 1] at 16 kHz from any PCM layout and rate.

    Accepts (N,) or (N, channels) arrays of float or integer PCM; channels are
    averaged, integers scaled by their full range, other rates resampled with a
    polyphase filter (exact rational ratio, no drift over long clips).
    """
    raw = np.asarray(audio)
    if raw.ndim not in (1, 2):
        raise BadInput(f"audio must be (samples,) or (samples, channels), got {raw.shape}")
    samples = raw.astype(np.float64) / _int_scale(raw.dtype)
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    if not np.all(np.isfinite(samples)):
        raise BadInput("audio contains NaN or infinite samples")
    if sample_rate <= 0:
        raise BadInput(f"sample_rate must be positive, got {sample_rate}")
    if sample_rate != SAMPLE_RATE_HZ and samples.size:
        common = math.gcd(int(sample_rate), SAMPLE_RATE_HZ)
        up, down = SAMPLE_RATE_HZ // common, int(sample_rate) // common
        samples = signal.resample_poly(samples, up, down)
    return samples


def _int_scale(dtype: np.dtype) -> float:
    """Full-scale value of a PCM sample type (1.0 for floats)."""
    if dtype.kind == "f":
        return 1.0
    if dtype.kind == "i":
        return float(np.iinfo(dtype).max) + 1.0
    raise BadInput(f"audio samples must be float or signed integer PCM, got {dtype}")


def melspectrogram(samples_16k: np.ndarray) -> np.ndarray:
    """Normalized log-mel spectrogram (80, 1 + len // 200), float32 in [-4, 4].

    Frames are centred (the signal is reflect-padded by n_fft/2 on both sides), so
    one second of audio gives 81 steps, as the reference front-end does.
    """
    wav = np.asarray(samples_16k, dtype=np.float64)
    if wav.ndim != 1:
        raise BadInput(f"melspectrogram expects mono samples, got shape {wav.shape}")
    emphasized = signal.lfilter([1.0, -PREEMPHASIS], [1.0], wav) if wav.size else wav
    half = N_FFT // 2
    if emphasized.size > 1:
        padded = np.pad(emphasized, half, mode="reflect")
    else:
        padded = np.pad(emphasized, half, mode="constant")
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP_SAMPLES]
    window = signal.get_window("hann", WINDOW_SAMPLES, fftbins=True)
    bank = mel_filterbank()
    mel = np.empty((N_MELS, len(frames)), dtype=np.float64)
    for start in range(0, len(frames), STFT_CHUNK_STEPS):  # bounded memory for hour-long dubs
        chunk = frames[start:start + STFT_CHUNK_STEPS] * window
        mel[:, start:start + len(chunk)] = bank @ np.abs(np.fft.rfft(chunk, n=N_FFT, axis=-1)).T
    min_amplitude = 10.0 ** (MIN_LEVEL_DB / 20.0)
    decibels = 20.0 * np.log10(np.maximum(min_amplitude, mel)) - REF_LEVEL_DB
    scaled = 2 * MAX_ABS_VALUE * (decibels - MIN_LEVEL_DB) / -MIN_LEVEL_DB - MAX_ABS_VALUE
    return np.clip(scaled, -MAX_ABS_VALUE, MAX_ABS_VALUE).astype(np.float32)


def mel_start_index(frame_index: int, *, fps: float) -> int:
    """First mel step of video frame `frame_index`: int(80 / fps * index), as trained."""
    return int(MEL_STEPS_PER_SECOND / fps * frame_index)


def mel_window(mel: np.ndarray, frame_index: int, *, fps: float) -> np.ndarray:
    """The (80, 16) mel window for one video frame; past the end it is padded with silence.

    The reference stops at the last full window; we keep one output per input frame
    instead, so frames beyond the audio see silence and the mouth closes.
    """
    if fps <= 0:
        raise BadInput(f"fps must be positive, got {fps}")
    start = mel_start_index(frame_index, fps=fps)
    window = mel[:, start:start + MEL_WINDOW_STEPS]
    if window.shape[1] == MEL_WINDOW_STEPS:
        return window
    out = np.full((mel.shape[0], MEL_WINDOW_STEPS), SILENCE_LEVEL, dtype=mel.dtype)
    out[:, :window.shape[1]] = window
    return out


def mel_windows(mel: np.ndarray, frame_indices: np.ndarray, *, fps: float) -> np.ndarray:
    """(len(indices), 80, 16) windows gathered in one fancy-indexing step (no Python loop)."""
    if fps <= 0:
        raise BadInput(f"fps must be positive, got {fps}")
    indices = np.asarray(frame_indices, dtype=np.int64)
    starts = (MEL_STEPS_PER_SECOND / fps * indices).astype(np.int64)
    padded = np.concatenate(
        [mel, np.full((mel.shape[0], MEL_WINDOW_STEPS), SILENCE_LEVEL, dtype=mel.dtype)], axis=1
    )
    columns = np.minimum(starts[:, None] + np.arange(MEL_WINDOW_STEPS)[None, :],
                         padded.shape[1] - 1)
    return np.ascontiguousarray(padded[:, columns].transpose(1, 0, 2))
