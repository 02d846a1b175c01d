"""The lip-sync contract: every backend turns frames + a face track + speech into frames.

Backends (`viseme`, `wav2lip`, the pass-through `none`) stream: they take iterables
and yield one output frame per input frame, so a long video never sits in memory.
Frames are RGB uint8 HxWx3; the face track has one `TrackedFace | None` per frame
(from `models.face.tracking.FaceTracker`), and a frame whose entry is None is
yielded unchanged. Engines never read or write files.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from media.timed_text import PhonemeTiming
from models.face.tracking import TrackedFace
from models.stream import RenderStats, paired

LOG = logging.getLogger(__name__)


@runtime_checkable
class LipSync(Protocol):
    """A lip-sync backend; `registry` checks this when a backend loads."""

    name: str

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


class PassThroughLipSync:
    """`none`: yields the frames unchanged (a dub that keeps the original mouth)."""

    name = "none"

    def __init__(self) -> None:
        self.last_stats = RenderStats()

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
        count = 0
        for _, frame, _tracked in paired(frames, face_track):
            count += 1
            yield frame
        self.last_stats = RenderStats(frames=count, changed=0, passed_through=count)
