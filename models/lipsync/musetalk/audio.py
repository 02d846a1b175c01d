"""From new speech to one cross-attention prompt per video frame, as MuseTalk 1.5 hears it.

1. Log-mel, whisper's recipe: 16 kHz, 25 ms Hann frames every 10 ms (centred,
   reflect-padded), 80 Slaney mel bands 0-8 kHz, log10 of the power, floored 8
   decades under the segment's peak, scaled by (x + 4) / 4. Audio goes in 30 s
   segments, each zero-padded to 30 s, because the encoder only knows 3000 mel steps.
2. The encoder's 5 hidden states per 20 ms (`WhisperEncoder`), trimmed to the real
   length of the speech; beyond it the features are zeros (silence, as MuseTalk pads).
3. Per frame at time t: the 10 feature steps from t - 80 ms to t + 120 ms (2 video
   frames of context each side at 25 fps), flattened time-major to (50, 384).

Step 1 and 3 are numpy; step 2 runs the network and lives in `networks`.
"""

from __future__ import annotations

import math

import numpy as np

from likeness.errors import BadInput
from models.lipsync.musetalk.config import (
    AUDIO_CONTEXT_LEFT,
    AUDIO_CONTEXT_RIGHT,
    FEATURES_PER_VIDEO_FRAME,
    WHISPER_FEATURES_PER_SECOND,
    WHISPER_SAMPLE_RATE_HZ,
    WHISPER_SEGMENT_S,
)
from models.lipsync.wav2lip.audio import mel_filterbank, prepare_audio

N_FFT = 400  # 25 ms at 16 kHz
HOP_SAMPLES = 160  # 10 ms: 100 mel steps per second
N_MELS = 80
SEGMENT_SAMPLES = WHISPER_SEGMENT_S * WHISPER_SAMPLE_RATE_HZ
SEGMENT_MEL_STEPS = SEGMENT_SAMPLES // HOP_SAMPLES  # 3000
SAMPLES_PER_FEATURE = WHISPER_SAMPLE_RATE_HZ // WHISPER_FEATURES_PER_SECOND  # 320
LOG_FLOOR = 1e-10
DYNAMIC_RANGE_DECADES = 8.0
WINDOW_STEPS = FEATURES_PER_VIDEO_FRAME * (AUDIO_CONTEXT_LEFT + AUDIO_CONTEXT_RIGHT + 1)  # 10
LEAD_STEPS = FEATURES_PER_VIDEO_FRAME * AUDIO_CONTEXT_LEFT  # 4 steps (80 ms) before the frame

__all__ = ["feature_count", "frame_windows", "log_mel_segments", "prepare_audio"]


def log_mel_segments(samples_16k: np.ndarray) -> np.ndarray:
    """(segments, 80, 3000) float32 log-mel, one row per 30 s of speech (at least one)."""
    wav = np.asarray(samples_16k, dtype=np.float64)
    if wav.ndim != 1:
        raise BadInput(f"musetalk: expected mono 16 kHz samples, got shape {wav.shape}")
    count = max(1, math.ceil(wav.size / SEGMENT_SAMPLES))
    padded = np.zeros(count * SEGMENT_SAMPLES, dtype=np.float64)
    padded[: wav.size] = wav
    bank = mel_filterbank(sample_rate_hz=WHISPER_SAMPLE_RATE_HZ, n_fft=N_FFT, n_mels=N_MELS,
                          fmin_hz=0.0, fmax_hz=WHISPER_SAMPLE_RATE_HZ / 2)
    window = np.hanning(N_FFT + 1)[:-1]  # periodic Hann
    out = np.empty((count, N_MELS, SEGMENT_MEL_STEPS), dtype=np.float32)
    for index in range(count):
        segment = padded[index * SEGMENT_SAMPLES:(index + 1) * SEGMENT_SAMPLES]
        framed = np.lib.stride_tricks.sliding_window_view(
            np.pad(segment, N_FFT // 2, mode="reflect"), N_FFT)[::HOP_SAMPLES]
        power = np.abs(np.fft.rfft(framed * window, axis=-1)) ** 2
        mel = (bank @ power.T)[:, :SEGMENT_MEL_STEPS]  # whisper drops the last frame
        log_spec = np.log10(np.maximum(mel, LOG_FLOOR))
        log_spec = np.maximum(log_spec, log_spec.max() - DYNAMIC_RANGE_DECADES)
        out[index] = ((log_spec + 4.0) / 4.0).astype(np.float32)
    return out


def feature_count(sample_count: int) -> int:
    """How many 20 ms feature steps the speech really fills (the rest is padding)."""
    return math.ceil(sample_count / SAMPLES_PER_FEATURE)


def frame_windows(features: np.ndarray, frame_indices: np.ndarray, *, fps: float) -> np.ndarray:
    """(len(indices), 10 * states, width) prompts for the given video frames.

    `features` is (steps, states, width), already trimmed to the speech. Frame i at
    i / fps seconds takes steps floor(i * 50 / fps) - 4 .. +10; steps outside the
    speech are zeros, so the first and last frames see silence on their open side.
    """
    if fps <= 0:
        raise BadInput(f"musetalk: fps must be positive, got {fps}")
    if features.ndim != 3:
        raise BadInput(f"musetalk: features must be (steps, states, width), got {features.shape}")
    steps, states, width = features.shape
    indices = np.asarray(frame_indices, dtype=np.int64)
    starts = np.floor(indices * (WHISPER_FEATURES_PER_SECOND / fps)).astype(np.int64) - LEAD_STEPS
    columns = starts[:, None] + np.arange(WINDOW_STEPS)[None, :]
    padded = np.concatenate([features, np.zeros((1, states, width), dtype=features.dtype)])
    columns = np.where((columns >= 0) & (columns < steps), columns, steps)  # -> the zero row
    return np.ascontiguousarray(padded[columns].reshape(len(indices), WINDOW_STEPS * states,
                                                        width))
