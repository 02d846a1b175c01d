"""Kokoro backend: the 82M-parameter StyleTTS-2 style model in ONNX, spoken from IPA.

No package this project can install ships Kokoro voices for our languages, so the
backend only runs when the user places the files in ``<models_dir>/kokoro/``:
a model ``*.onnx``, a voice pack ``voices*.bin``/``*.npz`` (an npz of per-voice
style tables, one 256-d row per token count) and the model's ``config.json``
whose ``vocab`` maps IPA symbols to token ids. Otherwise `availability()` says
which files are missing. Phonemes come from espeak-ng (as Kokoro's own
pipeline does for non-English languages), so es/fr speak with an accent.
Timings are estimated from those phonemes.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from likeness.errors import BadInput, InternalError, MissingWeights
from models.registry import Availability, EnginePolicy
from models.tts.base import (
    Speech,
    VoiceInfo,
    base_language,
    language_availability,
    models_subdir,
)
from models.tts.espeak_engine import espeak_voice_for, phonemize_ipa
from models.tts.timing import estimate_timings
from models.weights import WeightFile

KOKORO_SAMPLE_RATE_HZ = 24000
KOKORO_MAX_TOKENS = 510
KOKORO_PAD_ID = 0
KOKORO_LANGUAGES = frozenset({"en", "es", "fr", "it", "pt", "hi", "ja"})

WEIGHTS: tuple[WeightFile, ...] = (
    WeightFile(engine="kokoro", name="kokoro-v1.0.onnx", source="user:kokoro/kokoro-v1.0.onnx",
               sha256="", size_bytes=0, license="Apache-2.0", commercial_use=True,
               notes="user-supplied (any *.onnx in models/kokoro); not installable here"),
    WeightFile(engine="kokoro", name="voices-v1.0.bin", source="user:kokoro/voices-v1.0.bin",
               sha256="", size_bytes=0, license="Apache-2.0", commercial_use=True,
               notes="npz of voice style tables (any voices*.bin / *.npz in models/kokoro)"),
    WeightFile(engine="kokoro", name="config.json", source="user:kokoro/config.json",
               sha256="", size_bytes=0, license="Apache-2.0", commercial_use=True,
               notes="the model's config with its IPA `vocab`"),
)


@dataclass(frozen=True)
class KokoroFiles:
    """The three files a Kokoro voice needs, found in the user's models dir."""

    model: Path
    voices: Path
    config: Path


class KokoroEngine:
    """Kokoro ONNX through onnxruntime, phonemes from espeak-ng."""

    name = "kokoro"
    supports_voice_clone = False
    weights = WEIGHTS

    def __init__(self, *, models_dir: Path, speed: float = 1.0) -> None:
        if not 0.5 <= speed <= 2.0:
            raise BadInput(f"kokoro: speed {speed} is outside 0.5..2.0")
        self._dir = models_subdir(models_dir, "kokoro")
        self._speed = speed

    def find_files(self) -> KokoroFiles:
        """The model, voice pack and config, or `MissingWeights` naming what is absent."""
        model = _first(self._dir, ("*.onnx",))
        voices = _first(self._dir, ("voices*.bin", "*.npz"))
        config = self._dir / "config.json"
        missing = [label for label, path in (("a model *.onnx", model),
                                             ("a voice pack voices*.bin", voices),
                                             ("config.json", config if config.is_file() else None))
                   if path is None]
        if missing or model is None or voices is None:
            raise MissingWeights(
                f"kokoro: missing {', '.join(missing)} in {self._dir}",
                hint=f"place kokoro-v1.0.onnx, voices-v1.0.bin and config.json in {self._dir}",
            )
        return KokoroFiles(model=model, voices=voices, config=config)

    def availability(self) -> Availability:
        try:
            self.find_files()
        except MissingWeights as error:
            return Availability(False, f"{error.message} (no installable package ships Kokoro "
                                       "voices for these languages)")
        return Availability(True)

    def languages(self) -> frozenset[str]:
        return KOKORO_LANGUAGES if self.availability().available else frozenset()

    def voices(self, *, language: str | None = None) -> list[VoiceInfo]:
        if not self.availability().available:
            return []
        names = _voice_table(str(self.find_files().voices)).keys()
        return [VoiceInfo(engine=self.name, voice=name, language=language or "*")
                for name in sorted(names)]

    def synthesize(self, text: str, *, language: str, voice: str | None = None) -> Speech:
        if not text.strip():
            raise BadInput("kokoro: nothing to say (empty text)")
        if base_language(language) not in KOKORO_LANGUAGES:
            raise BadInput(f"kokoro does not speak {language!r}",
                           hint=f"supported: {', '.join(sorted(KOKORO_LANGUAGES))}")
        files = self.find_files()
        table = _voice_table(str(files.voices))
        chosen = voice or sorted(table)[0]
        if chosen not in table:
            raise BadInput(f"kokoro: no voice {chosen!r}", hint=", ".join(sorted(table)))
        vocab = _vocab(str(files.config))
        session = _session(str(files.model))
        sentences = phonemize_ipa(text, voice=espeak_voice_for(language))
        audio_parts = [
            _run_sentence(session, vocab, table[chosen], sentence, speed=self._speed)
            for sentence in sentences
        ]
        samples = np.concatenate(audio_parts).astype(np.float32) if audio_parts else None
        if samples is None or samples.size == 0:
            raise BadInput(f"kokoro: {text!r} has nothing speakable")
        words, phonemes = estimate_timings(text=text, sentences=sentences, samples=samples,
                                           sample_rate=KOKORO_SAMPLE_RATE_HZ)
        return Speech(samples=samples, sample_rate=KOKORO_SAMPLE_RATE_HZ, words=words,
                      phonemes=phonemes, engine=self.name, voice=chosen, language=language)


