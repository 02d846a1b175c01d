"""Audio for dubbing: load, resample, measure and set loudness, fit, duck and mix.

All sample buffers are float32 arrays shaped (samples, channels) in [-1, 1]:
one layout everywhere avoids the mono/stereo shape bugs that otherwise creep
in between TTS output, the original soundtrack and the encoder.

The dub no longer ducks: it removes the original dialogue (`media.dialogue`) and
masters the mix (`media.loudness`). ``duck_and_mix`` stays for mixes that keep the
whole original under new speech (sidechain style), and is the dub audio benchmark's
"before" figure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import av
import numpy as np

from likeness.errors import BadInput, InternalError
from media.ffmpeg import has_filter, run_ffmpeg
from media.probe import open_input
from media.resample import resample_poly

TimeStretchEngine = Literal["auto", "rubberband", "atempo"]

LOUDNESS_BLOCK_S = 0.4  # BS.1770 gating block; pyloudnorm needs at least this much audio
SILENCE_PEAK = 1e-6  # below this the buffer is treated as digital silence
PEAK_CEILING = 0.989  # about -0.1 dBFS: gain never pushes peaks past this
ATEMPO_MAX_FACTOR = 2.0  # stay in atempo's high-quality range per stage
STRETCH_EPSILON = 1e-3  # ratios closer to 1 than this are not worth a filter pass
DUCK_BLOCK_S = 0.01  # envelope resolution for ducking
FIVE_ONE_LFE_INDEX = 3  # FL FR FC LFE BL BR: BS.1770 ignores the LFE channel
MAX_WEIGHTED_CHANNELS = 5


@dataclass(frozen=True, eq=False)
class AudioTrack:
    """Samples (n, channels) float32 with their rate; what encoders and mixers take."""

    samples: np.ndarray
    sample_rate: int

    def __post_init__(self) -> None:
        if self.samples.ndim != 2 or self.samples.dtype != np.float32:
            raise InternalError(
                f"AudioTrack needs float32 (samples, channels), got {self.samples.dtype} "
                f"{self.samples.shape}; use as_frames()")
        if self.sample_rate <= 0:
            raise InternalError(f"AudioTrack sample rate must be positive: {self.sample_rate}")

    @property
    def channels(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration_s(self) -> float:
        return self.samples.shape[0] / self.sample_rate


@dataclass(frozen=True, eq=False)
class FitResult:
    """Speech fitted to a subtitle slot.

    ``ratio`` is the tempo applied (1.0 = untouched, 1.2 = 20 % faster). When
    ``fits`` is False the speech needed more than ``max_stretch``; it was sped
    up by ``max_stretch`` only and is ``overflow_s`` longer than the slot, so
    the caller can report the segment or shorten the line.
    """

    samples: np.ndarray
    ratio: float
    fits: bool
    overflow_s: float


def as_frames(samples: np.ndarray) -> np.ndarray:
    """Return ``samples`` as float32 (n, channels); a 1-D array becomes mono."""
    array = np.asarray(samples, dtype=np.float32)
    if array.ndim == 1:
        return array[:, np.newaxis]
    if array.ndim != 2:
        raise InternalError(f"audio must be 1-D or (samples, channels), got {array.shape}")
    return array


def load_audio(
    path: Path | str, *, sample_rate: int | None = None, mono: bool = False
) -> tuple[np.ndarray, int]:
    """Decode the first audio stream of ``path`` to float32 (n, channels).

    Resampling and the downmix to mono happen in libswresample while decoding
    (proper channel-weighted downmix, not a plain mean of 5.1 channels).
    """
    media_path = Path(path)
    container = open_input(media_path, what="audio")
    with container:
        if not container.streams.audio:
            raise BadInput(f"{media_path} has no audio track",
                           hint="pass a file with sound, or a separate audio file")
        stream = container.streams.audio[0]
        out_rate = int(sample_rate or stream.codec_context.sample_rate)
        if out_rate <= 0:
            raise BadInput(f"invalid sample rate {sample_rate}")
        layout = "mono" if mono else stream.codec_context.layout.name
        channels = 1 if mono else int(stream.codec_context.channels)
        resampler = av.AudioResampler(format="flt", layout=layout, rate=out_rate)
        chunks: list[np.ndarray] = []
        try:
            for frame in container.decode(stream):
                chunks.extend(_packed(out) for out in resampler.resample(frame))
            chunks.extend(_packed(out) for out in resampler.resample(None))
        except av.error.FFmpegError as exc:
            raise BadInput(f"cannot decode the audio of {media_path}: {exc}",
                           hint="the file may be truncated or corrupt") from exc
    if not chunks:
        return np.zeros((0, channels), dtype=np.float32), out_rate
    return np.concatenate(chunks, axis=0), out_rate


def _packed(frame: av.AudioFrame) -> np.ndarray:
    channels = len(frame.layout.channels)
    return frame.to_ndarray().reshape(-1, channels).astype(np.float32, copy=False)


def resample(samples: np.ndarray, *, from_rate: int, to_rate: int) -> np.ndarray:
    """Change the sample rate of (n, ch) audio; soxr when installed, else polyphase."""
    frames = as_frames(samples)
    if from_rate == to_rate or frames.shape[0] == 0:
        return frames.copy()
    try:
        import soxr
    except ImportError:
        soxr = None
    if soxr is not None:
        return np.asarray(soxr.resample(frames, from_rate, to_rate), dtype=np.float32)
    return resample_poly(frames, to_rate, from_rate, axis=0).astype(np.float32)


def measure_loudness(samples: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness in LUFS (BS.1770); ``-inf`` for silence.

    Audio shorter than one 400 ms gating block is measured by repeating it,
    which estimates the loudness of a short utterance instead of failing.
    """
    import pyloudnorm

    frames = _bs1770_channels(as_frames(samples))
    if frames.shape[0] == 0 or float(np.max(np.abs(frames))) < SILENCE_PEAK:
        return float("-inf")
    block_samples = int(math.ceil(LOUDNESS_BLOCK_S * sample_rate)) + 1
    if frames.shape[0] < block_samples:
        frames = np.tile(frames, (int(math.ceil(block_samples / frames.shape[0])), 1))
    meter = pyloudnorm.Meter(sample_rate)
    return float(meter.integrated_loudness(frames.astype(np.float64)))


