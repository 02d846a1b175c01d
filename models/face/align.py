"""Face crops in a canonical pose, and pasting edited crops back into the frame.

Lip-sync and reenactment work on a face-centred square crop (eyes level, fixed
scale) and then paste their result back. `similarity_align` returns the crop and
the 2x3 matrix M (frame -> crop); `paste_back` inverts M and blends through a
feathered mask, touching only the frame region the crop covers so a 4K frame costs
no more than a 720p one. `lower_face_mask` and `mouth_region` give the areas a
lip-sync engine may change.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from likeness.errors import BadInput
from models.face.base import LANDMARK_COUNT
from models.face.landmarks import (
    EYE_IMAGE_LEFT,
    EYE_IMAGE_RIGHT,
    JAW,
    MOUTH,
    MOUTH_CORNER_LEFT_INDEX,
    MOUTH_CORNER_RIGHT_INDEX,
    NOSE_BRIDGE_MID_INDEX,
    NOSE_TIP_INDEX,
)

# Five anchor points in a unit square (x, y), image-left eye first: eye centres,
# nose tip, mouth corners. Chosen so the whole face from brows to chin, with a
# little margin, fits the crop (the chin lands near y = 0.9).
FIVE_POINT_TEMPLATE = np.array(
    [[0.355, 0.400], [0.645, 0.400], [0.500, 0.560], [0.385, 0.715], [0.615, 0.715]],
    dtype=np.float32,
)
DEFAULT_OUTPUT_SIZE_PX = 256


@dataclass(frozen=True)
class Region:
    """An axis-aligned pixel rectangle, end-exclusive (``image[top:bottom, left:right]``)."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top


def _check_landmarks(landmarks: np.ndarray) -> np.ndarray:
    points = np.asarray(landmarks, dtype=np.float32)
    if points.shape != (LANDMARK_COUNT, 2):
        raise BadInput(f"expected ({LANDMARK_COUNT}, 2) landmarks, got {points.shape}")
    return points


def five_points(landmarks: np.ndarray) -> np.ndarray:
    """Eye centres, nose tip and mouth corners (5x2) from the 68-point layout."""
    points = _check_landmarks(landmarks)
    return np.stack(
        [
            points[EYE_IMAGE_LEFT].mean(axis=0),
            points[EYE_IMAGE_RIGHT].mean(axis=0),
            points[NOSE_TIP_INDEX],
            points[MOUTH_CORNER_LEFT_INDEX],
            points[MOUTH_CORNER_RIGHT_INDEX],
        ]
    ).astype(np.float32)


