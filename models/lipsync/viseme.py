"""The weight-free lip-sync engine: move the tracked lips and jaw to a mouth-shape track.

Per frame: read the mouth shape for time i / fps from `models.lipsync.mouth`, move
the tracked landmarks to that shape in the face's own axes (`articulate`), warp
the lower face with a piecewise-affine warp inside a fixed ring around it, paint the
mouth interior where it opens wider than the source, and feather the result back.
Only the ring's bounding box is touched, so 4K costs what 720p does, and every pixel
outside the ring is returned unchanged. Smoothness comes from the smoothed mouth
track, the tracker's One-Euro landmarks and a slow average of the lip colour.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from likeness.errors import BadInput
from media.timed_text import PhonemeTiming
from models.face.base import check_rgb_image
from models.face.landmarks import (
    LOWER_LIP,
    LOWER_OUTER_MIDDLE,
    MOUTH,
    MOUTH_CORNER_LEFT_INDEX,
    MOUTH_CORNER_RIGHT_INDEX,
    MOUTH_CORNERS,
    MOUTH_INNER,
    UPPER_LIP,
    UPPER_OUTER_MIDDLE,
)
from models.face.mouth_interior import mouth_gap_iod
from models.face.reshape import reshape_face
from models.face.tracking import TrackedFace
from models.face.warp import FaceFrame, face_frame, untangle_mouth, warp_layout
from models.lipsync.mouth import MouthShape, MouthTrack, check_fps, mouth_track
from models.stream import FrameTally, RenderStats, paired
from models.weights import WeightFile

LOG = logging.getLogger(__name__)

# How much each landmark follows the lower lip / upper lip / jaw when the mouth opens:
# the middle of a lip fully, its ends (towards the corners) less.
_LIP_FOLLOW = (0.7, 0.95, 1.0, 0.95, 0.7, 0.95, 1.0, 0.95)  # in LOWER_LIP / UPPER_LIP order
LOWER_LIP_WEIGHTS = dict(zip(LOWER_LIP, _LIP_FOLLOW, strict=True))
UPPER_LIP_WEIGHTS = dict(zip(UPPER_LIP, _LIP_FOLLOW, strict=True))
JAW_WEIGHTS = {3: 0.1, 4: 0.28, 5: 0.5, 6: 0.75, 7: 0.92, 8: 1.0, 9: 0.92, 10: 0.75,
               11: 0.5, 12: 0.28, 13: 0.1}  # the chin fully, towards the ears less
WEIGHTS: tuple[WeightFile, ...] = ()  # mouth shapes from phonemes: no weight files


@dataclass(frozen=True)
class VisemeSettings:
    """Geometry of the articulation, in face units (1.0 = inter-ocular distance)."""

    max_opening_iod: float = 0.36  # inner-lip gap at opening = 1 (a wide "a")
    lower_lip_share: float = 0.72  # of an opening change taken by the lower lip
    jaw_follow: float = 0.8  # chin drop per unit of lower-lip drop
    corner_drop: float = 0.22  # mouth corners follow the opening this much
    width_gain: float = 0.16  # half-width change at width 0 or 1 (fraction of rest)
    rounding_narrowing: float = 0.2  # half-width lost at full rounding
    rounding_pout_iod: float = 0.03  # outer lips pushed away from the gap at full rounding
    ring_margin: float = 0.4
    feather_iod: float = 0.12
    paint_interior: bool = True


def articulate(
    landmarks: np.ndarray, shape: MouthShape, *, frame: FaceFrame | None = None,
    settings: VisemeSettings = VisemeSettings(),
) -> np.ndarray:
    """The landmarks moved so the mouth takes `shape` (68x2, image pixels).

    The opening is absolute (a source mouth that is already open is closed first),
    the width and rounding are relative to the source mouth.
    """
    axes = frame if frame is not None else face_frame(landmarks)
    local = axes.to_local(landmarks).astype(np.float64)
    source_gap = max(mouth_gap_iod(local), 0.0)
    change = shape.opening * settings.max_opening_iod - source_gap
    lower = settings.lower_lip_share * change
    upper = -(1.0 - settings.lower_lip_share) * change
    for index, weight in LOWER_LIP_WEIGHTS.items():
        local[index, 1] += weight * lower
    for index, weight in UPPER_LIP_WEIGHTS.items():
        local[index, 1] += weight * upper
    for index in MOUTH_CORNERS:
        local[index, 1] += settings.corner_drop * change
    for index, weight in JAW_WEIGHTS.items():
        local[index, 1] += weight * settings.jaw_follow * lower
    # Width and rounding: scale the mouth across its own centre.
    centre_x = (local[MOUTH_CORNER_LEFT_INDEX, 0] + local[MOUTH_CORNER_RIGHT_INDEX, 0]) / 2.0
    scale = 1.0 + settings.width_gain * (shape.width - 0.5) * 2.0
    scale -= settings.rounding_narrowing * shape.rounding
    scale = float(np.clip(scale, 0.6, 1.3))
    local[MOUTH, 0] = centre_x + (local[MOUTH, 0] - centre_x) * scale
    inner_round = 1.0 - 0.15 * shape.rounding
    local[MOUTH_INNER, 0] = centre_x + (local[MOUTH_INNER, 0] - centre_x) * inner_round
    pout = settings.rounding_pout_iod * shape.rounding
    local[list(UPPER_OUTER_MIDDLE), 1] -= pout
    local[list(LOWER_OUTER_MIDDLE), 1] += pout
    return axes.to_image(local.astype(np.float32))


class VisemeLipSync:
    """Weight-free lip-sync: phoneme/audio-driven mouth shapes and a landmark warp."""

    name = "viseme"
    needs_track = True
    alters_mouth = True

    def __init__(self, *, settings: VisemeSettings = VisemeSettings()) -> None:
        self.settings = settings
        self.layout = warp_layout("lower", settings.ring_margin)
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
        """Lip-synced frames, one per input frame; see `LipSync.render`."""
        check_fps(fps)
        track = mouth_track(audio, sample_rate, timings=timings)
        return self.render_track(frames, face_track, track, fps=fps)

    def render_track(
        self,
        frames: Iterable[np.ndarray],
        face_track: Iterable[TrackedFace | None],
        track: MouthTrack,
        *,
        fps: float,
    ) -> Iterator[np.ndarray]:
        """Like `render`, from a ready mouth-shape track (reused by avatars and tests)."""
        fps = check_fps(fps)
        tally = FrameTally()
        lip_rgb: np.ndarray | None = None
        try:
            for index, frame, tracked in paired(frames, face_track):
                check_rgb_image(frame)
                if tracked is None:
                    LOG.debug("viseme: frame %d has no tracked face; passed through", index)
                    yield tally.count_passed(frame)
                    continue
                opening, width, rounding = track.at(index / fps)[0]
                shape = MouthShape(float(opening), float(width), float(rounding))
                result = self._render_frame(frame, tracked.face.landmarks, shape, lip_rgb)
                if result is None:
                    LOG.debug("viseme: frame %d face unusable (tiny/profile); passed through",
                              index)
                    yield tally.count_passed(frame)
                    continue
                out, lip_rgb = result
                yield tally.count_changed(out)
        finally:
            self.last_stats = tally.stats
            if tally.passed_through:
                LOG.debug("viseme: %d of %d frames passed through unchanged",
                          tally.passed_through, tally.frames)

    def _render_frame(
        self, frame: np.ndarray, landmarks: np.ndarray, shape: MouthShape,
        lip_rgb: np.ndarray | None,
    ) -> tuple[np.ndarray, np.ndarray] | None:
        settings = self.settings
        try:
            axes = face_frame(landmarks)
        except BadInput:
            return None
        source = untangle_mouth(landmarks, frame=axes)
        target = articulate(source, shape, frame=axes, settings=settings)
        return reshape_face(
            frame, source, target, axes=axes, layout=self.layout,
            feather_iod=settings.feather_iod, lip_rgb=lip_rgb,
            target_gap_iod=(shape.opening * settings.max_opening_iod
                            if settings.paint_interior else None),
        )


def create(*, models_dir: Path, **_options: object) -> VisemeLipSync:
    """Registry factory: the default-configured viseme engine (no weights)."""
    return VisemeLipSync()
