"""Generated test and demo media with known ground truth: no footage is downloaded.

* `drift_clip`: a still portrait placed in a frame with small head motion (drift and
  roll), the kind of clip a lip-sync test or benchmark needs.
* `expression_program` + `expression_clip`: a driver video made from a portrait by
  warping its own landmarks (mouth opening and closing, blinks) with the same
  piecewise-affine warp the engines use, so the expression on every frame is known.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from likeness.errors import BadInput
from models.face.landmarks import EYELID_PAIRS
from models.face.mouth_interior import mean_lip_rgb, mouth_gap_iod, paint_interior, paint_strength
from models.face.warp import (
    control_points,
    face_frame,
    ring_points,
    untangle_mouth,
    warp_layout,
    warp_region,
)
from models.lipsync.mouth import MouthShape
from models.lipsync.viseme import VisemeSettings, articulate

BACKGROUND_RGB = (200, 205, 210)


@dataclass(frozen=True)
class ExpressionProgram:
    """Per-frame ground truth: mouth opening (0..1), eye closure (0..1), roll (degrees)."""

    mouth: np.ndarray
    eyes_closed: np.ndarray
    roll_deg: np.ndarray


def expression_program(frame_count: int, *, fps: float, seed: int = 0) -> ExpressionProgram:
    """Syllable-like mouth bumps (~3 Hz, random heights, pauses), blinks, slow roll."""
    if frame_count < 1:
        raise BadInput("frame_count must be >= 1")
    rng = np.random.default_rng(seed)
    t = np.arange(frame_count) / fps
    syllable_hz = 2.6
    phase = t * syllable_hz
    heights = rng.uniform(0.3, 1.0, size=int(phase[-1]) + 2)
    heights[rng.random(len(heights)) < 0.2] = 0.0  # pauses
    mouth = heights[phase.astype(int)] * np.sin(np.pi * (phase % 1.0)) ** 2
    blink_starts = np.arange(0.6, t[-1] + 1.0, 1.7)
    eyes = np.zeros(frame_count)
    for start in blink_starts:
        eyes = np.maximum(eyes, np.clip(1.0 - np.abs(t - start - 0.1) / 0.12, 0.0, 1.0))
    roll = 3.0 * np.sin(2 * np.pi * t / 4.0)
    return ExpressionProgram(mouth.astype(np.float32), eyes.astype(np.float32),
                             roll.astype(np.float32))


def _place(image: np.ndarray, *, frame_size: tuple[int, int], face_px: int, centre_xy: tuple[
        float, float], roll_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """`image` scaled to `face_px` wide, rolled and centred in a flat frame; and its matrix."""
    height, width = image.shape[:2]
    scale = face_px / float(width)
    matrix = cv2.getRotationMatrix2D((width / 2.0, height / 2.0), roll_deg, scale)
    matrix[:, 2] += np.array(centre_xy) - np.array([width / 2.0, height / 2.0])
    frame = np.empty((frame_size[1], frame_size[0], 3), dtype=np.uint8)
    frame[:] = BACKGROUND_RGB
    cv2.warpAffine(image, matrix, frame_size, dst=frame, flags=cv2.INTER_LINEAR,
                   borderMode=cv2.BORDER_TRANSPARENT)
    return frame, matrix.astype(np.float32)


def drift_clip(
    image: np.ndarray, *, frame_count: int, fps: float, frame_size: tuple[int, int] = (1280, 720),
    face_px: int = 420, drift_px: float = 20.0, roll_deg: float = 2.0,
) -> list[np.ndarray]:
    """A still portrait with small, smooth head motion (drift and roll) in a flat frame."""
    frames = []
    for i in range(frame_count):
        t = i / fps
        centre = (frame_size[0] / 2 + drift_px * np.sin(t * 1.3),
                  frame_size[1] / 2 + 0.5 * drift_px * np.cos(t * 0.9))
        frame, _ = _place(image, frame_size=frame_size, face_px=face_px, centre_xy=centre,
                          roll_deg=roll_deg * np.sin(t * 0.7))
        frames.append(frame)
    return frames


def expression_face(image: np.ndarray, landmarks: np.ndarray, *, mouth: float,
                    eyes_closed: float) -> tuple[np.ndarray, np.ndarray]:
    """`image` with its mouth opened to `mouth` and eyes closed by `eyes_closed` (0..1).

    Returns the image and its true landmarks after the change.
    """
    axes = face_frame(landmarks)
    source = untangle_mouth(landmarks, frame=axes)
    target = articulate(source, MouthShape(float(mouth), 0.5, 0.0), frame=axes,
                        settings=VisemeSettings())
    local = axes.to_local(target)
    for upper, lower in EYELID_PAIRS:
        local[upper, 1] += (local[lower, 1] - local[upper, 1]) * float(eyes_closed)
    target = axes.to_image(local)
    layout = warp_layout("full", 0.35)
    ring = ring_points(source, kind="full", margin=0.35)
    warped, _ = warp_region(image, control_points(source, ring, layout),
                            control_points(target, ring, layout), layout.triangles)
    strength = paint_strength(source_gap_iod=mouth_gap_iod(axes.to_local(source)),
                              target_gap_iod=mouth_gap_iod(axes.to_local(target)))
    paint_interior(warped, target, frame=axes, strength=strength,
                   lip_rgb=mean_lip_rgb(image, source))
    return warped, target


def expression_clip(
    image: np.ndarray, landmarks: np.ndarray, program: ExpressionProgram, *,
    frame_size: tuple[int, int] = (1280, 720), face_px: int = 420,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A driver clip following `program`, and the true landmarks of every frame."""
    frames, truth = [], []
    for mouth, eyes, roll in zip(program.mouth, program.eyes_closed, program.roll_deg,
                                 strict=True):
        face, points = expression_face(image, landmarks, mouth=float(mouth),
                                       eyes_closed=float(eyes))
        frame, matrix = _place(face, frame_size=frame_size, face_px=face_px,
                               centre_xy=(frame_size[0] / 2, frame_size[1] / 2),
                               roll_deg=float(roll))
        frames.append(frame)
        truth.append(points @ matrix[:, :2].T + matrix[:, 2])
    return frames, truth


def mouth_opening(landmarks: np.ndarray) -> float:
    """Inner-lip gap over inter-ocular distance: what benchmarks re-measure on output."""
    axes = face_frame(landmarks)
    return max(0.0, mouth_gap_iod(axes.to_local(landmarks)))


def eye_aperture(landmarks: np.ndarray) -> float:
    """Mean eyelid gap over inter-ocular distance (both eyes)."""
    axes = face_frame(landmarks)
    local = axes.to_local(landmarks)
    gaps = [local[lower, 1] - local[upper, 1] for upper, lower in EYELID_PAIRS]
    return float(np.mean(gaps))