def _first(folder: Path, patterns: tuple[str, ...]) -> Path | None:
    if not folder.is_dir():
        return None
    for pattern in patterns:
        matches = sorted(folder.glob(pattern))
        if matches:
            return matches[0]
    return None


def _run_sentence(session: object, vocab: dict[str, int], style_table: np.ndarray,
                  sentence: list[list[str]], *, speed: float = 1.0) -> np.ndarray:
    """One sentence of IPA -> audio; the style row is picked by token count, as Kokoro does."""
    ipa = unicodedata.normalize("NFC", " ".join("".join(word) for word in sentence))
    ids = [vocab[char] for char in ipa if char in vocab][:KOKORO_MAX_TOKENS]
    if not ids:
        return np.zeros(0, dtype=np.float32)
    tokens = np.array([[KOKORO_PAD_ID, *ids, KOKORO_PAD_ID]], dtype=np.int64)
    style = style_table[min(len(ids), len(style_table) - 1)].reshape(1, -1).astype(np.float32)
    inputs = {}
    for spec in session.get_inputs():  # type: ignore[attr-defined]
        if spec.name in ("tokens", "input_ids"):
            inputs[spec.name] = tokens
        elif spec.name == "style":
            inputs[spec.name] = style
        elif spec.name == "speed":
            inputs[spec.name] = np.full(1, speed, dtype=np.float32) if "float" in spec.type \
                else np.ones(1, dtype=np.int32)
    audio = session.run(None, inputs)[0]  # type: ignore[attr-defined]
    return np.asarray(audio, dtype=np.float32).reshape(-1)


@functools.lru_cache(maxsize=2)
def _session(model_path: str) -> object:
    if importlib.util.find_spec("onnxruntime") is None:
        raise BadInput("kokoro needs onnxruntime", hint="pip install onnxruntime")
    import onnxruntime

    try:
        return onnxruntime.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime's own exception types
        raise InternalError(f"kokoro: cannot load {model_path}: {error}") from error


@functools.lru_cache(maxsize=2)
def _voice_table(voices_path: str) -> dict[str, np.ndarray]:
    try:
        with np.load(voices_path) as archive:
            return {name: np.asarray(archive[name]).reshape(archive[name].shape[0], -1)
                    for name in archive.files}
    except (OSError, ValueError) as error:
        raise BadInput(f"kokoro: {voices_path} is not an npz voice pack: {error}") from error


@functools.lru_cache(maxsize=2)
def _vocab(config_path: str) -> dict[str, int]:
    try:
        vocab = json.loads(Path(config_path).read_text(encoding="utf-8"))["vocab"]
    except (OSError, ValueError, KeyError) as error:
        raise BadInput(f"kokoro: {config_path} has no readable `vocab`: {error}") from error
    return {str(symbol): int(index) for symbol, index in vocab.items()}


# -- registry entry points (models.registry) ------------------------------------------------


def create(*, models_dir: Path, **_options: object) -> KokoroEngine:
    """Registry factory: the files in ``<models_dir>/kokoro``."""
    return KokoroEngine(models_dir=models_dir)


def probe(*, models_dir: Path, policy: EnginePolicy, language: str | None = None,
          **_options: object) -> Availability:
    """Whether `auto` may pick kokoro here: it runs and speaks `language`."""
    return language_availability(KokoroEngine(models_dir=models_dir), language)
