"""Paint the inside of a mouth that opens wider than the source frame shows.

When a closed mouth is warped open, the inner-lip triangles stretch the thin lip
line into a smear. A real open mouth is a dark cavity with the upper teeth showing
just under the upper lip, so that is what we paint: a shaded cavity colour taken
from the lips themselves (so it suits the skin and the lighting), a pale teeth band
along the upper inner lip, a soft edge, and an opacity that grows with how much
wider the mouth is than in the source, so small openings keep the real pixels.
Everything runs on the mouth's bounding box only.
"""

from __future__ import annotations

import cv2
import numpy as np

from models.face.landmarks import (
    INNER_CORNER_LEFT_INDEX,
    INNER_CORNER_RIGHT_INDEX,
    LOWER_INNER_CONTOUR,
    LOWER_INNER_MIDDLE,
    MOUTH_INNER,
    MOUTH_OUTER,
    UPPER_INNER_CONTOUR,
    UPPER_INNER_MIDDLE,
)
from models.face.warp import FaceFrame

CONTOUR_SAMPLES = 24
CAVITY_SHADE = 0.22  # cavity brightness as a fraction of the lip colour
CAVITY_CENTRE_SHADE = 0.6  # the cavity's centre is this much darker again than its rim
TEETH_RGB = np.array([222.0, 214.0, 198.0], dtype=np.float32)
TEETH_SHADE = 0.82
TEETH_FRACTION = 0.32  # of the opening, below the upper lip
TEETH_MAX_IOD = 0.09
EDGE_SOFTNESS_IOD = 0.025
FULL_PAINT_GAP_IOD = 0.07  # extra opening (beyond the source) at which paint is opaque
MIN_PAINT_GAP_IOD = 0.015
LIP_COLOUR_RATE = 0.1  # exponential average of the lip colour per frame
FALLBACK_LIP_RGB = (120.0, 60.0, 60.0)  # when the lips are too small to sample


def mouth_gap_iod(local: np.ndarray) -> float:
    """Inner-lip gap in face units (landmarks already in face coordinates)."""
    return float(np.mean(local[list(LOWER_INNER_MIDDLE), 1] - local[list(UPPER_INNER_MIDDLE), 1]))


