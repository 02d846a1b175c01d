"""Piecewise-affine face warps on the 68 iBUG landmarks, shared by lip-sync and reenactment.

Both engines move a handful of landmarks (lips, jaw, brows, eyelids) and need the
pixels to follow without touching anything else. The tools here:

* `FaceFrame`: the face's own axes (origin between the eyes, x along the eye line,
  unit = inter-ocular distance), so shapes and deltas are written once and work for
  any face size or roll.
* A fixed *ring* of anchor points around the region an engine may change. Ring
  points never move, so the warp fades to the identity at the ring and every pixel
  outside it is returned bit-for-bit.
* One Delaunay triangulation per layout, computed on a mean face (with the mouth
  open, so the inner-lip triangles exist) and reused for every face and frame: the
  topology never flips between frames, which is what keeps the warp from flickering.
* `warp_region`: rasterise only the triangles that move into a label map, turn it
  into a dense backward map (one affine per triangle, gathered by label, vectorized)
  and `cv2.remap` just the crop around the ring. A 4K frame costs what a 720p one does.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
from scipy.spatial import Delaunay

from likeness.errors import BadInput
from models.face.base import LANDMARK_COUNT
from models.face.landmarks import (
    BROW_IMAGE_LEFT,
    BROW_IMAGE_RIGHT,
    EYE_IMAGE_LEFT,
    EYE_IMAGE_RIGHT,
    INNER_CORNER_LEFT_INDEX,
    INNER_CORNER_RIGHT_INDEX,
    JAW,
    LOWER_INNER_MIDDLE,
    LOWER_LIP,
    LOWER_OUTER_MIDDLE,
    MOUTH_CORNER_LEFT_INDEX,
    MOUTH_CORNER_RIGHT_INDEX,
    NOSE,
    NOSE_TIP_INDEX,
    UPPER_INNER_MIDDLE,
    UPPER_OUTER_MIDDLE,
)

LayoutKind = Literal["lower", "full"]

# Mean of the six shipped flare portraits' dlib landmarks, in face units: origin at the
# midpoint of the eye centres, x along the eye line (image-left to image-right), y down,
# 1.0 = inter-ocular distance. Used only to build the triangulation topology.
MEAN_FACE_IOD = np.array([
    -1.134, -0.019, -1.139, 0.276, -1.101, 0.586, -1.018, 0.881, -0.890, 1.150, -0.704, 1.387,
    -0.498, 1.592, -0.269, 1.743, -0.003, 1.789, 0.243, 1.749, 0.450, 1.579, 0.622, 1.385,
    0.766, 1.139, 0.871, 0.870, 0.939, 0.580, 0.981, 0.285, 0.974, -0.001, -0.888, -0.282,
    -0.726, -0.376, -0.529, -0.366, -0.337, -0.295, -0.171, -0.186, 0.197, -0.198, 0.356,
    -0.300, 0.536, -0.365, 0.716, -0.374, 0.855, -0.289, 0.021, 0.020, 0.025, 0.239, 0.025,
    0.461, 0.039, 0.683, -0.202, 0.788, -0.098, 0.837, 0.024, 0.873, 0.141, 0.840, 0.241,
    0.786, -0.693, -0.022, -0.566, -0.075, -0.420, -0.068, -0.297, 0.039, -0.437, 0.065,
    -0.586, 0.061, 0.303, 0.037, 0.422, -0.063, 0.566, -0.079, 0.681, -0.016, 0.586, 0.057,
    0.442, 0.064, -0.387, 1.166, -0.247, 1.089, -0.094, 1.047, 0.021, 1.085, 0.134, 1.045,
    0.263, 1.092, 0.371, 1.178, 0.261, 1.300, 0.143, 1.357, 0.017, 1.360, -0.111, 1.351,
    -0.251, 1.288, -0.321, 1.171, -0.100, 1.166, 0.018, 1.185, 0.135, 1.168, 0.317, 1.184,
    0.131, 1.180, 0.019, 1.194, -0.100, 1.172,
], dtype=np.float32).reshape(LANDMARK_COUNT, 2)

TEMPLATE_OPEN_MOUTH_IOD = 0.12  # how far the template's lower lip is dropped (mouth open)
MIN_IOD_PX = 8.0  # below this the landmarks are too small (or a profile) to warp
MIN_SHIFT_PX = 0.05  # triangles whose corners all move less than this are left alone
FOREHEAD_LIFT_IOD = 0.45  # the full ring reaches this far above the brows
DEFAULT_RING_MARGIN = {"lower": 0.28, "full": 0.22}
LABEL_SHIFT_BITS = 4  # sub-pixel precision when rasterising triangles
_LOWER_LANDMARKS = np.r_[JAW, NOSE.start:LANDMARK_COUNT]  # jaw, nose, eyes, mouth: no brows
_FULL_LANDMARKS = np.arange(LANDMARK_COUNT)


@dataclass(frozen=True)
class FaceFrame:
    """A face's own coordinate frame: origin between the eyes, unit = inter-ocular distance."""

    origin: np.ndarray
    x_axis: np.ndarray
    y_axis: np.ndarray
    iod_px: float

    def to_local(self, points: np.ndarray) -> np.ndarray:
        """Image pixels -> face units (Nx2)."""
        basis = np.stack([self.x_axis, self.y_axis], axis=1)
        return ((np.asarray(points, np.float32) - self.origin) @ basis / self.iod_px).astype(
            np.float32
        )

    def to_image(self, local: np.ndarray) -> np.ndarray:
        """Face units -> image pixels (Nx2)."""
        basis = np.stack([self.x_axis, self.y_axis], axis=0)
        return (np.asarray(local, np.float32) @ basis * self.iod_px + self.origin).astype(
            np.float32
        )

    def vectors_to_image(self, local: np.ndarray) -> np.ndarray:
        """Face-unit displacements -> pixel displacements (no origin shift)."""
        basis = np.stack([self.x_axis, self.y_axis], axis=0)
        return (np.asarray(local, np.float32) @ basis * self.iod_px).astype(np.float32)

    def vectors_to_local(self, vectors: np.ndarray) -> np.ndarray:
        """Pixel displacements -> face units."""
        basis = np.stack([self.x_axis, self.y_axis], axis=1)
        return (np.asarray(vectors, np.float32) @ basis / self.iod_px).astype(np.float32)


