"""Wav2Lip lip-sync: our implementation of the published network, loading the official weights.

The front door, and the module the engine registry names. Importing it is cheap and
torch-free (the model store and the licence policy read `WEIGHTS` from it); the
torch-backed names (`Wav2LipEngine`, `Wav2Lip`) load on first use. Typical use::

    from models import registry
    engine = registry.get("lipsync", "wav2lip", models_dir=d, policy=p)
    frames_out = engine.render(frames, tracker.track(frames_copy), audio, 16000, fps=25.0)

``auto`` picks it only when it can run well: a checkpoint in ``<models_dir>/wav2lip/``,
torch, and CUDA or the studio's CPU opt-in (`models.registry.CPU_OPT_IN_ENV`). The
licence (non-commercial) is checked by the registry from `WEIGHTS`, not here.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any

from likeness.errors import BadInput, MissingWeights
from models.lipsync.wav2lip.checkpoint import (
    CHECKPOINT_FILE,
    ENGINE_NAME,
    GAN_CHECKPOINT_FILE,
    WEIGHTS,
    WEIGHTS_FOLDER,
    find_checkpoint,
    placed_checkpoint,
)
from models.registry import CPU_OPT_IN_ENV, Availability, EnginePolicy

if TYPE_CHECKING:
    from models.lipsync.wav2lip.engine import Wav2LipEngine
    from models.lipsync.wav2lip.model import Wav2Lip

__all__ = [
    "CHECKPOINT_FILE",
    "ENGINE_NAME",
    "GAN_CHECKPOINT_FILE",
    "WEIGHTS",
    "Wav2Lip",
    "Wav2LipEngine",
    "create",
    "find_checkpoint",
    "placed_checkpoint",
    "probe",
]

_LAZY = {
    "Wav2LipEngine": "models.lipsync.wav2lip.engine",
    "Wav2Lip": "models.lipsync.wav2lip.model",
}


def __getattr__(name: str) -> Any:
    """Import torch-backed names only when asked for (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def torch_installed() -> bool:
    return importlib.util.find_spec("torch") is not None


def cuda_available() -> bool:
    """Imports torch: call only once a checkpoint is known to be there."""
    import torch

    return bool(torch.cuda.is_available())


def probe(*, models_dir: Path, policy: EnginePolicy, **_options: object) -> Availability:
    """Whether ``auto`` should pick wav2lip: checkpoint, torch, and CUDA or the CPU opt-in.

    A directory listing first: torch is imported only when a checkpoint exists.
    """
    checkpoint = placed_checkpoint(models_dir)
    if checkpoint is None:
        return Availability(False, f"no checkpoint in {models_dir / WEIGHTS_FOLDER}")
    if not torch_installed():
        return Availability(False, f"checkpoint {checkpoint.name} found but torch is not "
                                   "installed")
    if cuda_available():
        return Availability(True, f"checkpoint {checkpoint.name} and CUDA is available")
    if policy.allows_cpu(ENGINE_NAME):
        return Availability(True, f"checkpoint {checkpoint.name} and "
                                  f"{CPU_OPT_IN_ENV[ENGINE_NAME]} opts in to CPU inference")
    return Availability(False, f"checkpoint {checkpoint.name} found but no CUDA device (set "
                               f"{CPU_OPT_IN_ENV[ENGINE_NAME]}=1 to run wav2lip on the CPU)")


def create(*, models_dir: Path, **_options: object) -> Wav2LipEngine:
    """Registry factory: the placed checkpoint on CUDA when there is one, else the CPU."""
    checkpoint = placed_checkpoint(models_dir)
    if checkpoint is None:
        raise MissingWeights(
            "wav2lip: no checkpoint found",
            hint=f"place {CHECKPOINT_FILE} or {GAN_CHECKPOINT_FILE} (the official checkpoints) "
                 f"in {models_dir / WEIGHTS_FOLDER}, or use --lipsync viseme (no weights needed)")
    if not torch_installed():
        raise BadInput("wav2lip needs torch, which is not installed",
                       hint="pip install 'likeness-studio[gpu]' (torch==2.13.0), or use viseme")
    try:
        module = importlib.import_module(_LAZY["Wav2LipEngine"])
    except ImportError as exc:
        raise BadInput(f"the wav2lip engine cannot load: {exc}") from None
    engine: Wav2LipEngine = module.Wav2LipEngine(checkpoint, device="auto")
    return engine
