"""The reenactment contract: drive a target face with another person's expressions.

A `Reenactor` takes the target (one RGB image, or a video as an iterable of frames)
with its face track, and a driver video with its face track, and yields output
frames. For an image target the output has one frame per driver frame; for a video
target one frame per target frame. Engines stream, and never read or write files.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol, runtime_checkable

import numpy as np

from models.face.base import Face
from models.face.tracking import TrackedFace
from models.lipsync.base import RenderStats

TargetInput = np.ndarray | Iterable[np.ndarray]
TargetTrack = Face | TrackedFace | None | Iterable[TrackedFace | None]


@runtime_checkable
class Reenactor(Protocol):
    """A reenactment backend; `models.registry` checks this when one loads.

    `last_stats` is set when a render's stream ends (frames seen and changed)."""

    name: str
    last_stats: RenderStats

    def render(
        self,
        target_frames_or_image: TargetInput,
        target_track: TargetTrack,
        driver_frames: Iterable[np.ndarray],
        driver_track: Iterable[TrackedFace | None],
        *,
        fps: float,
    ) -> Iterator[np.ndarray]:
        """Target frames carrying the driver's expressions and small head motion.

        `fps` is the output rate: the expression smoothing is tuned in real time."""
        ...