def face_frame(landmarks: np.ndarray) -> FaceFrame:
    """The `FaceFrame` of 68 landmarks; `BadInput` when the eyes (nearly) coincide."""
    points = np.asarray(landmarks, dtype=np.float32)
    if points.shape != (LANDMARK_COUNT, 2):
        raise BadInput(f"expected ({LANDMARK_COUNT}, 2) landmarks, got {points.shape}")
    left = points[EYE_IMAGE_LEFT].mean(axis=0)
    right = points[EYE_IMAGE_RIGHT].mean(axis=0)
    span = right - left
    iod = float(np.hypot(span[0], span[1]))
    if not iod >= MIN_IOD_PX:
        raise BadInput(f"face too small or in profile to warp (eye distance {iod:.1f} px)")
    x_axis = (span / iod).astype(np.float32)
    y_axis = np.array([-x_axis[1], x_axis[0]], dtype=np.float32)  # image y points down
    return FaceFrame(((left + right) / 2).astype(np.float32), x_axis, y_axis, iod)


def ring_points(
    landmarks: np.ndarray, *, kind: LayoutKind, margin: float | None = None
) -> np.ndarray:
    """Fixed anchors around the region `kind` may change (image pixels).

    ``lower``: the jaw line pushed out from the nose tip, enclosing cheeks, mouth and
    chin. ``full``: the jaw plus the brows lifted onto the forehead, pushed out from
    the face centre. Both grow by `margin` (a fraction of the distance to the centre).
    """
    points = np.asarray(landmarks, dtype=np.float32)
    grow = 1.0 + (DEFAULT_RING_MARGIN[kind] if margin is None else margin)
    frame = face_frame(points)
    if kind == "lower":
        outline = points[JAW]
        centre = points[NOSE_TIP_INDEX]
    else:
        lift = frame.vectors_to_image(np.array([[0.0, -FOREHEAD_LIFT_IOD]], np.float32))
        brows = np.vstack([points[BROW_IMAGE_RIGHT][::-1], points[BROW_IMAGE_LEFT][::-1]]) + lift
        outline = np.vstack([points[JAW], brows])
        centre = outline.mean(axis=0)
    return (centre + (outline - centre) * grow).astype(np.float32)


@dataclass(frozen=True)
class WarpLayout:
    """Which landmarks take part in a warp and the fixed triangles over them plus the ring."""

    kind: LayoutKind
    landmark_ids: np.ndarray
    triangles: np.ndarray  # (T, 3) indices into control_points()
    margin: float


