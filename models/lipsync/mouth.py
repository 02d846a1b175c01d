"""Mouth shapes over time, from phoneme timings or from the audio itself.

A mouth shape is three numbers in [0, 1]: `opening` (jaw drop / lip gap), `width`
(0 puckered, 0.5 at rest, 1 spread) and `rounding` (lip protrusion as in "oo").
`MouthTrack` holds them on a fixed 100 Hz clock so a video of any frame rate reads
its frame times from the same track: frame i shows time i / fps.

With phoneme timings (espeak-ng or Piper IPA), each phoneme maps to a viseme;
the track is smoothed with a short Gaussian (co-articulation: lips move towards the
next sound before it starts), and the audio's loudness gates it so the mouth closes
in the pauses even when the timings are estimates. Without timings the shape comes
from the audio: the RMS envelope opens the mouth, the spectral centroid spreads it
(bright /i/, /e/) or rounds it (dark /u/, /o/), and noisy fricatives close it a little.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.ndimage import gaussian_filter1d

from likeness.errors import BadInput
from media.timed_text import PhonemeTiming

TRACK_RATE_HZ = 100.0
ANALYSIS_WINDOW_S = 0.025
DEFAULT_SMOOTHING_S = 0.035  # Gaussian sigma over the track (co-articulation, no flicker)
SILENCE_FLOOR_DB = -38.0  # below this (relative to loud speech) the mouth is closed
LOUDNESS_RANGE_DB = 30.0  # from the floor to full opening
LOUD_PERCENTILE = 95.0
CENTROID_LOW_HZ = 400.0
CENTROID_HIGH_HZ = 3200.0
REST_WIDTH = 0.5
AUDIO_OPENING_SHARE = 0.5  # of the opening taken from loudness when timings exist
CLOSURE_OPENING = 0.15  # below this viseme opening the audio may not open the mouth further

# (opening, width, rounding) per sound. Keys are IPA symbols (espeak-ng and Piper use
# the same inventory) after stress marks, length marks and diacritics are removed.
_VOWELS: dict[str, tuple[float, float, float]] = {
    "a": (0.90, 0.62, 0.00), "ɑ": (0.95, 0.55, 0.05), "æ": (0.80, 0.72, 0.00),
    "ɐ": (0.70, 0.55, 0.05), "ʌ": (0.65, 0.52, 0.05), "ə": (0.45, 0.50, 0.05),
    "ɚ": (0.40, 0.45, 0.30), "ɜ": (0.50, 0.50, 0.10), "ɝ": (0.40, 0.45, 0.30),
    "e": (0.55, 0.78, 0.00), "ɛ": (0.65, 0.72, 0.00), "i": (0.30, 0.92, 0.00),
    "ɪ": (0.38, 0.82, 0.00), "ɨ": (0.35, 0.60, 0.10), "y": (0.28, 0.20, 0.90),
    "ʏ": (0.32, 0.25, 0.80), "ø": (0.45, 0.28, 0.75), "œ": (0.55, 0.32, 0.65),
    "o": (0.55, 0.25, 0.85), "ɔ": (0.72, 0.32, 0.65), "ɒ": (0.80, 0.40, 0.45),
    "u": (0.28, 0.12, 1.00), "ʊ": (0.35, 0.22, 0.80), "ɯ": (0.30, 0.55, 0.10),
    "ɤ": (0.45, 0.45, 0.10), "ɵ": (0.45, 0.30, 0.60), "ɘ": (0.45, 0.50, 0.05),
    "ɞ": (0.55, 0.40, 0.40), "ɶ": (0.85, 0.45, 0.50),
}
_CONSONANTS: dict[str, tuple[float, float, float]] = {
    # bilabials: lips pressed together
    "p": (0.0, 0.48, 0.10), "b": (0.0, 0.48, 0.10), "m": (0.0, 0.48, 0.05),
    "ɸ": (0.05, 0.40, 0.30), "β": (0.05, 0.40, 0.30),
    # labiodentals: lower lip to the upper teeth
    "f": (0.06, 0.52, 0.00), "v": (0.06, 0.52, 0.00), "ɱ": (0.04, 0.50, 0.00),
    # dentals and alveolars
    "θ": (0.18, 0.55, 0.00), "ð": (0.18, 0.55, 0.00),
    "t": (0.18, 0.55, 0.00), "d": (0.20, 0.55, 0.00), "n": (0.18, 0.52, 0.00),
    "s": (0.10, 0.65, 0.00), "z": (0.10, 0.65, 0.00), "l": (0.25, 0.52, 0.00),
    "ɾ": (0.22, 0.52, 0.00), "r": (0.22, 0.50, 0.10), "ɹ": (0.20, 0.40, 0.45),
    "ɬ": (0.20, 0.55, 0.00), "ɫ": (0.25, 0.48, 0.10),
    # post-alveolars: lips pushed out
    "ʃ": (0.18, 0.28, 0.70), "ʒ": (0.18, 0.28, 0.70), "ɕ": (0.15, 0.40, 0.40),
    "ʑ": (0.15, 0.40, 0.40), "ʂ": (0.18, 0.32, 0.60), "ʐ": (0.18, 0.32, 0.60),
    # palatals, velars, glottals
    "j": (0.22, 0.75, 0.00), "ç": (0.20, 0.65, 0.00), "ʝ": (0.22, 0.70, 0.00),
    "ɲ": (0.20, 0.55, 0.00), "k": (0.28, 0.52, 0.05), "g": (0.28, 0.52, 0.05),
    "ɡ": (0.28, 0.52, 0.05), "ŋ": (0.25, 0.52, 0.05), "x": (0.30, 0.50, 0.05),
    "ɣ": (0.30, 0.50, 0.05), "χ": (0.30, 0.50, 0.10), "ʁ": (0.30, 0.48, 0.15),
    "ʀ": (0.30, 0.48, 0.15), "h": (0.35, 0.52, 0.00), "ɦ": (0.35, 0.52, 0.00),
    "ʔ": (0.15, 0.50, 0.00), "ʎ": (0.22, 0.55, 0.00), "ʋ": (0.08, 0.45, 0.20),
    # labial-velars: rounded glides
    "w": (0.15, 0.12, 0.92), "ʍ": (0.15, 0.12, 0.92), "ɥ": (0.15, 0.15, 0.90),
}
VISEMES: dict[str, tuple[float, float, float]] = {**_VOWELS, **_CONSONANTS}
SILENCE: tuple[float, float, float] = (0.0, REST_WIDTH, 0.0)
UNKNOWN_SOUND: tuple[float, float, float] = (0.30, REST_WIDTH, 0.05)
_SILENT_SYMBOLS = frozenset(" _.,;:!?|-—–…'\"()[]^$#")
_MODIFIERS = frozenset("ˈˌːˑ‿ʰʲʷˠˤ^͡")


@dataclass(frozen=True)
class MouthShape:
    """One mouth pose: each value in [0, 1]."""

    opening: float
    width: float
    rounding: float


def viseme_for(phoneme: str) -> MouthShape:
    """The mouth shape for one phoneme symbol (stress/length/diacritics ignored).

    A diphthong or affricate ("aɪ", "tʃ") takes the shape of its first sound, which
    is the one the lips must reach first; silence symbols give a closed mouth.
    """
    text = unicodedata.normalize("NFD", phoneme)
    core = "".join(c for c in text if c not in _MODIFIERS and not unicodedata.combining(c))
    if not core or all(c in _SILENT_SYMBOLS for c in core):
        return MouthShape(*SILENCE)
    if core in VISEMES:
        return MouthShape(*VISEMES[core])
    for char in core:
        if char in VISEMES:
            return MouthShape(*VISEMES[char])
    return MouthShape(*UNKNOWN_SOUND)


@dataclass(frozen=True)
class MouthTrack:
    """Mouth shapes sampled at `rate_hz` from t = 0; read per frame with `at` or `for_frames`."""

    values: np.ndarray  # (N, 3): opening, width, rounding
    rate_hz: float = TRACK_RATE_HZ

    @property
    def duration_s(self) -> float:
        return len(self.values) / self.rate_hz

    def at(self, times_s: np.ndarray | float) -> np.ndarray:
        """Shapes at `times_s` (linear interpolation); silence before 0 and after the end."""
        times = np.atleast_1d(np.asarray(times_s, dtype=np.float64))
        if len(self.values) == 0:
            return np.tile(np.array(SILENCE, np.float32), (len(times), 1))
        position = times * self.rate_hz
        grid = np.arange(len(self.values), dtype=np.float64)
        columns = [
            np.interp(position, grid, self.values[:, k], left=SILENCE[k], right=SILENCE[k])
            for k in range(3)
        ]
        return np.stack(columns, axis=1).astype(np.float32)

    def for_frames(self, frame_indices: np.ndarray, *, fps: float) -> np.ndarray:
        """Shapes for video frames: frame i is shown at i / fps seconds."""
        check_fps(fps)
        return self.at(np.asarray(frame_indices, dtype=np.float64) / fps)


def check_fps(fps: float) -> float:
    """Refuse frame rates that cannot index time (0, negative, NaN, absurd)."""
    if not (isinstance(fps, (int, float)) and 1.0 <= float(fps) <= 1000.0):
        raise BadInput(f"fps must be between 1 and 1000, got {fps!r}")
    return float(fps)


def _check_audio(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    if sample_rate <= 0:
        raise BadInput(f"sample_rate must be positive, got {sample_rate}")
    samples = np.asarray(audio)
    if samples.ndim == 2:  # (n, channels): mix down
        samples = samples.mean(axis=1)
    if samples.ndim != 1:
        raise BadInput(f"audio must be 1-D (mono) or (n, channels), got shape {samples.shape}")
    samples = samples.astype(np.float32)
    if not np.isfinite(samples).all():
        raise BadInput("audio contains NaN or infinite samples")
    return samples


def _frames(samples: np.ndarray, sample_rate: int, rate_hz: float) -> np.ndarray:
    """Analysis windows centred on the track clock (zero-padded at the edges)."""
    hop = sample_rate / rate_hz
    window = max(8, int(round(ANALYSIS_WINDOW_S * sample_rate)))
    count = int(np.ceil(len(samples) / hop))
    padded = np.pad(samples, (window // 2, window))
    starts = np.round(np.arange(count) * hop).astype(np.int64)
    view = sliding_window_view(padded, window)
    return view[np.minimum(starts, len(view) - 1)]


def loudness_gate(
    audio: np.ndarray, sample_rate: int, *, rate_hz: float = TRACK_RATE_HZ
) -> np.ndarray:
    """0..1 per track step: 0 in silence, 1 at loud speech (dB above the floor, clipped)."""
    samples = _check_audio(audio, sample_rate)
    if len(samples) == 0:
        return np.zeros(0, dtype=np.float32)
    frames = _frames(samples, sample_rate, rate_hz)
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
    loud = float(np.percentile(rms, LOUD_PERCENTILE)) if len(rms) else 0.0
    if loud <= 1e-7:
        return np.zeros(len(rms), dtype=np.float32)
    level_db = 20.0 * np.log10(np.maximum(rms, 1e-9) / loud)
    return np.clip((level_db - SILENCE_FLOOR_DB) / LOUDNESS_RANGE_DB, 0.0, 1.0).astype(np.float32)


def track_from_audio(
    audio: np.ndarray, sample_rate: int, *, rate_hz: float = TRACK_RATE_HZ,
    smoothing_s: float = DEFAULT_SMOOTHING_S,
) -> MouthTrack:
    """Mouth shapes from loudness and spectral shape alone (no timings needed)."""
    samples = _check_audio(audio, sample_rate)
    if len(samples) == 0:
        return MouthTrack(np.zeros((0, 3), np.float32), rate_hz)
    gate = loudness_gate(samples, sample_rate, rate_hz=rate_hz)
    frames = _frames(samples, sample_rate, rate_hz).astype(np.float32)
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(frames.shape[1]), axis=1)) + 1e-9
    freqs = np.fft.rfftfreq(frames.shape[1], d=1.0 / sample_rate)
    power = spectrum**2
    centroid = (power * freqs).sum(axis=1) / power.sum(axis=1)
    flatness = np.exp(np.log(spectrum).mean(axis=1)) / spectrum.mean(axis=1)
    bright = np.clip((centroid - CENTROID_LOW_HZ) / (CENTROID_HIGH_HZ - CENTROID_LOW_HZ), 0, 1)
    opening = gate * (1.0 - 0.6 * np.clip(flatness * 2.0, 0.0, 1.0))
    width = REST_WIDTH + (bright - 0.45) * 0.8 * gate
    rounding = np.clip(0.55 - bright, 0.0, 1.0) * 1.4 * gate
    values = np.stack([opening, width, rounding], axis=1)
    return MouthTrack(_smooth(values, rate_hz, smoothing_s), rate_hz)


def track_from_timings(
    timings: Sequence[PhonemeTiming], *, duration_s: float | None = None,
    rate_hz: float = TRACK_RATE_HZ, smoothing_s: float = DEFAULT_SMOOTHING_S,
    gate: np.ndarray | None = None,
) -> MouthTrack:
    """Mouth shapes from phoneme timings; `gate` (0..1 per step) closes it in pauses."""
    items = list(timings)
    end_s = max([t.end_s for t in items] + [duration_s or 0.0])
    count = int(np.ceil(end_s * rate_hz)) + 1
    times = (np.arange(count) + 0.5) / rate_hz
    values = np.tile(np.array(SILENCE, np.float64), (count, 1))
    if items:
        starts = np.array([t.start_s for t in items], dtype=np.float64)
        ends = np.array([t.end_s for t in items], dtype=np.float64)
        if (ends < starts).any() or (starts < 0).any():
            raise BadInput("phoneme timings must have 0 <= start_s <= end_s")
        order = np.argsort(starts, kind="stable")
        starts, ends = starts[order], ends[order]
        shapes = np.array([_shape_tuple(items[i].phoneme) for i in order], dtype=np.float64)
        index = np.searchsorted(starts, times, side="right") - 1
        hit = (index >= 0) & (times < ends[np.clip(index, 0, None)])
        values[hit] = shapes[index[hit]]
    if gate is not None and len(gate):
        steps = np.interp(np.arange(count), np.arange(len(gate)), gate, right=0.0)
        # The viseme sets the shape; loudness scales the opening (louder is wider, silence
        # closes), while width and rounding only fade out in real pauses.
        strength = np.clip(steps * 1.6, 0.0, 1.0)
        values[:, 0] *= np.clip(steps, 0.0, 1.0)
        values[:, 1] = REST_WIDTH + (values[:, 1] - REST_WIDTH) * strength
        values[:, 2] *= strength
    return MouthTrack(_smooth(values, rate_hz, smoothing_s), rate_hz)


def mouth_track(
    audio: np.ndarray, sample_rate: int, *, timings: Sequence[PhonemeTiming] | None = None,
    smoothing_s: float = DEFAULT_SMOOTHING_S,
) -> MouthTrack:
    """The track a lip-sync engine uses: timings gated by the audio, else audio alone."""
    samples = _check_audio(audio, sample_rate)
    heard = track_from_audio(samples, sample_rate, smoothing_s=smoothing_s)
    if not timings:
        return heard
    gate = loudness_gate(samples, sample_rate)
    spoken = track_from_timings(
        timings, duration_s=len(samples) / sample_rate, smoothing_s=smoothing_s, gate=gate
    )
    # Timings give the shape (closures on p/b/m, rounding on u/w); the audio says how far
    # the jaw drops, which estimated timings cannot place to the frame. Average the two.
    values = spoken.values.copy()
    steps = min(len(values), len(heard.values))
    shaped = values[:steps, 0]
    allowed = np.clip(shaped / CLOSURE_OPENING, 0.0, 1.0)  # p/b/m stay shut whatever the level
    values[:steps, 0] = (1.0 - AUDIO_OPENING_SHARE) * shaped + (
        AUDIO_OPENING_SHARE * heard.values[:steps, 0] * allowed)
    return MouthTrack(values, spoken.rate_hz)


def _shape_tuple(phoneme: str) -> tuple[float, float, float]:
    shape = viseme_for(phoneme)
    return (shape.opening, shape.width, shape.rounding)


def _smooth(values: np.ndarray, rate_hz: float, smoothing_s: float) -> np.ndarray:
    out = np.asarray(values, dtype=np.float64)
    if smoothing_s > 0 and len(out) > 1:
        out = gaussian_filter1d(out, sigma=smoothing_s * rate_hz, axis=0, mode="nearest")
    return np.clip(out, 0.0, 1.0).astype(np.float32)
