"""The lip-sync contract: every backend turns frames + a face track + speech into frames.

Backends (`viseme`, `wav2lip`, the pass-through `none`) stream: they take iterables
and yield one output frame per input frame, so a long video never sits in memory.
Frames are RGB uint8 HxWx3; the face track has one `TrackedFace | None` per frame
(from `models.face.tracking.FaceTracker`), and a frame whose entry is None is
yielded unchanged. Engines never read or write files.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from media.timed_text import PhonemeTiming
from models.face.base import Face
from models.face.tracking import TrackedFace
from models.stream import RenderStats

LOG = logging.getLogger(__name__)


@runtime_checkable
class LipSync(Protocol):
    """A lip-sync backend; `models.registry` checks this when a backend loads.

    The flags are what callers decide by, so no caller compares engine names:
    `needs_track` says whether the flow must run the face tracker (an engine that
    does not gets one None per frame), `alters_mouth` whether the render changes the
    mouth (and so needs ``lip_sync`` consent). `last_stats` is set when a render's
    stream ends.
    """

    name: str
    needs_track: bool
    alters_mouth: bool
    last_stats: RenderStats

    def render(
        self,
        frames: Iterable[np.ndarray],
        face_track: Iterable[TrackedFace | None],
        audio: np.ndarray,
        sample_rate: int,
        *,
        fps: float,
        timings: Sequence[PhonemeTiming] | None = None,
    ) -> Iterator[np.ndarray]:
        """One output frame per input frame, mouth moved to `audio` (frame i at i / fps s)."""
        ...


FrameSink = Callable[[int, np.ndarray, list[Face]], bool]
"""Takes a decode pass's frames in order (index, RGB, the faces found on it); False: no
more wanted (or they came out of order, as on a retried pass: then none are used)."""


@runtime_checkable
class SourceFed(Protocol):
    """Optional: a backend that reads the source video itself before rendering (the
    footage engine's mouth bank) and can take its frames from a pass that decodes the
    source anyway (identity binding), instead of decoding it once more."""

    def frame_sink(self, video: Path) -> FrameSink | None:
        """Where that pass should hand the frames of `video`; None when not needed."""
        ...
