"""Speech recognition: faster-whisper on local weights, timed cues out.

Front door::

    from models.asr import transcribe
    from media.subtitles import write_subtitles
    transcript = transcribe(Path("talk.wav"))             # language detected
    write_subtitles(transcript.cues, Path("talk.en.srt"))  # cues are media.timed_text.Cue

Weights are never fetched from a hub; see `models.asr.whisper_engine`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.asr.whisper_engine import (
    WEIGHTS,
    LanguageGuess,
    Transcript,
    WhisperRecognizer,
    find_model_dir,
)

__all__ = [
    "WEIGHTS",
    "LanguageGuess",
    "Transcript",
    "WhisperRecognizer",
    "detect_language",
    "find_model_dir",
    "transcribe",
]


def transcribe(audio: Path | np.ndarray, *, sample_rate: int | None = None,
               language: str | None = None, model: str = "auto",
               models_dir: Path | None = None, cache_dir: Path | None = None) -> Transcript:
    """Transcribe `audio` (a media file or raw samples) with word timestamps."""
    recognizer = WhisperRecognizer(model=model, models_dir=models_dir, cache_dir=cache_dir)
    return recognizer.transcribe(audio, sample_rate=sample_rate, language=language)


def detect_language(audio: Path | np.ndarray, *, sample_rate: int | None = None,
                    model: str = "auto", models_dir: Path | None = None,
                    cache_dir: Path | None = None) -> LanguageGuess:
    """The spoken language of `audio`, from a multilingual model."""
    recognizer = WhisperRecognizer(model=model, models_dir=models_dir, cache_dir=cache_dir)
    return recognizer.detect_language(audio, sample_rate=sample_rate)
