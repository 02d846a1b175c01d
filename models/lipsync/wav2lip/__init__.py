"""Wav2Lip lip-sync: our implementation of the published network, loading the official weights.

The front door. Importing it is cheap and torch-free (the model store imports it to
read `WEIGHTS`); the torch-backed names (`Wav2LipEngine`, `Wav2Lip`) load on first
use. Typical use::

    from models.lipsync.wav2lip import Wav2LipEngine
    engine = Wav2LipEngine.from_models_dir()          # $LIKENESS_MODELS_DIR/wav2lip/wav2lip.pth
    frames_out = engine.render(frames, tracker.track(frames_copy), audio, 16000, fps=25.0)
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

from models.lipsync.wav2lip.checkpoint import (
    CHECKPOINT_FILE,
    ENGINE_NAME,
    GAN_CHECKPOINT_FILE,
    WEIGHTS,
    find_checkpoint,
)

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
    "find_checkpoint",
    "is_available",
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


def is_available(*, gan: bool = False) -> bool:
    """True when torch imports and the checkpoint is placed (cheap: nothing is loaded)."""
    if importlib.util.find_spec("torch") is None:
        return False
    try:
        find_checkpoint(gan=gan)
    except Exception:  # MissingWeights: not placed
        return False
    return True
