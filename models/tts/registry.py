"""Backends by name, and the per-language fallback order used by ``auto``.

Choosing a backend is a lookup here, never an ``if`` chain in a flow. Order of
preference (first backend that is available and speaks the language wins):

    en            piper > kokoro > espeak-ng
    es, fr, ...   piper (only with a user voice for it) > kokoro > espeak-ng
    anything else espeak-ng (every language it has)

coqui is never picked automatically: it needs a consented reference clip and a
user checkpoint, so callers ask for it by name (``prefer="coqui"``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from likeness.errors import BadInput
from models.tts.base import TTSEngine, base_language

_LOGGER = logging.getLogger(__name__)

ENGINE_NAMES: tuple[str, ...] = ("piper", "espeak-ng", "kokoro", "coqui")
AUTO_ORDER: tuple[str, ...] = ("piper", "kokoro", "espeak-ng")


def _factories() -> dict[str, Callable[[Path | None], TTSEngine]]:
    """Imports stay inside so that listing names never loads onnxruntime or piper."""
    from models.tts.coqui_engine import CoquiEngine
    from models.tts.espeak_engine import EspeakEngine
    from models.tts.kokoro_engine import KokoroEngine
    from models.tts.piper_engine import PiperEngine

    return {
        "piper": lambda models_dir: PiperEngine(models_dir=models_dir),
        "espeak-ng": lambda models_dir: EspeakEngine(),
        "kokoro": lambda models_dir: KokoroEngine(models_dir=models_dir),
        "coqui": lambda models_dir: CoquiEngine(models_dir=models_dir),
    }


def get_engine(name: str, *, models_dir: Path | None = None) -> TTSEngine:
    """The backend called `name` (``espeak`` is accepted for ``espeak-ng``)."""
    key = "espeak-ng" if name == "espeak" else name
    factories = _factories()
    if key not in factories:
        raise BadInput(f"unknown TTS engine {name!r}",
                       hint=f"choose one of {', '.join(ENGINE_NAMES)}")
    engine = factories[key](models_dir)
    if not isinstance(engine, TTSEngine):  # the contract is checked when loaded
        raise BadInput(f"TTS engine {name!r} does not implement the TTSEngine protocol")
    return engine


def speaks(engine: TTSEngine, language: str) -> bool:
    """Whether `engine` has a voice for `language` (compared on the primary subtag)."""
    return base_language(language) in {base_language(code) for code in engine.languages()}


def pick_tts(language: str, *, prefer: str | None = None, strict: bool = False,
             models_dir: Path | None = None) -> TTSEngine:
    """The backend to speak `language`: `prefer` first, then the documented order.

    With ``strict`` a preferred backend that cannot serve is an error instead of
    a logged fallback (for a user who named the engine on the command line).
    """
    reasons: list[str] = []
    if prefer not in (None, "auto"):
        engine = get_engine(prefer, models_dir=models_dir)
        status = engine.availability()
        if status.available and speaks(engine, language):
            return engine
        reason = status.reason or f"{engine.name} has no voice for {language!r}"
        if strict:
            raise BadInput(f"TTS engine {prefer!r} cannot speak {language!r}: {reason}")
        _LOGGER.warning("TTS engine %s unusable (%s); falling back", prefer, reason)
        reasons.append(f"{engine.name}: {reason}")
    for name in AUTO_ORDER:
        engine = get_engine(name, models_dir=models_dir)
        status = engine.availability()
        if not status.available:
            reasons.append(f"{name}: {status.reason}")
            continue
        if speaks(engine, language):
            return engine
        reasons.append(f"{name}: no voice for {language!r}")
    raise BadInput(f"no TTS engine can speak {language!r}", hint="; ".join(reasons))


@dataclass(frozen=True)
class EngineStatus:
    """One line of `likeness models list` for a TTS backend."""

    name: str
    available: bool
    reason: str
    supports_voice_clone: bool
    languages: tuple[str, ...]


def engine_statuses(*, models_dir: Path | None = None) -> list[EngineStatus]:
    """Every registered backend with its availability and languages."""
    statuses: list[EngineStatus] = []
    for name in ENGINE_NAMES:
        engine = get_engine(name, models_dir=models_dir)
        status = engine.availability()
        languages = tuple(sorted(engine.languages())) if status.available else ()
        statuses.append(EngineStatus(name=name, available=status.available, reason=status.reason,
                                     supports_voice_clone=engine.supports_voice_clone,
                                     languages=languages))
    return statuses