@functools.cache
def warp_layout(kind: LayoutKind, margin: float | None = None) -> WarpLayout:
    """The triangulation for `kind`, built once on the mean face with its mouth open."""
    if kind not in DEFAULT_RING_MARGIN:
        raise BadInput(f"unknown warp layout {kind!r}; choose 'lower' or 'full'")
    chosen_margin = DEFAULT_RING_MARGIN[kind] if margin is None else float(margin)
    template = MEAN_FACE_IOD.copy() * 100.0
    template[list(LOWER_LIP), 1] += TEMPLATE_OPEN_MOUTH_IOD * 100.0
    ids = _LOWER_LANDMARKS if kind == "lower" else _FULL_LANDMARKS
    ring = ring_points(template, kind=kind, margin=chosen_margin)
    vertices = np.vstack([template[ids], ring]).astype(np.float64)
    triangles = Delaunay(vertices).simplices.astype(np.int32)
    ids_ro = ids.copy()
    ids_ro.setflags(write=False)
    triangles.setflags(write=False)
    return WarpLayout(kind, ids_ro, triangles, chosen_margin)


def control_points(landmarks: np.ndarray, ring: np.ndarray, layout: WarpLayout) -> np.ndarray:
    """The vertices `layout.triangles` index: the chosen landmarks, then the ring."""
    return np.vstack([np.asarray(landmarks, np.float32)[layout.landmark_ids], ring])


@dataclass(frozen=True)
class CropBox:
    """An axis-aligned pixel rectangle of the frame (end-exclusive)."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def empty(self) -> bool:
        return self.right <= self.left or self.bottom <= self.top

    @property
    def offset(self) -> np.ndarray:
        return np.array([self.left, self.top], dtype=np.float32)


def crop_box(points: np.ndarray, *, shape: tuple[int, ...], pad_px: int = 2) -> CropBox:
    """The bounding box of `points` grown by `pad_px`, clipped to an image of `shape`."""
    low = np.floor(points.min(axis=0)).astype(int) - pad_px
    high = np.ceil(points.max(axis=0)).astype(int) + pad_px + 1
    return CropBox(
        max(0, int(low[0])), max(0, int(low[1])),
        min(int(shape[1]), int(high[0])), min(int(shape[0]), int(high[1])),
    )


def _backward_affines(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per triangle, the 3x2 matrix C with [x, y, 1] @ C = source point; and a validity flag.

    Solved for all triangles at once; triangles whose destination has (almost) no
    area are flagged invalid and never drawn.
    """
    ones = np.ones(dst.shape[:2] + (1,), dtype=np.float64)
    a = np.concatenate([dst.astype(np.float64), ones], axis=2)  # (T, 3, 3)
    det = np.linalg.det(a)
    valid = np.abs(det) > 1e-3
    safe = np.where(valid[:, None, None], a, np.eye(3)[None])
    coeffs = np.linalg.solve(safe, src.astype(np.float64))  # (T, 3, 2)
    return coeffs.astype(np.float32), valid


