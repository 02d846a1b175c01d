"""The weight-free reenactor: driver landmark deltas, retargeted and warped onto the target.

For each driver frame:
1. Align the driver's landmarks onto its neutral frame (first tracked frame, or the
   median of all) with a similarity fitted on rigid points (eye corners, nose), which
   separates head motion (the similarity) from expression (what is left).
2. Express the expression deltas in the driver's face units (inter-ocular distance,
   eye-line axes) and replay them in the target's face units, so a wide-faced driver
   drives a narrow-faced target in proportion and in the target's own roll.
3. Apply small head motion (rotation, scale, shift; clipped) about the target's face
   centre, keep eyelids and lips from crossing, warp the target inside a fixed ring
   around the whole face, and paint the mouth interior when the mouth opens wider than
   the target's own. A One-Euro filter over the deltas and the pose keeps it steady.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from likeness.errors import BadInput
from models.face.align import estimate_similarity, invert_affine, transform_points
from models.face.base import LANDMARK_COUNT, Face, check_rgb_image
from models.face.landmarks import (
    BROWS,
    EYELID_PAIRS_IMAGE_LEFT,
    EYELID_PAIRS_IMAGE_RIGHT,
    JAW,
    MOUTH,
    NOSE,
)
from models.face.mouth_interior import mouth_gap_iod
from models.face.reshape import reshape_face
from models.face.tracking import OneEuroFilter, TrackedFace
from models.face.warp import FaceFrame, face_frame, untangle_mouth, warp_layout
from models.reenact.base import TargetInput, TargetTrack
from models.stream import FrameTally, RenderStats, paired
from models.weights import WeightFile

LOG = logging.getLogger(__name__)

RIGID_IDS = np.array([27, 28, 29, 30, 31, 33, 35, 36, 39, 42, 45])
CENTRE_IDS = NOSE  # the pivot for head rotation
# Per-landmark gain on the expression delta: brows, eyelids, mouth and jaw move; the
# nose and eye corners are rigid (they define the pose).
_GAIN = np.zeros(LANDMARK_COUNT, dtype=np.float32)
_GAIN[JAW] = 1.0
_GAIN[BROWS] = 1.0
# Eyelids are not moved by raw deltas but by a closure fraction (see `eye_closure`).
_GAIN[MOUTH] = 1.0
EYES = (EYELID_PAIRS_IMAGE_LEFT, EYELID_PAIRS_IMAGE_RIGHT)
# Landmark detectors see only part of a blink: the eyelid gap of a fully shut eye
# re-measures at roughly half the open gap. So a gap drop of this fraction counts as
# fully closed.
FULL_BLINK_DROP = 0.4
PACKED_EXPRESSION = 2 * LANDMARK_COUNT  # the (x, y) deltas, flattened
WEIGHTS: tuple[WeightFile, ...] = ()  # landmark deltas and a warp: no weight files


@dataclass(frozen=True)
class ReenactSettings:
    """Limits and smoothing; distances in face units (1.0 = inter-ocular distance)."""

    neutral: Literal["first", "median"] = "first"
    expression_gain: float = 0.9  # 1.0 measured identity max 0.354 (>0.35) on 10 s; 0.9: 0.327
    head_motion: bool = True
    max_rotation_deg: float = 12.0
    max_scale_change: float = 0.08
    max_shift_iod: float = 0.25
    ring_margin: float = 0.35
    feather_iod: float = 0.12
    min_cutoff_hz: float = 25.0  # the tracker already smooths; keep 3-6 Hz speech and blinks
    beta: float = 0.5
    paint_interior: bool = True


@dataclass(frozen=True)
class DriverMotion:
    """One driver frame, normalised: expression deltas (68x2 face units) and head pose."""

    expression: np.ndarray
    eye_closure: np.ndarray  # (2,) 0 open .. 1 shut, per eye
    rotation_rad: float
    log_scale: float
    shift: np.ndarray  # (2,) face units


def driver_motion(landmarks: np.ndarray, neutral: np.ndarray, neutral_frame: FaceFrame
                  ) -> DriverMotion:
    """Split driver landmarks into head pose and expression relative to `neutral`."""
    points = np.asarray(landmarks, np.float32)
    to_neutral = estimate_similarity(points[RIGID_IDS], neutral[RIGID_IDS])
    aligned = transform_points(points, to_neutral)
    expression = neutral_frame.vectors_to_local(aligned - neutral)
    pose = invert_affine(to_neutral)  # neutral -> this frame
    rotation = math.atan2(float(pose[1, 0]), float(pose[0, 0]))
    scale = math.hypot(float(pose[0, 0]), float(pose[1, 0]))
    centre = neutral[CENTRE_IDS].mean(axis=0, keepdims=True)
    moved = transform_points(centre, pose)
    shift = neutral_frame.vectors_to_local(moved - centre)[0]
    closure = eye_closure(aligned, neutral)
    # Rotation in the driver's image is the same angle in face axes (both are rigid).
    return DriverMotion(expression, closure, rotation, math.log(max(scale, 1e-6)), shift)


def eye_closure(landmarks: np.ndarray, neutral: np.ndarray) -> np.ndarray:
    """Per eye, how far it is shut relative to the neutral frame (0 open .. 1 shut).

    Relative, so a driver with narrow eyes blinks the target fully, not partly.
    """
    closure = np.zeros(2, dtype=np.float32)
    for k, pairs in enumerate(EYES):
        now = np.mean([np.linalg.norm(landmarks[u] - landmarks[w]) for u, w in pairs])
        rest = np.mean([np.linalg.norm(neutral[u] - neutral[w]) for u, w in pairs])
        if rest > 1e-3:
            closure[k] = np.clip((1.0 - now / rest) / FULL_BLINK_DROP, 0.0, 1.0)
    return closure


def neutral_landmarks(tracks: Iterable[TrackedFace | None], *, mode: str) -> np.ndarray | None:
    """The driver's neutral face: the first tracked landmarks, or their aligned median."""
    faces = [t.face.landmarks for t in tracks if t is not None]
    if not faces:
        return None
    first = np.asarray(faces[0], np.float32)
    if mode == "first" or len(faces) == 1:
        return first
    aligned = [
        transform_points(f, estimate_similarity(f[RIGID_IDS], first[RIGID_IDS])) for f in faces
    ]
    return np.median(np.stack(aligned), axis=0).astype(np.float32)


