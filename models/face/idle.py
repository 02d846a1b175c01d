"""Bringing a still portrait to life: blinks, a small sway of the head, breathing.

An avatar made from one photo must not look like a photo with a moving mouth. Each
frame is the still with (1) the eyelids closed by the blink schedule, and (2) a small
affine motion about the neck: a slow sway (under a degree), a drift of a few pixels and
a breathing swell of a few tenths of a percent. The motions are sums of slow sines at
unrelated frequencies, so they never visibly repeat; blinks come every 2.5-4.5 s from
a seeded generator, so a render is reproducible.

A blink pulls the skin above each eye down over it (a vertical remap inside a feathered
ellipse round the eye): the lash line ends where the lower lid is, as a closed eye looks.
The lip-sync engine runs afterwards on these frames, tracking the face as it moves.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from models.face.landmarks import EYE_IMAGE_LEFT, EYE_IMAGE_RIGHT

BLINK_CLOSE_S = 0.09
BLINK_HOLD_S = 0.04
BLINK_OPEN_S = 0.14
FIRST_BLINK_S = 1.1
BLINK_GAP_S = (2.5, 4.5)


@dataclass(frozen=True)
class IdleMotion:
    """How much the still moves, in degrees and in fractions of the frame height."""

    sway_deg: float = 0.8
    drift: float = 0.006  # of the frame height
    breath: float = 0.004  # scale swell
    breath_hz: float = 0.25  # 15 breaths a minute, at rest


def blink_times(seconds: float, *, seed: int = 0) -> tuple[float, ...]:
    """When each blink starts, for a render of ``seconds``."""
    rng = np.random.default_rng(seed)
    times: list[float] = []
    t = FIRST_BLINK_S
    while t < seconds:
        times.append(round(t, 3))
        t += float(rng.uniform(*BLINK_GAP_S))
    return tuple(times)


def closure_at(t: float, blinks: tuple[float, ...]) -> float:
    """How closed the eyes are at ``t``: 0 open, 1 shut."""
    for start in blinks:
        dt = t - start
        if dt < 0:
            break
        if dt < BLINK_CLOSE_S:
            return dt / BLINK_CLOSE_S
        if dt < BLINK_CLOSE_S + BLINK_HOLD_S:
            return 1.0
        if dt < BLINK_CLOSE_S + BLINK_HOLD_S + BLINK_OPEN_S:
            return 1.0 - (dt - BLINK_CLOSE_S - BLINK_HOLD_S) / BLINK_OPEN_S
    return 0.0


def close_eyes(image: np.ndarray, landmarks: np.ndarray, closure: float) -> np.ndarray:
    """``image`` with both upper lids lowered by ``closure`` (a copy; 0 returns it as is)."""
    if closure <= 0.0:
        return image
    out = image.copy()
    for eye in (EYE_IMAGE_LEFT, EYE_IMAGE_RIGHT):
        _close_one(out, image, landmarks[eye], min(1.0, closure))
    return out


def _close_one(out: np.ndarray, image: np.ndarray, eye: np.ndarray, closure: float) -> None:
    height, width = image.shape[:2]
    left, right = float(eye[:, 0].min()), float(eye[:, 0].max())
    top, bottom = float(eye[:, 1].min()), float(eye[:, 1].max())
    span = max(2.0, right - left)
    x0, x1 = int(max(0, left - 0.3 * span)), int(min(width, right + 0.3 * span + 1))
    y0, y1 = int(max(0, top - 0.45 * span)), int(min(height, bottom + 0.15 * span + 1))
    if x1 - x0 < 3 or y1 - y0 < 3 or top <= y0:
        return
    lid = top + closure * (bottom - top + 0.05 * span)  # where the upper lid edge now is
    ys = np.arange(y0, y1, dtype=np.float32)
    src_y = np.where(ys <= lid, y0 + (ys - y0) * (top - y0) / max(1e-3, lid - y0), ys)
    map_y = np.repeat(src_y[:, None], x1 - x0, axis=1).astype(np.float32)
    map_x = np.repeat(np.arange(x0, x1, dtype=np.float32)[None, :], y1 - y0, axis=0)
    moved = cv2.remap(image, map_x, map_y, interpolation=cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_REPLICATE)
    cx, cy = (left + right) / 2.0, (y0 + y1) / 2.0
    rx, ry = 0.5 * (x1 - x0), 0.5 * (y1 - y0)
    gx = (map_x - cx) / rx
    gy = (ys[:, None] - cy) / ry
    weight = np.clip((1.0 - np.sqrt(gx ** 2 + gy ** 2)) / 0.35, 0.0, 1.0)[:, :, None]
    region = out[y0:y1, x0:x1].astype(np.float32)
    out[y0:y1, x0:x1] = (region * (1.0 - weight) + moved.astype(np.float32) * weight
                         + 0.5).astype(np.uint8)


def head_transform(t: float, *, pivot: tuple[float, float], frame_height: int,
                   motion: IdleMotion = IdleMotion()) -> np.ndarray:
    """The 2x3 affine of the head at ``t`` (rotation and swell about ``pivot``, drift)."""
    angle = motion.sway_deg * (0.7 * np.sin(2 * np.pi * 0.11 * t)
                               + 0.3 * np.sin(2 * np.pi * 0.23 * t + 1.0))
    scale = 1.0 + motion.breath * np.sin(2 * np.pi * motion.breath_hz * t)
    matrix = cv2.getRotationMatrix2D(pivot, float(angle), float(scale))
    matrix[0, 2] += motion.drift * frame_height * np.sin(2 * np.pi * 0.07 * t + 0.5)
    matrix[1, 2] += 0.5 * motion.drift * frame_height * np.sin(2 * np.pi * 0.13 * t + 2.0)
    return matrix


def idle_frames(still: np.ndarray, landmarks: np.ndarray, *, count: int, fps: float,
                seed: int = 0, motion: IdleMotion = IdleMotion()) -> Iterator[np.ndarray]:
    """``count`` frames of the still blinking, swaying and breathing (RGB uint8)."""
    height, width = still.shape[:2]
    blinks = blink_times(count / fps, seed=seed)
    chin = landmarks[8]
    face_height = float(landmarks[:, 1].max() - landmarks[:, 1].min())
    pivot = (float(chin[0]), float(min(height - 1, chin[1] + 0.35 * face_height)))  # the neck
    for index in range(count):
        t = index / fps
        frame = close_eyes(still, landmarks, closure_at(t, blinks))
        matrix = head_transform(t, pivot=pivot, frame_height=height, motion=motion)
        yield cv2.warpAffine(frame, matrix, (width, height), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REPLICATE)
