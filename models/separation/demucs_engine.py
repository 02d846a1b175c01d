"""HT-Demucs (MIT) splits the original voice from music and effects, from a user checkpoint.

No package the project can install ships Demucs weights, so the engine runs only on a
checkpoint the studio supplies: ``--separation-weights PATH`` or the first ``*.th`` in
``<models_dir>/demucs/``, in the format Demucs itself saves (a dict with the model class,
its arguments and its state). The file is read with ``torch.load(weights_only=True)``
and only Demucs' own model classes allowed, so a checkpoint cannot run code; its SHA-256
goes into the mix report. The track is resampled to the model's rate, normalised as
Demucs' own separation does, split (CUDA when present), and the non-vocal stems summed
into the background; both come back at the input's rate and channel count.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np

from likeness.errors import BadInput, MissingWeights
from media.audio import as_frames, resample
from media.digest import sha256_file
from models.registry import Availability, EnginePolicy
from models.separation.base import Stems
from models.weights import WeightFile

VOCALS = "vocals"
OVERLAP = 0.25  # between the model's segments, as Demucs' own command line uses
SUBDIR = "demucs"
WEIGHTS: tuple[WeightFile, ...] = (
    WeightFile(engine="demucs", name="htdemucs.th", source="user:demucs/htdemucs.th",
               sha256="", size_bytes=0, license="MIT", commercial_use=True,
               notes="user-supplied HT-Demucs checkpoint (any *.th in models/demucs, or "
                     "--separation-weights PATH); its SHA-256 is recorded in the mix report"),
)


class DemucsSeparator:
    """One Demucs checkpoint, loaded once, applied to whole tracks."""

    name = "demucs"
    weights = WEIGHTS

    def __init__(self, checkpoint: Path) -> None:
        self.checkpoint = checkpoint
        self.sha256 = sha256_file(checkpoint)

    def separate(self, samples: np.ndarray, sample_rate: int) -> Stems:
        import torch
        from demucs.apply import apply_model

        model = _model(str(self.checkpoint))
        if VOCALS not in model.sources:
            raise BadInput(f"demucs: {self.checkpoint} separates {', '.join(model.sources)}, "
                           "not vocals")
        frames = as_frames(samples)
        channels, length = frames.shape[1], frames.shape[0]
        audio = resample(frames, from_rate=sample_rate, to_rate=model.samplerate)
        audio = _to_channels(audio, model.audio_channels)
        wav = torch.from_numpy(np.ascontiguousarray(audio.T, dtype=np.float32))
        reference = wav.mean(0)
        mean, std = reference.mean(), reference.std().clamp_min(1e-8)
        device = "cuda" if torch.cuda.is_available() else "cpu"
        with torch.no_grad():
            sources = apply_model(model, ((wav - mean) / std)[None], shifts=0, split=True,
                                  overlap=OVERLAP, progress=False, device=device)[0]
        sources = (sources * std + mean).cpu().numpy()  # (stems, channels, n)
        vocal_index = model.sources.index(VOCALS)
        vocals = sources[vocal_index].T
        background = np.delete(sources, vocal_index, axis=0).sum(axis=0).T
        return Stems(vocals=_back(vocals, model.samplerate, sample_rate, channels, length),
                     background=_back(background, model.samplerate, sample_rate, channels,
                                      length),
                     model=f"demucs:{self.checkpoint.name} sha256={self.sha256}")


def _to_channels(audio: np.ndarray, channels: int) -> np.ndarray:
    if audio.shape[1] == channels:
        return audio
    mono = audio.mean(axis=1, keepdims=True)
    return np.repeat(mono, channels, axis=1)


def _back(stem: np.ndarray, model_rate: int, rate: int, channels: int,
          length: int) -> np.ndarray:
    """A stem at the input's rate, channel count and exact length."""
    out = resample(np.ascontiguousarray(stem, dtype=np.float32), from_rate=model_rate,
                   to_rate=rate)
    out = out if out.shape[1] == channels else _to_channels(out, channels)
    if out.shape[0] < length:
        out = np.concatenate([out, np.zeros((length - out.shape[0], channels), np.float32)])
    return np.ascontiguousarray(out[:length], dtype=np.float32)


@functools.lru_cache(maxsize=2)
def _model(path: str) -> object:
    """Load a Demucs package with only tensors, plain containers and Demucs' classes."""
    import pickle

    import torch
    from demucs.demucs import Demucs
    from demucs.hdemucs import HDemucs
    from demucs.htdemucs import HTDemucs
    from demucs.states import load_model

    try:
        with torch.serialization.safe_globals([Demucs, HDemucs, HTDemucs]):
            package = torch.load(path, map_location="cpu", weights_only=True)
        model = load_model(package)
    except (pickle.UnpicklingError, KeyError, RuntimeError, TypeError, EOFError) as error:
        raise BadInput(f"demucs: {path} is not a Demucs checkpoint this engine can read "
                       f"safely: {str(error).splitlines()[0]}") from None
    model.eval()
    return model


def find_checkpoint(*, models_dir: Path, weights: Path | None = None) -> Path | None:
    """The checkpoint the user named, else the first ``*.th`` in the models dir."""
    if weights is not None:
        return weights if weights.is_file() else None
    folder = models_dir / SUBDIR
    found = sorted(folder.glob("*.th")) if folder.is_dir() else []
    return found[0] if found else None


def _missing(*, models_dir: Path, weights: Path | None) -> str:
    if weights is not None:
        return f"demucs: no checkpoint at {weights}"
    return (f"demucs: no HT-Demucs checkpoint (*.th) in {models_dir / SUBDIR}; pass "
            "--separation-weights PATH (Demucs weights are not installable from PyPI)")


# -- registry entry points (models.registry) ------------------------------------------------


def create(*, models_dir: Path, weights: Path | None = None,
           **_options: object) -> DemucsSeparator:
    """Registry factory: the named checkpoint, or the one in ``<models_dir>/demucs``."""
    checkpoint = find_checkpoint(models_dir=models_dir, weights=weights)
    if checkpoint is None:
        raise MissingWeights(_missing(models_dir=models_dir, weights=weights))
    if importlib.util.find_spec("torch") is None or importlib.util.find_spec("demucs") is None:
        raise BadInput("demucs needs torch and demucs", hint="pip install 'likeness[gpu]'")
    return DemucsSeparator(checkpoint)


def probe(*, models_dir: Path, policy: EnginePolicy, weights: Path | None = None,
          **_options: object) -> Availability:
    """Whether `auto` may pick demucs: a checkpoint is there and torch and demucs import."""
    if find_checkpoint(models_dir=models_dir, weights=weights) is None:
        return Availability(False, _missing(models_dir=models_dir, weights=weights))
    for module in ("torch", "demucs"):
        if importlib.util.find_spec(module) is None:
            return Availability(False, f"demucs: {module} is not installed")
    return Availability(True, "a Demucs checkpoint is in place")
