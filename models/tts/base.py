"""The contract every text-to-speech backend honours, and what it returns.

Timings matter as much as the audio: the viseme lip-sync drives mouth shapes from
them, and subtitle fitting uses the word spans. So `Speech` refuses to exist
without at least one timing track, and checks that the timings are ordered and
inside the audio.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from likeness.errors import InternalError
from media.timed_text import PhonemeTiming, WordTiming
from models.registry import Availability
from models.weights import WeightFile

TIMING_TOLERANCE_S = 0.02  # rounding slack when a timing touches the end of the audio


@dataclass(frozen=True)
class Speech:
    """Synthesized mono speech with word and/or phoneme timings.

    ``timing_source`` says whether the timings came from the model itself
    (``"aligned"``) or were estimated from the text and the audio (``"estimated"``),
    so downstream code can judge how far to trust them.
    """

    samples: np.ndarray
    sample_rate: int
    words: tuple[WordTiming, ...] = ()
    phonemes: tuple[PhonemeTiming, ...] = ()
    engine: str = ""
    voice: str = ""
    language: str = ""
    timing_source: str = "estimated"

    def __post_init__(self) -> None:
        if self.samples.ndim != 1 or self.samples.dtype != np.float32:
            raise InternalError(
                f"Speech samples must be 1-D float32, got {self.samples.dtype} "
                f"with shape {self.samples.shape}"
            )
        if self.sample_rate <= 0:
            raise InternalError(f"Speech sample rate must be positive, got {self.sample_rate}")
        if not self.words and not self.phonemes:
            raise InternalError(f"{self.engine or 'tts'}: speech came back without timings")
        _check_track(self.words, self.duration_s, "word")
        _check_track(self.phonemes, self.duration_s, "phoneme")

    @property
    def duration_s(self) -> float:
        """Length of the audio in seconds."""
        return len(self.samples) / self.sample_rate


def _check_track(track: tuple[WordTiming, ...] | tuple[PhonemeTiming, ...],
                 duration_s: float, kind: str) -> None:
    previous_end_s = 0.0
    for item in track:
        if item.start_s < previous_end_s - 1e-6 or item.end_s < item.start_s:
            raise InternalError(f"{kind} timings are not monotonic at {item!r}")
        if item.end_s > duration_s + TIMING_TOLERANCE_S:
            raise InternalError(f"{kind} timing {item!r} ends after the audio ({duration_s} s)")
        previous_end_s = item.end_s


@dataclass(frozen=True)
class VoiceInfo:
    """A voice a backend can speak with, as shown by `likeness models list`."""

    engine: str
    voice: str
    language: str
    description: str = ""


@runtime_checkable
class TTSEngine(Protocol):
    """A text-to-speech backend. One module per backend, registered by ``name``."""

    name: str
    supports_voice_clone: bool
    weights: tuple[WeightFile, ...]

    def availability(self) -> Availability:
        """Can this backend run on this machine right now (weights, binaries, packages)?"""
        ...

    def languages(self) -> frozenset[str]:
        """ISO 639-1 codes (or espeak-ng codes such as ``en-us``) it can speak."""
        ...

    def voices(self, *, language: str | None = None) -> list[VoiceInfo]:
        """Voices for `language`, or every voice."""
        ...

    def synthesize(self, text: str, *, language: str, voice: str | None = None) -> Speech:
        """Speak `text`; raise `BadInput` for an unsupported language or voice."""
        ...


def base_language(code: str) -> str:
    """``en-US`` / ``en_us`` / ``EN`` -> ``en``: backends match on the primary subtag."""
    return code.replace("_", "-").split("-", 1)[0].lower()


def models_subdir(models_dir: Path, name: str) -> Path:
    """The per-engine folder inside the user's models dir (``<models_dir>/<name>``)."""
    return models_dir / name


def speaks(engine: TTSEngine, language: str) -> bool:
    """Whether `engine` has a voice for `language` (compared on the primary subtag)."""
    return base_language(language) in {base_language(code) for code in engine.languages()}


def language_availability(engine: TTSEngine, language: str | None) -> Availability:
    """What every TTS probe answers: can `engine` run here and speak `language`?"""
    status = engine.availability()
    if not status.available:
        return status
    if language is not None and not speaks(engine, language):
        return Availability(False, f"no voice for {language!r}")
    return Availability(True, f"speaks {language!r}" if language else "available")
