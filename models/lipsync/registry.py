"""Lip-sync backends by name, and how `auto` chooses between them.

`auto` picks `wav2lip` only when it can actually run well: its checkpoint sits in
``MODELS_DIR/wav2lip/``, torch imports, and either CUDA is present or the user opted
in to CPU inference (``LIKENESS_WAV2LIP_ON_CPU=1``: correct but slow). Otherwise it
picks `viseme`, which needs no weights. Nothing heavy is imported until a backend is
built: the checkpoint check is a directory listing, and torch is imported only when
a checkpoint exists.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from likeness.errors import BadInput, InternalError, MissingWeights
from models.lipsync.base import LipSync, PassThroughLipSync
from models.weights import default_models_dir

LipSyncName = Literal["auto", "wav2lip", "viseme", "none"]
LIPSYNC_NAMES: tuple[str, ...] = ("auto", "wav2lip", "viseme", "none")
WAV2LIP_DIR = "wav2lip"
WAV2LIP_ENGINE = "models.lipsync.wav2lip.engine"
CHECKPOINT_SUFFIXES = (".pth", ".pt", ".ckpt")
CPU_OPT_IN_ENV = "LIKENESS_WAV2LIP_ON_CPU"
LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class LipSyncChoice:
    """Which backend `auto` (or a name) resolved to, and why (shown by the CLI in --debug)."""

    name: str
    reason: str
    checkpoint: Path | None = None


def wav2lip_checkpoint(models_dir: Path | None = None) -> Path | None:
    """The Wav2Lip checkpoint in ``MODELS_DIR/wav2lip/``, or None.

    Files the wav2lip package declares (its `WEIGHTS`) are preferred in their order;
    otherwise any ``*.pth``/``*.pt``/``*.ckpt`` there, by name.
    """
    folder = (models_dir if models_dir is not None else default_models_dir()) / WAV2LIP_DIR
    if not folder.is_dir():
        return None
    found = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in CHECKPOINT_SUFFIXES)
    if not found:
        return None
    for declared in _declared_wav2lip_names():
        for path in found:
            if path.name == declared:
                return path
    return found[0]


def _declared_wav2lip_names() -> tuple[str, ...]:
    try:
        package = importlib.import_module("models.lipsync.wav2lip")
    except ImportError:
        return ()
    return tuple(getattr(w, "name", "") for w in getattr(package, "WEIGHTS", ()))


def _torch_device_ok(*, prefer_gpu: bool) -> tuple[bool, str]:
    if importlib.util.find_spec("torch") is None:
        return False, "torch is not installed"
    opted_in = os.environ.get(CPU_OPT_IN_ENV, "").strip().lower() in {"1", "true", "yes"}
    if prefer_gpu:
        import torch

        if torch.cuda.is_available():
            return True, "CUDA is available"
    if opted_in:
        return True, f"{CPU_OPT_IN_ENV} opts in to CPU inference"
    return False, f"no CUDA device (set {CPU_OPT_IN_ENV}=1 to run wav2lip on the CPU)"


def _wav2lip_licence_ok(*, commercial: bool, acknowledged: frozenset[str]) -> None:
    """Wav2Lip's weights are research/non-commercial: a commercial studio must say so."""
    from models.lipsync.wav2lip.checkpoint import WEIGHTS
    from models.store import assert_commercial_ok

    assert_commercial_ok(WEIGHTS, commercial=commercial, acknowledged=set(acknowledged))


