"""Media for the viseme tests, generated here: portraits in 720p frames, espeak-ng speech."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

FACES_DIR = Path(__file__).resolve().parents[2] / "assets" / "faces"
FPS = 25.0


@functools.cache
def portrait(name: str = "female01") -> np.ndarray:
    from models.face import load_image

    return load_image(FACES_DIR / f"{name}.png")


@functools.cache
def engine():  # type: ignore[no-untyped-def]
    from tests.support.engines import engine as registry_engine

    return registry_engine("face", "dlib")


@functools.cache
def speech():  # type: ignore[no-untyped-def]
    """About two seconds of espeak-ng English with estimated phoneme timings."""
    from tests.support.engines import engine as registry_engine

    return registry_engine("tts", "espeak-ng").synthesize("Hello there. How are you today?",
                                                         language="en")


def canvas(height: int, width: int) -> np.ndarray:
    out = np.empty((height, width, 3), dtype=np.uint8)
    out[:] = (200, 205, 210)
    return out


def frame_loudness(samples: np.ndarray, sample_rate: int, frame_count: int, fps: float
                   ) -> np.ndarray:
    """RMS of the audio under each video frame (the speech envelope at frame rate)."""
    per_frame = sample_rate / fps
    out = np.zeros(frame_count)
    for i in range(frame_count):
        chunk = samples[int(i * per_frame):int((i + 1) * per_frame)]
        out[i] = float(np.sqrt(np.mean(chunk.astype(np.float64) ** 2))) if len(chunk) else 0.0
    return out