def estimate_similarity(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least-squares rotation + uniform scale + translation mapping source onto target (2x3).

    Closed form (Umeyama without reflection), so it is deterministic, unlike RANSAC.
    """
    src = np.asarray(source, dtype=np.float64)
    dst = np.asarray(target, dtype=np.float64)
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    covariance = dst_c.T @ src_c / len(src)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1.0
    rotation = u @ np.diag(sign) @ vt
    variance = (src_c**2).sum() / len(src)
    if variance <= 0:
        raise BadInput("cannot align a face whose landmarks all coincide")
    scale = float((singular * sign).sum() / variance)
    matrix = np.empty((2, 3), dtype=np.float64)
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = dst_mean - matrix[:, :2] @ src_mean
    return matrix.astype(np.float32)


def similarity_align(
    image: np.ndarray,
    landmarks: np.ndarray,
    *,
    output_size: int = DEFAULT_OUTPUT_SIZE_PX,
    template: np.ndarray = FIVE_POINT_TEMPLATE,
) -> tuple[np.ndarray, np.ndarray]:
    """A square `output_size` crop of the face in canonical pose, and M (frame -> crop)."""
    if output_size < 16:
        raise BadInput(f"output_size must be >= 16 px, got {output_size}")
    anchors = np.asarray(template, dtype=np.float32)
    if anchors.shape != (5, 2):
        raise BadInput(f"template must be 5x2 (unit square), got {anchors.shape}")
    matrix = estimate_similarity(five_points(landmarks), anchors * output_size)
    crop = cv2.warpAffine(
        image, matrix, (output_size, output_size),
        flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE,
    )
    return crop, matrix


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """The 2x3 inverse of a 2x3 affine matrix (crop -> frame for an M from alignment)."""
    return cv2.invertAffineTransform(np.asarray(matrix, dtype=np.float64)).astype(np.float32)


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine matrix to Nx2 points (e.g. landmarks into crop coordinates)."""
    pts = np.asarray(points, dtype=np.float32)
    m = np.asarray(matrix, dtype=np.float32)
    return (pts @ m[:, :2].T + m[:, 2]).astype(np.float32)


def feathered_mask(size: int, *, feather_px: float | None = None) -> np.ndarray:
    """A float32 size x size mask, 1 inside and fading to 0 over `feather_px` at the edges."""
    feather = float(feather_px if feather_px is not None else size * 0.08)
    ramp = np.arange(size, dtype=np.float32) + 0.5
    edge = np.minimum(ramp, size - ramp)
    profile = np.clip(edge / max(feather, 1e-6), 0.0, 1.0)
    return np.outer(profile, profile).astype(np.float32)


def _feather(mask: np.ndarray, feather_px: float) -> np.ndarray:
    """Shrink a hard mask by half the feather, then blur so the fade stays inside it."""
    if feather_px <= 0:
        return mask.astype(np.float32)
    radius = max(1, round(feather_px / 2))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    shrunk = cv2.erode(mask, kernel)
    blurred = cv2.GaussianBlur(shrunk.astype(np.float32), (0, 0), sigmaX=feather_px / 2.5)
    return np.clip(blurred, 0.0, 1.0)


def lower_face_mask(
    landmarks: np.ndarray, *, shape: tuple[int, int], feather_px: float | None = None
) -> np.ndarray:
    """Float32 HxW mask of the face below the nose bridge (cheeks, mouth, chin), feathered.

    `landmarks` must be in the coordinates of the HxW image it masks (transform them
    with `transform_points` for a crop). This is the area lip-sync may repaint.
    """
    points = _check_landmarks(landmarks)
    height, width = int(shape[0]), int(shape[1])
    jaw = points[JAW][1:16]
    top_y = points[NOSE_BRIDGE_MID_INDEX, 1]
    polygon = np.vstack([jaw, [[jaw[-1, 0], top_y], [jaw[0, 0], top_y]]])
    hull = cv2.convexHull(np.round(polygon).astype(np.int32))
    hard = np.zeros((height, width), dtype=np.uint8)
    cv2.fillConvexPoly(hard, hull, 1)
    face_width = float(np.ptp(points[JAW][:, 0]))
    feather = feather_px if feather_px is not None else 0.08 * face_width
    return _feather(hard.astype(np.float32), feather)


def mouth_region(
    landmarks: np.ndarray, *, margin: float = 0.3, shape: tuple[int, int] | None = None
) -> Region:
    """The mouth's bounding box grown by `margin` x mouth width on every side (clipped)."""
    mouth = _check_landmarks(landmarks)[MOUTH]
    low, high = mouth.min(axis=0), mouth.max(axis=0)
    pad = margin * float(high[0] - low[0])
    left, top = int(np.floor(low[0] - pad)), int(np.floor(low[1] - pad))
    right, bottom = int(np.ceil(high[0] + pad)), int(np.ceil(high[1] + pad))
    if shape is not None:
        left, top = max(0, left), max(0, top)
        right, bottom = min(int(shape[1]), right), min(int(shape[0]), bottom)
    return Region(left, top, right, bottom)


def paste_back(
    frame: np.ndarray, crop: np.ndarray, matrix: np.ndarray, mask: np.ndarray | None = None
) -> np.ndarray:
    """A copy of `frame` with `crop` (made with M = `matrix`) blended back through `mask`.

    `mask` is float in [0, 1] of the crop's size (default: `feathered_mask`). Only the
    frame rectangle the crop covers is warped and blended.
    """
    size_h, size_w = crop.shape[:2]
    if mask is None:
        mask = feathered_mask(size_w) if size_h == size_w else np.ones((size_h, size_w))
    if mask.shape[:2] != (size_h, size_w):
        raise BadInput(f"mask shape {mask.shape[:2]} differs from crop shape {(size_h, size_w)}")
    inverse = invert_affine(matrix).astype(np.float64)
    corners = np.array([[0, 0], [size_w, 0], [0, size_h], [size_w, size_h]], dtype=np.float32)
    mapped = transform_points(corners, inverse)
    height, width = frame.shape[:2]
    left = max(0, int(np.floor(mapped[:, 0].min())) - 1)
    top = max(0, int(np.floor(mapped[:, 1].min())) - 1)
    right = min(width, int(np.ceil(mapped[:, 0].max())) + 1)
    bottom = min(height, int(np.ceil(mapped[:, 1].max())) + 1)
    out = frame.copy()
    if right <= left or bottom <= top:
        return out  # the crop lies entirely outside the frame
    local = inverse.copy()
    local[:, 2] -= (left, top)
    roi_size = (right - left, bottom - top)
    warped = cv2.warpAffine(
        crop, local, roi_size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    alpha = cv2.warpAffine(
        np.asarray(mask, dtype=np.float32), local, roi_size,
        flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0.0,
    )
    if warped.ndim == 3:
        alpha = alpha[:, :, None]
    region = out[top:bottom, left:right].astype(np.float32)
    blended = region + (warped.astype(np.float32) - region) * alpha
    out[top:bottom, left:right] = np.clip(np.rint(blended), 0, 255).astype(frame.dtype)
    return out