def _bs1770_channels(frames: np.ndarray) -> np.ndarray:
    if frames.shape[1] == MAX_WEIGHTED_CHANNELS + 1:
        return np.delete(frames, FIVE_ONE_LFE_INDEX, axis=1)
    if frames.shape[1] > MAX_WEIGHTED_CHANNELS:
        return frames.mean(axis=1, keepdims=True)
    return frames


def loudness_normalize(
    samples: np.ndarray, sample_rate: int, *, target_lufs: float = -23.0
) -> np.ndarray:
    """Scale audio to ``target_lufs`` integrated loudness (EBU R128 default -23).

    Silence is returned unchanged (it has no loudness to scale). The gain is
    reduced when it would push peaks past ``PEAK_CEILING``: a little quieter
    than asked is better than clipped speech.
    """
    frames = as_frames(samples)
    loudness = measure_loudness(frames, sample_rate)
    if not math.isfinite(loudness):
        return frames.copy()
    gain = 10.0 ** ((target_lufs - loudness) / 20.0)
    peak = float(np.max(np.abs(frames)))
    if peak * gain > PEAK_CEILING:
        gain = PEAK_CEILING / peak
    return (frames * gain).astype(np.float32)


def fit_to_slot(
    samples: np.ndarray,
    sample_rate: int,
    *,
    slot_seconds: float,
    max_stretch: float = 1.35,
    engine: TimeStretchEngine = "auto",
) -> FitResult:
    """Make speech last exactly ``slot_seconds`` without changing its pitch.

    Shorter speech is padded with trailing silence. Longer speech is sped up
    (rubberband when the ffmpeg build has it, else atempo) by at most
    ``max_stretch``; beyond that the result reports ``fits=False``.
    """
    if slot_seconds <= 0:
        raise BadInput(f"invalid slot length {slot_seconds} s: must be positive")
    if max_stretch < 1.0:
        raise BadInput(f"invalid max_stretch {max_stretch}: must be at least 1.0")
    frames = as_frames(samples)
    slot_samples = int(round(slot_seconds * sample_rate))
    needed = frames.shape[0] / slot_samples
    if needed <= 1.0 + STRETCH_EPSILON:
        return FitResult(samples=_pad_or_trim(frames, slot_samples), ratio=1.0, fits=True,
                         overflow_s=0.0)
    ratio = min(needed, max_stretch)
    stretched = time_stretch(frames, sample_rate, tempo=ratio, engine=engine)
    if needed <= max_stretch:
        return FitResult(samples=_pad_or_trim(stretched, slot_samples), ratio=ratio, fits=True,
                         overflow_s=0.0)
    overflow_s = (stretched.shape[0] - slot_samples) / sample_rate
    return FitResult(samples=stretched, ratio=ratio, fits=False, overflow_s=overflow_s)


