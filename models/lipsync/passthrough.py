"""`none`: the lip-sync engine that leaves the mouth alone (a dub that keeps the original).

It is an engine rather than a special case so that flows never compare engine names:
it needs no face track and alters no mouth, and says so through the `LipSync` flags.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from media.timed_text import PhonemeTiming
from models.face.tracking import TrackedFace
from models.stream import RenderStats, paired
from models.weights import WeightFile

WEIGHTS: tuple[WeightFile, ...] = ()


class PassThroughLipSync:
    """Yields the frames unchanged, counting them."""

    name = "none"
    needs_track = False
    alters_mouth = False

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


def create(*, models_dir: Path, **_options: object) -> PassThroughLipSync:
    """Registry factory."""
    return PassThroughLipSync()
