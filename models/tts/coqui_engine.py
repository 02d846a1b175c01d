"""Coqui backend: XTTS / VITS checkpoints the user supplies, with voice cloning.

Neither the ``coqui-tts`` package nor any checkpoint is installable here (XTTS
weights are under the non-commercial Coqui Public Model License), so this module
does the part we can own: it finds and validates checkpoint folders in
``<models_dir>/coqui/<voice>/`` and fails with a precise error naming the missing
file or package. When both are present it synthesizes through ``TTS.api``;
XTTS clones the voice of a reference clip. Consent for cloning is checked by the
consent gate before this engine is ever called, never here.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from likeness.errors import BadInput, InternalError, MissingWeights
from models.registry import Availability, EnginePolicy
from models.tts.base import Speech, VoiceInfo, language_availability, models_subdir
from models.tts.espeak_engine import espeak_voice_for, phonemize_ipa
from models.tts.timing import estimate_timings
from models.weights import WeightFile

CheckpointKind = Literal["xtts", "vits"]
XTTS_REQUIRED = ("config.json", "model.pth", "vocab.json")
VITS_REQUIRED = ("config.json",)
VITS_MODEL_NAMES = ("model.pth", "model_file.pth", "best_model.pth", "checkpoint.pth")
XTTS_LANGUAGES = frozenset({"en", "es", "fr", "de", "it", "pt", "pl", "tr", "ru", "nl", "cs",
                            "ar", "zh", "ja", "hu", "ko", "hi"})
DEFAULT_SAMPLE_RATE_HZ = 24000

WEIGHTS: tuple[WeightFile, ...] = (
    WeightFile(engine="coqui", name="model.pth", source="user:coqui/xtts_v2/model.pth",
               sha256="", size_bytes=0, license="CPML (Coqui Public Model License)",
               commercial_use=False,
               notes="XTTS v2 checkpoint with config.json and vocab.json; non-commercial; "
                     "not installable here, user-supplied"),
    WeightFile(engine="coqui", name="model.pth (VITS)", source="user:coqui/<voice>/model.pth",
               sha256="", size_bytes=0, license="per checkpoint (check its model card)",
               commercial_use=False,
               notes="any Coqui VITS checkpoint folder; treated as non-commercial until "
                     "acknowledged"),
)


@dataclass(frozen=True)
class CoquiCheckpoint:
    """A validated checkpoint folder: which architecture, which files, which languages."""

    voice: str
    kind: CheckpointKind
    folder: Path
    model_path: Path
    config_path: Path
    languages: frozenset[str]


def inspect_checkpoint(folder: Path) -> CoquiCheckpoint:
    """Validate one checkpoint folder; `MissingWeights` names the first missing file."""
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise MissingWeights(f"coqui: {folder} has no config.json",
                             hint=f"place the checkpoint's config.json in {folder}")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise BadInput(f"coqui: {config_path} is not valid JSON: {error}") from error
    model_name = str(config.get("model", "")).lower()
    if model_name == "xtts":
        for required in XTTS_REQUIRED:
            if not (folder / required).is_file():
                raise MissingWeights(f"coqui: XTTS checkpoint {folder} lacks {required}",
                                     hint=f"place {required} in {folder}")
        languages = frozenset(config.get("languages") or XTTS_LANGUAGES)
        return CoquiCheckpoint(voice=folder.name, kind="xtts", folder=folder,
                               model_path=folder / "model.pth", config_path=config_path,
                               languages=languages)
    model_path = next((folder / name for name in VITS_MODEL_NAMES if (folder / name).is_file()),
                      None)
    if model_path is None:
        raise MissingWeights(f"coqui: {folder} has no checkpoint file",
                             hint=f"place one of {', '.join(VITS_MODEL_NAMES)} in {folder}")
    language = str(config.get("phoneme_language") or config.get("language") or "en")
    return CoquiCheckpoint(voice=folder.name, kind="vits", folder=folder, model_path=model_path,
                           config_path=config_path,
                           languages=frozenset({language.split("-")[0].lower()}))


class CoquiEngine:
    """Coqui TTS (XTTS voice cloning, VITS) from user-supplied checkpoints."""

    name = "coqui"
    supports_voice_clone = True
    weights = WEIGHTS

    def __init__(self, *, models_dir: Path) -> None:
        self._dir = models_subdir(models_dir, "coqui")

    def checkpoints(self) -> list[CoquiCheckpoint]:
        """Every valid checkpoint folder (invalid ones are reported by `availability`)."""
        found: list[CoquiCheckpoint] = []
        for folder in sorted(p for p in self._dir.glob("*") if p.is_dir()):
            try:
                found.append(inspect_checkpoint(folder))
            except BadInput:
                continue
        return found

    def availability(self) -> Availability:
        if not self._dir.is_dir() or not any(p.is_dir() for p in self._dir.iterdir()):
            return Availability(False, f"no Coqui checkpoint in {self._dir} "
                                       "(place XTTS/VITS folders there)")
        problems: list[str] = []
        for folder in sorted(p for p in self._dir.iterdir() if p.is_dir()):
            try:
                inspect_checkpoint(folder)
            except BadInput as error:
                problems.append(error.message)
        if len(problems) == sum(1 for p in self._dir.iterdir() if p.is_dir()):
            return Availability(False, "; ".join(problems))
        if importlib.util.find_spec("TTS") is None:
            return Availability(False, "checkpoints found but the coqui-tts package is not "
                                       "installed (it is not part of this studio's install)")
        return Availability(True)

    def languages(self) -> frozenset[str]:
        return frozenset().union(*(c.languages for c in self.checkpoints()))

    def voices(self, *, language: str | None = None) -> list[VoiceInfo]:
        return [VoiceInfo(engine=self.name, voice=c.voice, language=",".join(sorted(c.languages)),
                          description=c.kind)
                for c in self.checkpoints()
                if language is None or language.split("-")[0].lower() in c.languages]

    def synthesize(self, text: str, *, language: str, voice: str | None = None,
                   reference_wav: Path | None = None) -> Speech:
        """Speak `text`; with an XTTS checkpoint, `reference_wav` is the voice to clone."""
        if not text.strip():
            raise BadInput("coqui: nothing to say (empty text)")
        checkpoint = self._pick(language=language, voice=voice)
        if checkpoint.kind == "xtts" and reference_wav is None:
            raise BadInput("coqui XTTS needs a reference clip of the (consenting) voice",
                           hint="pass reference_wav=<performer voice sample>")
        if importlib.util.find_spec("TTS") is None:
            raise BadInput("coqui: the coqui-tts package is not installed",
                           hint="install coqui-tts in the studio venv to use these checkpoints")
        samples, sample_rate = _run_coqui(checkpoint, text=text, language=language,
                                          reference_wav=reference_wav)
        sentences = phonemize_ipa(text, voice=espeak_voice_for(language))
        words, phonemes = estimate_timings(text=text, sentences=sentences, samples=samples,
                                           sample_rate=sample_rate)
        return Speech(samples=samples, sample_rate=sample_rate, words=words, phonemes=phonemes,
                      engine=self.name, voice=checkpoint.voice, language=language)

    def _pick(self, *, language: str, voice: str | None) -> CoquiCheckpoint:
        if voice is not None:
            folder = self._dir / voice
            if not folder.is_dir():
                raise MissingWeights(f"coqui: no checkpoint folder {folder}",
                                     hint=f"place the {voice} checkpoint files in {folder}")
            return inspect_checkpoint(folder)
        base = language.split("-")[0].lower()
        for checkpoint in self.checkpoints():
            if base in checkpoint.languages:
                return checkpoint
        raise MissingWeights(
            f"coqui: no checkpoint for language {language!r} in {self._dir}",
            hint=f"place an XTTS v2 folder ({', '.join(XTTS_REQUIRED)}) in {self._dir}/xtts_v2",
        )


def _run_coqui(checkpoint: CoquiCheckpoint, *, text: str, language: str,
               reference_wav: Path | None) -> tuple[np.ndarray, int]:
    """Call the optional ``TTS.api`` (imported only here; it pulls in torch)."""
    try:
        from TTS.api import TTS  # type: ignore[import-not-found]

        model = TTS(model_path=str(checkpoint.folder if checkpoint.kind == "xtts"
                                   else checkpoint.model_path),
                    config_path=str(checkpoint.config_path), progress_bar=False)
        kwargs: dict[str, object] = {"text": text}
        if checkpoint.kind == "xtts":
            kwargs.update(language=language.split("-")[0].lower(), speaker_wav=str(reference_wav))
        audio = model.tts(**kwargs)
        rate = int(getattr(getattr(model, "synthesizer", None), "output_sample_rate", 0)
                   or DEFAULT_SAMPLE_RATE_HZ)
    except Exception as error:  # a third-party stack with its own error types
        raise InternalError(f"coqui synthesis failed with {checkpoint.folder}: {error}") from error
    return np.asarray(audio, dtype=np.float32).reshape(-1), rate


# -- registry entry points (models.registry) ------------------------------------------------


def create(*, models_dir: Path, **_options: object) -> CoquiEngine:
    """Registry factory: the checkpoints in ``<models_dir>/coqui``."""
    return CoquiEngine(models_dir=models_dir)


def probe(*, models_dir: Path, policy: EnginePolicy, language: str | None = None,
          **_options: object) -> Availability:
    """Whether coqui could serve here (`auto` never picks it): it runs and speaks `language`."""
    return language_availability(CoquiEngine(models_dir=models_dir), language)