def time_stretch(
    samples: np.ndarray, sample_rate: int, *, tempo: float, engine: TimeStretchEngine = "auto"
) -> np.ndarray:
    """Play ``samples`` ``tempo`` times faster at the same pitch (ffmpeg filter via pipes).

    The output length is set to exactly ``round(n / tempo)`` so callers can
    rely on the arithmetic; filters differ from it by a few milliseconds.
    """
    if tempo <= 0:
        raise BadInput(f"invalid tempo {tempo}: must be positive")
    frames = np.ascontiguousarray(as_frames(samples))
    target = int(round(frames.shape[0] / tempo))
    if frames.shape[0] == 0 or abs(tempo - 1.0) <= STRETCH_EPSILON:
        return _pad_or_trim(frames, target)
    channels = frames.shape[1]
    raw = run_ffmpeg(
        ["-f", "f32le", "-ar", str(sample_rate), "-ac", str(channels), "-i", "pipe:0",
         "-af", _stretch_filter(tempo, engine), "-f", "f32le", "-ac", str(channels),
         "-ar", str(sample_rate), "pipe:1"],
        what=f"time-stretching speech by {tempo:.3f}",
        stdin_bytes=frames.tobytes(),
    )
    stretched = np.frombuffer(raw, dtype=np.float32).reshape(-1, channels)
    return _pad_or_trim(stretched, target)


def _stretch_filter(tempo: float, engine: TimeStretchEngine) -> str:
    use_rubberband = engine == "rubberband" or (engine == "auto" and has_filter("rubberband"))
    if use_rubberband:
        if not has_filter("rubberband"):
            raise InternalError("this ffmpeg has no rubberband filter",
                                hint="use engine='atempo' or install Debian's ffmpeg")
        return f"rubberband=tempo={tempo:.6f}:pitchq=quality"
    stages: list[str] = []
    remaining = tempo
    while remaining > ATEMPO_MAX_FACTOR:
        stages.append(f"atempo={ATEMPO_MAX_FACTOR}")
        remaining /= ATEMPO_MAX_FACTOR
    while remaining < 1.0 / ATEMPO_MAX_FACTOR:
        stages.append(f"atempo={1.0 / ATEMPO_MAX_FACTOR}")
        remaining *= ATEMPO_MAX_FACTOR
    stages.append(f"atempo={remaining:.6f}")
    return ",".join(stages)


def _pad_or_trim(frames: np.ndarray, length: int) -> np.ndarray:
    if frames.shape[0] >= length:
        return np.ascontiguousarray(frames[:length], dtype=np.float32)
    padding = np.zeros((length - frames.shape[0], frames.shape[1]), dtype=np.float32)
    return np.concatenate([frames, padding], axis=0)


