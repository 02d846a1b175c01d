"""The speech-recognition contract: timed cues (with word timings) out of speech.

The dub flow needs the language that was heard as much as the text, so a recognizer
reports both; `models.registry` checks this when a backend loads.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from models.asr.whisper_engine import LanguageGuess, Transcript


@runtime_checkable
class Recognizer(Protocol):
    """A speech-recognition backend.

    `model_id` names the weights that will run (e.g. ``base``): with the audio's digest it
    keys the cached transcript, so other weights never reuse another model's lines."""

    name: str

    @property
    def model_id(self) -> str: ...

    def transcribe(self, audio: Path | np.ndarray, *, sample_rate: int | None = None,
                   language: str | None = None, deterministic: bool = False) -> Transcript:
        """Cues with word timestamps; `language` None means detect it. `deterministic`
        forbids sampling fallbacks: the same file always gives the same words (a check
        must not pass on one run and fail on the next)."""
        ...

    def detect_language(self, audio: Path | np.ndarray, *,
                        sample_rate: int | None = None) -> LanguageGuess:
        """The spoken language of `audio`."""
        ...
