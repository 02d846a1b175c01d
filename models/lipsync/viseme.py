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
from models.face.base import check_rgb_image
from models.face.tracking import TrackedFace
from models.lipsync.base import RenderStats, paired
from models.lipsync.interior import mean_lip_rgb, paint_interior, paint_strength
from models.lipsync.mouth import MouthShape, MouthTrack, check_fps, mouth_track
from models.lipsync.warp import (
    FaceFrame,
    control_points,
    crop_box,
    face_frame,
    feathered_hull_mask,
    ring_points,
    untangle_mouth,
    warp_layout,
    warp_region,
)
from models.tts.base import PhonemeTiming
from models.weights import WeightFile

LOG = logging.getLogger(__name__)

UPPER_INNER = [61, 62, 63]
LOWER_INNER = [67, 66, 65]
# How much each landmark follows the lower lip / upper lip / jaw when the mouth opens.
LOWER_LIP_WEIGHTS = {55: 0.7, 56: 0.95, 57: 1.0, 58: 0.95, 59: 0.7, 65: 0.95, 66: 1.0, 67: 0.95}
UPPER_LIP_WEIGHTS = {49: 0.7, 50: 0.95, 51: 1.0, 52: 0.95, 53: 0.7, 61: 0.95, 62: 1.0, 63: 0.95}
CORNER_IDS = (48, 54, 60, 64)
JAW_WEIGHTS = {3: 0.1, 4: 0.28, 5: 0.5, 6: 0.75, 7: 0.92, 8: 1.0, 9: 0.92, 10: 0.75,
               11: 0.5, 12: 0.28, 13: 0.1}
MOUTH_IDS = np.arange(48, 68)
INNER_IDS = np.arange(60, 68)
LIP_COLOUR_RATE = 0.1  # exponential average of the lip colour per frame
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


def mouth_gap_iod(local: np.ndarray) -> float:
    """Inner-lip gap in face units (landmarks already in face coordinates)."""
    return float(np.mean(local[LOWER_INNER, 1] - local[UPPER_INNER, 1]))


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
    for index in CORNER_IDS:
        local[index, 1] += settings.corner_drop * change
    for index, weight in JAW_WEIGHTS.items():
        local[index, 1] += weight * settings.jaw_follow * lower
    # Width and rounding: scale the mouth across its own centre.
    centre_x = (local[48, 0] + local[54, 0]) / 2.0
    scale = 1.0 + settings.width_gain * (shape.width - 0.5) * 2.0
    scale -= settings.rounding_narrowing * shape.rounding
    scale = float(np.clip(scale, 0.6, 1.3))
    local[MOUTH_IDS, 0] = centre_x + (local[MOUTH_IDS, 0] - centre_x) * scale
    inner_round = 1.0 - 0.15 * shape.rounding
    local[INNER_IDS, 0] = centre_x + (local[INNER_IDS, 0] - centre_x) * inner_round
    pout = settings.rounding_pout_iod * shape.rounding
    local[[50, 51, 52], 1] -= pout
    local[[56, 57, 58], 1] += pout
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
        seen = changed = passed = 0
        lip_rgb: np.ndarray | None = None
        try:
            for index, frame, tracked in paired(frames, face_track):
                check_rgb_image(frame)
                seen += 1
                if tracked is None:
                    passed += 1
                    LOG.debug("viseme: frame %d has no tracked face; passed through", index)
                    yield frame
                    continue
                opening, width, rounding = track.at(index / fps)[0]
                shape = MouthShape(float(opening), float(width), float(rounding))
                result = self._render_frame(frame, tracked.face.landmarks, shape, lip_rgb)
                if result is None:
                    passed += 1
                    LOG.debug("viseme: frame %d face unusable (tiny/profile); passed through",
                              index)
                    yield frame
                    continue
                out, lip_rgb = result
                changed += 1
                yield out
        finally:
            self.last_stats = RenderStats(frames=seen, changed=changed, passed_through=passed)
            if passed:
                LOG.debug("viseme: %d of %d frames passed through unchanged", passed, seen)

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
        ring = ring_points(source, kind="lower", margin=settings.ring_margin)
        box = crop_box(ring, shape=frame.shape)
        if box.empty:
            return None
        offset = box.offset
        crop = frame[box.top:box.bottom, box.left:box.right]
        src = control_points(source, ring, self.layout) - offset
        dst = control_points(target, ring, self.layout) - offset
        warped, _ = warp_region(crop, src, dst, self.layout.triangles)
        source_crop_lms = source - offset
        current_lip = mean_lip_rgb(crop, source_crop_lms)
        lip = current_lip if lip_rgb is None else lip_rgb + LIP_COLOUR_RATE * (
            current_lip - lip_rgb)
        if settings.paint_interior:
            local_source = axes.to_local(source)
            strength = paint_strength(
                source_gap_iod=mouth_gap_iod(local_source),
                target_gap_iod=shape.opening * settings.max_opening_iod,
            )
            paint_interior(warped, target - offset, frame=axes, strength=strength, lip_rgb=lip)
        alpha = feathered_hull_mask(
            ring - offset, shape=crop.shape[:2], feather_px=settings.feather_iod * axes.iod_px
        )
        out = frame.copy()
        region = crop.astype(np.float32)
        blended = region + (warped.astype(np.float32) - region) * alpha[:, :, None]
        out[box.top:box.bottom, box.left:box.right] = np.clip(np.rint(blended), 0, 255).astype(
            np.uint8
        )
        return out, lip


def create(*, models_dir: Path, **_options: object) -> VisemeLipSync:
    """Registry factory: the default-configured viseme engine (no weights)."""
    return VisemeLipSync()
