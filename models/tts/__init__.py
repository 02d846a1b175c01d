"""Text to speech: one contract, several backends (piper, espeak-ng, kokoro, coqui).

Front door::

    from models.tts import synthesize, pick_tts
    speech = synthesize("Hola.", language="es")          # auto: best available backend
    speech.samples, speech.sample_rate, speech.words, speech.phonemes

Backends are imported lazily, so importing this package costs nothing heavy.
"""

from __future__ import annotations

from pathlib import Path

from models.tts.base import (
    Availability,
    Speech,
    TTSEngine,
    VoiceInfo,
)
from models.tts.registry import (
    AUTO_ORDER,
    ENGINE_NAMES,
    EngineStatus,
    engine_statuses,
    get_engine,
    pick_tts,
)

__all__ = [
    "AUTO_ORDER",
    "ENGINE_NAMES",
    "Availability",
    "EngineStatus",
    "Speech",
    "TTSEngine",
    "VoiceInfo",
    "engine_statuses",
    "get_engine",
    "pick_tts",
    "synthesize",
]


def synthesize(text: str, *, language: str, engine: str | None = None, voice: str | None = None,
               models_dir: Path | None = None) -> Speech:
    """Speak `text` with `engine` (or the best available one for `language`)."""
    backend = pick_tts(language, prefer=engine, strict=engine not in (None, "auto"),
                       models_dir=models_dir)
    return backend.synthesize(text, language=language, voice=voice)