def duck_and_mix(
    original: np.ndarray,
    speech: np.ndarray,
    sample_rate: int,
    *,
    duck_db: float = -15.0,
    attack_ms: float = 40.0,
    release_ms: float = 250.0,
    hold_ms: float = 200.0,
    threshold_dbfs: float = -45.0,
) -> np.ndarray:
    """Lower ``original`` by ``duck_db`` wherever ``speech`` is active, then add speech.

    Offline, so the gain ramps down *before* each speech onset (over
    ``attack_ms``) and back up over ``release_ms`` after it ends; the envelope
    is computed per 10 ms block with vectorised numpy. ``hold_ms`` keeps the
    duck through short pauses between words so the bed does not pump. Both inputs share
    ``sample_rate``; the output has the original's channel count and the
    longer length, and is scaled down only if the sum would clip.
    """
    if duck_db > 0:
        raise BadInput(f"duck_db must be zero or negative, got {duck_db}")
    base = as_frames(original)
    voice = as_frames(speech)
    channels = max(base.shape[1], voice.shape[1])
    length = max(base.shape[0], voice.shape[0])
    base = _pad_or_trim(_to_channels(base, channels), length)
    voice = _pad_or_trim(_to_channels(voice, channels), length)
    if length == 0:
        return base
    gain = _duck_gain(voice, sample_rate, duck_db=duck_db, attack_ms=attack_ms,
                      release_ms=release_ms, hold_ms=hold_ms, threshold_dbfs=threshold_dbfs)
    mixed = base * gain[:, np.newaxis] + voice
    peak = float(np.max(np.abs(mixed)))
    if peak > 1.0:
        mixed /= peak / PEAK_CEILING
    return mixed.astype(np.float32, copy=False)


def _to_channels(frames: np.ndarray, channels: int) -> np.ndarray:
    if frames.shape[1] == channels:
        return frames
    mono = frames if frames.shape[1] == 1 else frames.mean(axis=1, keepdims=True)
    return np.repeat(mono, channels, axis=1)


def _duck_gain(
    voice: np.ndarray,
    sample_rate: int,
    *,
    duck_db: float,
    attack_ms: float,
    release_ms: float,
    hold_ms: float,
    threshold_dbfs: float,
) -> np.ndarray:
    """Per-sample linear gain for the original track (1 = untouched)."""
    block = max(1, int(round(DUCK_BLOCK_S * sample_rate)))
    count = int(math.ceil(voice.shape[0] / block))
    padded = _pad_or_trim(voice, count * block)
    rms = np.sqrt(np.mean(np.square(padded).reshape(count, block, -1), axis=(1, 2)))
    active = 20.0 * np.log10(np.maximum(rms, 1e-12)) > threshold_dbfs
    if not active.any():
        return np.ones(voice.shape[0], dtype=np.float32)
    positions = np.arange(count)
    last_active = np.maximum.accumulate(np.where(active, positions, -count * 10))
    next_active = np.minimum.accumulate(np.where(active, positions, count * 10)[::-1])[::-1]
    since_s = np.maximum((positions - last_active) * DUCK_BLOCK_S - hold_ms / 1000.0, 0.0)
    until_s = (next_active - positions) * DUCK_BLOCK_S
    release_s = max(release_ms / 1000.0, DUCK_BLOCK_S)
    attack_s = max(attack_ms / 1000.0, DUCK_BLOCK_S)
    depth = np.maximum(np.clip(1.0 - since_s / release_s, 0.0, 1.0),
                       np.clip(1.0 - until_s / attack_s, 0.0, 1.0))
    block_gain = 10.0 ** (duck_db * depth / 20.0)
    centers = (positions + 0.5) * block
    sample_gain = np.interp(np.arange(voice.shape[0]), centers, block_gain)
    return sample_gain.astype(np.float32)