def warp_region(
    crop: np.ndarray,
    src_points: np.ndarray,
    dst_points: np.ndarray,
    triangles: np.ndarray,
    *,
    min_shift_px: float = MIN_SHIFT_PX,
) -> tuple[np.ndarray, np.ndarray]:
    """Warp `crop` so the pixels at `src_points` land on `dst_points` (crop coordinates).

    Returns the warped crop and a bool mask of the pixels that may have changed;
    every pixel outside the mask is the input pixel, bit for bit. Only triangles with
    a moving corner are rasterised.
    """
    src = np.asarray(src_points, np.float32)
    dst = np.asarray(dst_points, np.float32)
    shift = np.linalg.norm(dst - src, axis=1)
    moving = (shift[triangles] > min_shift_px).any(axis=1)
    height, width = crop.shape[:2]
    changed = np.zeros((height, width), dtype=bool)
    if not moving.any():
        return crop.copy(), changed
    tris = triangles[moving]
    dst_tri, src_tri = dst[tris], src[tris]
    coeffs, valid = _backward_affines(src_tri, dst_tri)
    tris_dst = dst_tri[valid]
    coeffs = coeffs[valid]
    if len(coeffs) == 0:
        return crop.copy(), changed
    box = crop_box(tris_dst.reshape(-1, 2), shape=crop.shape, pad_px=1)
    if box.empty:
        return crop.copy(), changed
    sub_h, sub_w = box.bottom - box.top, box.right - box.left
    labels = np.full((sub_h, sub_w), -1, dtype=np.int32)
    scale = float(1 << LABEL_SHIFT_BITS)
    local = np.round((tris_dst - box.offset) * scale).astype(np.int32)
    # Outlines first, so pixels on shared edges that neither fill claims still get a
    # label (both neighbours map an edge identically); then the fills.
    for label, polygon in enumerate(local):
        cv2.polylines(labels, [polygon], True, label, 1, cv2.LINE_8, LABEL_SHIFT_BITS)
    for label, polygon in enumerate(local):
        cv2.fillConvexPoly(labels, polygon, label, lineType=cv2.LINE_8, shift=LABEL_SHIFT_BITS)
    inside = labels >= 0
    ys, xs = np.nonzero(inside)
    gx = (xs + box.left).astype(np.float32)
    gy = (ys + box.top).astype(np.float32)
    c = coeffs[labels[inside]]  # (P, 3, 2)
    map_x = np.tile(np.arange(box.left, box.right, dtype=np.float32), (sub_h, 1))
    map_y = np.tile(np.arange(box.top, box.bottom, dtype=np.float32)[:, None], (1, sub_w))
    map_x[inside] = gx * c[:, 0, 0] + gy * c[:, 1, 0] + c[:, 2, 0]
    map_y[inside] = gx * c[:, 0, 1] + gy * c[:, 1, 1] + c[:, 2, 1]
    warped_sub = cv2.remap(
        crop, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    out = crop.copy()
    target = out[box.top:box.bottom, box.left:box.right]
    target[inside] = warped_sub[inside]
    changed[box.top:box.bottom, box.left:box.right] = inside
    return out, changed


def feathered_hull_mask(
    points: np.ndarray, *, shape: tuple[int, int], feather_px: float
) -> np.ndarray:
    """Float32 mask: 1 well inside the convex hull of `points`, fading to 0 at its edge."""
    hard = np.zeros(shape, dtype=np.uint8)
    hull = cv2.convexHull(np.round(points).astype(np.int32))
    cv2.fillConvexPoly(hard, hull, 1)
    if feather_px <= 0:
        return hard.astype(np.float32)
    radius = max(1, round(feather_px / 2))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    shrunk = cv2.erode(hard, kernel)
    return cv2.GaussianBlur(shrunk.astype(np.float32), (0, 0), sigmaX=feather_px / 2.5)


_UPPER_PAIRS = tuple(zip(UPPER_OUTER_MIDDLE, UPPER_INNER_MIDDLE, strict=True))  # (outer, inner)
_LOWER_PAIRS = tuple(zip(LOWER_OUTER_MIDDLE, LOWER_INNER_MIDDLE, strict=True))  # (outer, inner)
_INNER_GAP_PAIRS = tuple(zip(UPPER_INNER_MIDDLE, LOWER_INNER_MIDDLE, strict=True))  # (upper, lower)
LIP_MIN_THICKNESS_IOD = 0.02
CORNER_INSET_IOD = 0.03


def untangle_mouth(landmarks: np.ndarray, *, frame: FaceFrame | None = None) -> np.ndarray:
    """Landmarks with the lip contours in a consistent order (68x2, image pixels).

    Detectors often put a closed mouth's inner lips a pixel past each other or the
    inner corners outside the outer ones; warping through such crossed points folds
    triangles over each other (seams, stray spots). We nudge them back: inner corners
    inside the outer ones, each lip at least a sliver thick, the gap never negative.
    """
    axes = frame if frame is not None else face_frame(landmarks)
    local = axes.to_local(landmarks).astype(np.float64)
    left, right = INNER_CORNER_LEFT_INDEX, INNER_CORNER_RIGHT_INDEX
    local[left, 0] = max(local[left, 0], local[MOUTH_CORNER_LEFT_INDEX, 0] + CORNER_INSET_IOD)
    local[right, 0] = min(local[right, 0], local[MOUTH_CORNER_RIGHT_INDEX, 0] - CORNER_INSET_IOD)
    for outer, inner in _UPPER_PAIRS:
        local[inner, 1] = max(local[inner, 1], local[outer, 1] + LIP_MIN_THICKNESS_IOD)
    for outer, inner in _LOWER_PAIRS:
        local[inner, 1] = min(local[inner, 1], local[outer, 1] - LIP_MIN_THICKNESS_IOD)
    for upper, lower in _INNER_GAP_PAIRS:
        middle = (local[upper, 1] + local[lower, 1]) / 2.0
        if local[lower, 1] < local[upper, 1]:
            local[upper, 1] = local[lower, 1] = middle
    return axes.to_image(local.astype(np.float32))
