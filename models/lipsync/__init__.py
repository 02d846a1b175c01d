"""Lip-sync engines: move a tracked mouth to new speech.

Front door::

    from models.lipsync import get_lipsync
    engine = get_lipsync("auto")                       # wav2lip with weights + GPU, else viseme
    frames_out = engine.render(frames, track, audio, sample_rate, fps=25.0, timings=phonemes)

`viseme` needs no weights; `wav2lip` needs the official checkpoint under
``$LIKENESS_HOME/models/wav2lip/``; `none` passes frames through. Backends load
lazily: importing this package imports neither torch nor the warp code.
"""

from __future__ import annotations

from pathlib import Path

from models.lipsync.base import LipSync, PassThroughLipSync
from models.lipsync.registry import (
    LIPSYNC_NAMES,
    LipSyncChoice,
    LipSyncName,
    choose,
    wav2lip_checkpoint,
)

__all__ = [
    "LIPSYNC_NAMES",
    "LipSync",
    "LipSyncChoice",
    "LipSyncName",
    "PassThroughLipSync",
    "available_lipsync",
    "choose",
    "get_lipsync",
    "wav2lip_checkpoint",
]


def get_lipsync(
    name: LipSyncName | str = "auto", *, models_dir: Path | None = None, prefer_gpu: bool = True,
    commercial: bool = False, acknowledged: frozenset[str] = frozenset(),
) -> LipSync:
    """A lip-sync engine by name; ``auto`` picks wav2lip only when it can run well (and,
    in a commercial studio, only when its non-commercial licence is acknowledged)."""
    from models.lipsync import registry

    return registry.create(name, models_dir=models_dir, prefer_gpu=prefer_gpu,
                           commercial=commercial, acknowledged=acknowledged)


def available_lipsync(*, models_dir: Path | None = None) -> tuple[str, ...]:
    """Backend names that can run here, best first."""
    from models.lipsync import registry

    return registry.available(models_dir=models_dir)
