"""Speech recognition: faster-whisper on local weights, timed cues out.

Front door::

    from models import registry
    from media.subtitles import write_subtitles
    recognizer = registry.get("asr", "auto", models_dir=d, policy=p, cache_dir=c)
    transcript = recognizer.transcribe(Path("talk.wav"))        # language detected
    write_subtitles(transcript.cues, Path("talk.en.srt"))  # cues are media.timed_text.Cue

Weights are never fetched from a hub; see `models.asr.whisper_engine`.
"""

from __future__ import annotations

from models.asr.base import Recognizer
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
    "Recognizer",
    "Transcript",
    "WhisperRecognizer",
    "find_model_dir",
]
