"""Text to speech: one contract, several backends (piper, kokoro, espeak-ng, coqui).

Front door::

    from models import registry
    engine = registry.get("tts", "auto", language="es", models_dir=d, policy=p)
    speech = engine.synthesize("Hola.", language="es")
    speech.samples, speech.sample_rate, speech.words, speech.phonemes

``auto`` takes the first backend that runs here and speaks the language, in the order
piper > kokoro > espeak-ng (see `models.registry.SPECS`); coqui only by name. Backends
are imported lazily, so importing this package costs nothing heavy.
"""

from __future__ import annotations

from models.tts.base import (
    Speech,
    TTSEngine,
    VoiceInfo,
    speaks,
)

__all__ = [
    "Speech",
    "TTSEngine",
    "VoiceInfo",
    "speaks",
]