def steady_lip_rgb(current: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
    """The lip colour to paint with: a slow average, so the cavity does not flicker."""
    return current if previous is None else previous + LIP_COLOUR_RATE * (current - previous)


def paint_strength(*, source_gap_iod: float, target_gap_iod: float) -> float:
    """0..1 opacity of the painted interior from how much the mouth opens beyond the source."""
    extra = target_gap_iod - max(source_gap_iod, 0.0)
    if target_gap_iod < MIN_PAINT_GAP_IOD or extra <= 0:
        return 0.0
    return float(np.clip(extra / FULL_PAINT_GAP_IOD, 0.0, 1.0))


def paint_interior(
    crop: np.ndarray,
    landmarks: np.ndarray,
    *,
    frame: FaceFrame,
    strength: float,
    lip_rgb: np.ndarray,
) -> np.ndarray | None:
    """Paint the cavity inside the inner lips of `landmarks` (crop coordinates) in place.

    Returns the float alpha mask used (crop-sized), or None when nothing was painted.
    `lip_rgb` is the mean lip colour of the source, which sets the cavity's hue.
    """
    if strength <= 0.0:
        return None
    points = np.asarray(landmarks, np.float32)
    upper_fit, lower_fit, span = _lip_curves(frame.to_local(points))
    samples = np.linspace(span[0], span[1], CONTOUR_SAMPLES)
    contour_local = np.vstack([
        np.stack([samples, np.polyval(upper_fit, samples)], axis=1),
        np.stack([samples[::-1], np.polyval(lower_fit, samples[::-1])], axis=1),
    ])
    inner = frame.to_image(contour_local)
    soft_px = max(1.0, EDGE_SOFTNESS_IOD * frame.iod_px)
    pad = int(np.ceil(3 * soft_px)) + 1
    height, width = crop.shape[:2]
    left = max(0, int(np.floor(inner[:, 0].min())) - pad)
    top = max(0, int(np.floor(inner[:, 1].min())) - pad)
    right = min(width, int(np.ceil(inner[:, 0].max())) + pad + 1)
    bottom = min(height, int(np.ceil(inner[:, 1].max())) + pad + 1)
    if right - left < 2 or bottom - top < 2:
        return None
    sub_h, sub_w = bottom - top, right - left
    offset = np.array([left, top], np.float32)
    hard = np.zeros((sub_h, sub_w), dtype=np.float32)
    polygon = np.round((inner - offset) * 16).astype(np.int32)
    cv2.fillPoly(hard, [polygon], 1.0, lineType=cv2.LINE_AA, shift=4)
    alpha = cv2.GaussianBlur(hard, (0, 0), sigmaX=soft_px * 0.5) * hard
    if float(alpha.max()) <= 0.0:
        return None
    # Pixel positions in face units: u across the mouth, depth down from the upper lip.
    ys, xs = np.mgrid[top:bottom, left:right].astype(np.float32)
    local = frame.to_local(np.stack([xs.ravel(), ys.ravel()], axis=1))
    u = local[:, 0].reshape(sub_h, sub_w)
    depth = local[:, 1].reshape(sub_h, sub_w) - np.polyval(upper_fit, u)
    gap = max(float(np.max(np.polyval(lower_fit, samples) - np.polyval(upper_fit, samples))), 1e-3)
    teeth_depth = min(TEETH_FRACTION * gap, TEETH_MAX_IOD)
    # Cavity: lip hue, darkest in the middle of the opening.
    middle = 1.0 - np.clip(np.abs(depth - gap / 2) / (gap / 2), 0.0, 1.0)
    shade = CAVITY_SHADE * (1.0 - CAVITY_CENTRE_SHADE * middle)
    colour = lip_rgb.astype(np.float32)[None, None, :] * shade[:, :, None]
    # Teeth: a pale band under the upper lip, fading with depth and towards the corners.
    half = max((span[1] - span[0]) / 2.0, 1e-3)
    across = np.clip(1.0 - (np.abs(u - (span[0] + span[1]) / 2.0) / half) ** 4, 0.0, 1.0)
    teeth = np.clip(1.0 - depth / teeth_depth, 0.0, 1.0) ** 0.7 * across
    colour += (TEETH_RGB * TEETH_SHADE - colour) * teeth[:, :, None]
    weight = (alpha * float(strength))[:, :, None]
    region = crop[top:bottom, left:right].astype(np.float32)
    blended = region + (colour - region) * weight
    crop[top:bottom, left:right] = np.clip(np.rint(blended), 0, 255).astype(crop.dtype)
    full = np.zeros((height, width), dtype=np.float32)
    full[top:bottom, left:right] = weight[:, :, 0]
    return full


def _lip_curves(local: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """Parabolas through the upper and lower inner lip (face units) and their u-span.

    Eight landmarks make a jagged octagon; a parabola per lip is the smooth curve a
    real opening follows.
    """
    upper = local[list(UPPER_INNER_CONTOUR)].astype(np.float64)
    lower = local[list(LOWER_INNER_CONTOUR)].astype(np.float64)
    upper_fit = np.polyfit(upper[:, 0], upper[:, 1], 2)
    lower_fit = np.polyfit(lower[:, 0], lower[:, 1], 2)
    span = (float(local[INNER_CORNER_LEFT_INDEX, 0]), float(local[INNER_CORNER_RIGHT_INDEX, 0]))
    return upper_fit, lower_fit, span


def mean_lip_rgb(crop: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """Mean colour of the lips (between outer and inner contour) in `crop`."""
    points = np.asarray(landmarks, np.float32)
    outer = points[MOUTH_OUTER]
    low = np.maximum(np.floor(outer.min(axis=0)).astype(int), 0)
    high = np.ceil(outer.max(axis=0)).astype(int) + 1
    high = np.minimum(high, [crop.shape[1], crop.shape[0]])
    if (high - low).min() < 2:
        return np.array(FALLBACK_LIP_RGB, np.float32)
    mask = np.zeros((high[1] - low[1], high[0] - low[0]), dtype=np.uint8)
    cv2.fillPoly(mask, [np.round(outer - low).astype(np.int32)], 1)
    cv2.fillPoly(mask, [np.round(points[MOUTH_INNER] - low).astype(np.int32)], 0)
    region = crop[low[1]:high[1], low[0]:high[0]]
    selected = region[mask.astype(bool)]
    if len(selected) == 0:
        return np.array(FALLBACK_LIP_RGB, np.float32)
    return selected.reshape(-1, 3).mean(axis=0).astype(np.float32)
