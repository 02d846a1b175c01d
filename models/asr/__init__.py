"""Speech recognition: faster-whisper on local weights, cues out, SRT/VTT writers.

Front door::

    from models import registry
    recognizer = registry.get("asr", "auto", models_dir=d, policy=p, cache_dir=c)
    transcript = recognizer.transcribe(Path("talk.wav"))        # language detected
    write_subtitles(transcript.cues, Path("talk.en.srt"))

Weights are never fetched from a hub; see `models.asr.whisper_engine`.
"""

from __future__ import annotations

from models.asr.base import Recognizer
from models.asr.cues import Cue, RecognizedWord, to_srt, to_vtt, write_subtitles
from models.asr.whisper_engine import (
    WEIGHTS,
    LanguageGuess,
    Transcript,
    WhisperRecognizer,
    find_model_dir,
)

__all__ = [
    "WEIGHTS",
    "Cue",
    "LanguageGuess",
    "Recognizer",
    "RecognizedWord",
    "Transcript",
    "WhisperRecognizer",
    "find_model_dir",
    "to_srt",
    "to_vtt",
    "write_subtitles",
]
