"""Signal plumbing both audio watermark versions share: input checks, resampling to the
working rate, and a sqrt-Hann STFT whose overlap-add inverse is exact.

Why shared: v1 must keep decoding exactly as it did when its outputs were published,
and v2 embeds through the same analysis/synthesis pair, so one copy of the code
keeps the two from drifting apart.
"""

from __future__ import annotations

import numpy as np

from likeness.errors import BadInput
from media.resample import resample_poly

WORK_RATE_HZ = 16_000
N_FFT = 512
HOP = N_FFT // 2

WINDOW = np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT))


def as_2d(samples: np.ndarray) -> np.ndarray:
    """`samples` as (n, channels) float, or BadInput for anything else."""
    data = np.asarray(samples)
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2 or data.shape[0] == 0 or not np.issubdtype(data.dtype, np.floating):
        raise BadInput("audio must be a float array of shape (n,) or (n, channels)")
    return data


def resample(signal: np.ndarray, rate_from: int, rate_to: int) -> np.ndarray:
    """Polyphase resampling (exact ratio), a no-op at equal rates."""
    if rate_from == rate_to:
        return signal
    return resample_poly(signal, rate_to, rate_from)  # it reduces the ratio itself


def work_mono(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """The channel mean at WORK_RATE_HZ, float64: where every keyed feature is read."""
    return resample(as_2d(samples).astype(np.float64).mean(axis=1), sample_rate, WORK_RATE_HZ)


def stft(signal: np.ndarray, hop: int = HOP) -> np.ndarray:
    """(frames, N_FFT//2+1) complex; frame t starts at sample t*hop."""
    n_frames = max(1, int(np.ceil(max(signal.size - N_FFT, 0) / hop)) + 1)
    padded = np.zeros((n_frames - 1) * hop + N_FFT)
    padded[: signal.size] = signal
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::hop]
    return np.fft.rfft(frames * WINDOW, axis=1)


def istft(spec: np.ndarray, length: int) -> np.ndarray:
    """Overlap-add inverse of `stft` at HOP (sqrt-Hann twice sums to one at 50 % overlap)."""
    frames = np.fft.irfft(spec, n=N_FFT, axis=1) * WINDOW
    out = np.zeros((spec.shape[0] - 1) * HOP + N_FFT)
    for phase in (0, 1):  # two non-overlapping groups: vectorized adds without aliasing
        group = frames[phase::2]
        starts = (np.arange(group.shape[0]) * 2 + phase) * HOP
        idx = starts[:, None] + np.arange(N_FFT)[None, :]
        out[idx.reshape(-1)] += group.reshape(-1)
    return out[:length]