def choose(
    name: str = "auto", *, models_dir: Path | None = None, prefer_gpu: bool = True,
    commercial: bool = False, acknowledged: frozenset[str] = frozenset(),
) -> LipSyncChoice:
    """Resolve `name` (``auto`` included) to a concrete backend, with the reason.

    ``commercial``/``acknowledged`` come from the studio config: asking for wav2lip by
    name in a commercial studio without acknowledging its licence is refused; ``auto``
    then falls back to viseme and says why.
    """
    if name not in LIPSYNC_NAMES:
        raise BadInput(f"unknown lip-sync engine {name!r}",
                       hint=f"choose one of: {', '.join(LIPSYNC_NAMES)}")
    if name != "auto":
        checkpoint = wav2lip_checkpoint(models_dir) if name == "wav2lip" else None
        if name == "wav2lip":
            _wav2lip_licence_ok(commercial=commercial, acknowledged=acknowledged)
        return LipSyncChoice(name, "asked for by name", checkpoint)
    checkpoint = wav2lip_checkpoint(models_dir)
    if checkpoint is None:
        return LipSyncChoice("viseme", "no wav2lip checkpoint in the models dir")
    try:
        _wav2lip_licence_ok(commercial=commercial, acknowledged=acknowledged)
    except BadInput:
        return LipSyncChoice("viseme", "wav2lip checkpoint found but its licence is "
                                       "non-commercial and not acknowledged in config")
    ok, why = _torch_device_ok(prefer_gpu=prefer_gpu)
    if not ok:
        return LipSyncChoice("viseme", f"wav2lip checkpoint found but {why}")
    return LipSyncChoice("wav2lip", f"checkpoint {checkpoint.name} and {why}", checkpoint)


def _build_wav2lip(choice: LipSyncChoice, *, models_dir: Path | None, prefer_gpu: bool) -> object:
    folder = (models_dir if models_dir is not None else default_models_dir()) / WAV2LIP_DIR
    if choice.checkpoint is None:
        raise MissingWeights(
            "wav2lip: no checkpoint found",
            hint=f"place wav2lip.pth or wav2lip_gan.pth (the official checkpoints) in {folder}, "
            "or use --lipsync viseme (no weights needed)",
        )
    if importlib.util.find_spec("torch") is None:
        raise BadInput("wav2lip needs torch, which is not installed",
                       hint="pip install 'likeness-studio[gpu]' (torch==2.13.0), or use viseme")
    try:
        module = importlib.import_module(WAV2LIP_ENGINE)
    except ImportError as exc:
        raise BadInput(f"the wav2lip engine cannot load: {exc}") from None
    engine_class: Callable[..., object] = module.Wav2LipEngine
    return engine_class(choice.checkpoint, device="auto" if prefer_gpu else "cpu")


def _factories() -> dict[str, Callable[[], object]]:
    from models.lipsync.viseme import VisemeLipSync

    return {"viseme": VisemeLipSync, "none": PassThroughLipSync}


def check_engine(engine: object, *, expected_name: str) -> LipSync:
    """Refuse a backend that does not honour the `LipSync` contract."""
    if not isinstance(engine, LipSync):
        raise InternalError(f"lip-sync engine {expected_name!r} does not implement name/render")
    if engine.name != expected_name:
        raise InternalError(f"lip-sync engine {expected_name!r} reports name {engine.name!r}")
    return engine


def create(
    name: str = "auto", *, models_dir: Path | None = None, prefer_gpu: bool = True,
    commercial: bool = False, acknowledged: frozenset[str] = frozenset(),
) -> LipSync:
    """Build the backend `name` resolves to, checked against the contract."""
    choice = choose(name, models_dir=models_dir, prefer_gpu=prefer_gpu,
                    commercial=commercial, acknowledged=acknowledged)
    LOG.debug("lip-sync: %s (%s)", choice.name, choice.reason)
    if choice.name == "wav2lip":
        engine = _build_wav2lip(choice, models_dir=models_dir, prefer_gpu=prefer_gpu)
    else:
        engine = _factories()[choice.name]()
    return check_engine(engine, expected_name=choice.name)


def available(*, models_dir: Path | None = None) -> tuple[str, ...]:
    """Backends that can run here (``none`` and ``viseme`` always can)."""
    names = ["viseme", "none"]
    if wav2lip_checkpoint(models_dir) is not None and importlib.util.find_spec("torch"):
        names.insert(0, "wav2lip")
    return tuple(names)
