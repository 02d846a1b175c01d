"""Lip-sync engines: move a tracked mouth to new speech.

Front door::

    from models import registry
    engine = registry.get("lipsync", "auto", models_dir=d, policy=p)
    frames_out = engine.render(frames, track, audio, sample_rate, fps=25.0, timings=phonemes)

`viseme` and `footage` need no weights; `musetalk` needs MuseTalk 1.5's official files
under ``<models_dir>/musetalk/`` (and CUDA for ``auto``); `wav2lip` needs the official
checkpoint under ``<models_dir>/wav2lip/``; `none` passes frames through. Names and the
``auto`` rule live in `models.registry`. Backends load lazily: importing this package
imports neither torch nor the warp code.
"""

from __future__ import annotations

from models.lipsync.base import LipSync, SourceFed

__all__ = ["LipSync", "SourceFed"]