class LandmarkReenactor:
    """Landmark-driven expression transfer with a piecewise-affine warp (no weights)."""

    name = "landmark"

    def __init__(self, *, settings: ReenactSettings = ReenactSettings()) -> None:
        if settings.neutral not in ("first", "median"):
            raise BadInput(f"neutral must be 'first' or 'median', got {settings.neutral!r}")
        self.settings = settings
        self.layout = warp_layout("full", settings.ring_margin)
        self.last_stats = RenderStats()

    def render(
        self,
        target_frames_or_image: TargetInput,
        target_track: TargetTrack,
        driver_frames: Iterable[np.ndarray],
        driver_track: Iterable[TrackedFace | None],
        *,
        fps: float = 25.0,
    ) -> Iterator[np.ndarray]:
        """Target frames with the driver's expressions; see `Reenactor.render`."""
        settings = self.settings
        if settings.neutral == "median":
            driver_list = list(driver_track)
            neutral = neutral_landmarks(driver_list, mode="median")
            driver_iter: Iterable[TrackedFace | None] = driver_list
        else:
            driver_iter = driver_track
            neutral = None
        driver = paired(driver_frames, driver_iter, what="driver track")
        if isinstance(target_frames_or_image, np.ndarray):
            return self._render_image(target_frames_or_image, target_track, driver, neutral, fps)
        return self._render_video(target_frames_or_image, target_track, driver, neutral, fps)

    # -- the two target kinds ---------------------------------------------------------

    def _render_image(self, image: np.ndarray, track: TargetTrack,
                      driver: Iterator[tuple[int, np.ndarray, TrackedFace | None]],
                      neutral: np.ndarray | None, fps: float) -> Iterator[np.ndarray]:
        check_rgb_image(image)
        if isinstance(track, TrackedFace):
            face: Face | None = track.face
        elif isinstance(track, Face) or track is None:
            face = track
        else:
            raise BadInput("for an image target, target_track must be one Face or TrackedFace")
        if face is None:
            raise BadInput("no face found in the reenactment target image",
                           hint="use a frontal image of the performer")
        targets = itertools.repeat((image, face.landmarks))
        return self._stream(targets, driver, neutral, fps, image_target=True)

    def _render_video(self, frames: Iterable[np.ndarray], track: TargetTrack,
                      driver: Iterator[tuple[int, np.ndarray, TrackedFace | None]],
                      neutral: np.ndarray | None, fps: float) -> Iterator[np.ndarray]:
        if track is None or isinstance(track, (Face, TrackedFace)):
            raise BadInput("for a video target, target_track must give one entry per frame")
        targets = (
            (frame, None if tracked is None else tracked.face.landmarks)
            for _, frame, tracked in paired(frames, track, what="target track")  # type: ignore[arg-type]
        )
        return self._stream(targets, driver, neutral, fps, image_target=False)

    # -- the loop ----------------------------------------------------------------------

    def _stream(self, targets: Iterable[tuple[np.ndarray, np.ndarray | None]],
                driver: Iterator[tuple[int, np.ndarray, TrackedFace | None]],
                neutral: np.ndarray | None, fps: float, *, image_target: bool
                ) -> Iterator[np.ndarray]:
        settings = self.settings
        smoother = OneEuroFilter(rate_hz=fps, min_cutoff_hz=settings.min_cutoff_hz,
                                 beta=settings.beta)
        neutral_axes = face_frame(neutral) if neutral is not None else None
        tally = FrameTally()
        lip_rgb: np.ndarray | None = None
        driver_done = False
        try:
            for target_frame, target_lms in targets:
                entry = None if driver_done else next(driver, None)
                if entry is None:
                    driver_done = True
                    if image_target:
                        return  # an image target lasts as long as the driver
                driver_face = None if entry is None else entry[2]
                check_rgb_image(target_frame)
                if driver_face is not None and neutral is None:
                    neutral = np.asarray(driver_face.face.landmarks, np.float32)
                    neutral_axes = _safe_frame(neutral)
                    if neutral_axes is None:
                        neutral = None
                if target_lms is None or driver_face is None or neutral_axes is None:
                    LOG.debug("reenact: frame %d has no target or driver face; unchanged",
                              tally.frames)
                    yield tally.count_passed(target_frame.copy() if image_target else target_frame)
                    continue
                assert neutral is not None
                motion = driver_motion(driver_face.face.landmarks, neutral, neutral_axes)
                packed = smoother(np.concatenate([
                    motion.expression.ravel(), motion.eye_closure,
                    [motion.rotation_rad, motion.log_scale], motion.shift,
                ]))
                result = self._render_frame(target_frame, target_lms, packed, lip_rgb)
                if result is None:
                    yield tally.count_passed(target_frame.copy() if image_target else target_frame)
                    continue
                out, lip_rgb = result
                yield tally.count_changed(out)
        finally:
            self.last_stats = tally.stats

    def _render_frame(self, frame: np.ndarray, landmarks: np.ndarray, packed: np.ndarray,
                      lip_rgb: np.ndarray | None) -> tuple[np.ndarray, np.ndarray] | None:
        settings = self.settings
        axes = _safe_frame(landmarks)
        if axes is None:
            return None
        source = untangle_mouth(landmarks, frame=axes)
        gain = settings.expression_gain
        expression = packed[:PACKED_EXPRESSION].reshape(LANDMARK_COUNT, 2) * gain * _GAIN[:, None]
        local = axes.to_local(source) + expression
        closure = np.clip(packed[PACKED_EXPRESSION:PACKED_EXPRESSION + 2] * gain, 0.0, 1.0)
        for k, pairs in enumerate(EYES):  # the upper lid travels towards the lower one
            for upper, lower in pairs:
                local[upper] += (local[lower] - local[upper]) * closure[k] * (1.0 - 0.05)
        target = axes.to_image(local)
        if settings.head_motion:
            target = self._pose(target, source, axes, packed[PACKED_EXPRESSION + 2:])
        target = untangle_mouth(target, frame=axes)
        return reshape_face(
            frame, source, target, axes=axes, layout=self.layout,
            feather_iod=settings.feather_iod, lip_rgb=lip_rgb,
            target_gap_iod=(mouth_gap_iod(axes.to_local(target))
                            if settings.paint_interior else None),
        )

    def _pose(self, points: np.ndarray, source: np.ndarray, axes: FaceFrame,
              pose: np.ndarray) -> np.ndarray:
        """Rotate/scale/shift `points` about the target's nose by the (clipped) driver pose."""
        settings = self.settings
        limit = math.radians(settings.max_rotation_deg)
        angle = float(np.clip(pose[0], -limit, limit))
        scale = float(np.exp(np.clip(pose[1], -settings.max_scale_change,
                                     settings.max_scale_change)))
        shift_local = np.clip(pose[2:4], -settings.max_shift_iod, settings.max_shift_iod)
        shift = axes.vectors_to_image(shift_local[None, :].astype(np.float32))[0]
        centre = source[CENTRE_IDS].mean(axis=0)
        cos, sin = math.cos(angle) * scale, math.sin(angle) * scale
        rotation = np.array([[cos, -sin], [sin, cos]], dtype=np.float32)
        return ((points - centre) @ rotation.T + centre + shift).astype(np.float32)


def _safe_frame(landmarks: np.ndarray) -> FaceFrame | None:
    try:
        return face_frame(landmarks)
    except BadInput:
        return None


def create(*, models_dir: Path, **_options: object) -> LandmarkReenactor:
    """Registry factory: the default-configured landmark reenactor (no weights)."""
    return LandmarkReenactor()
