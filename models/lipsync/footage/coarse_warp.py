"""Piecewise-affine warps from a coarse map: what keeps the footage engine near real time.

The footage engine warps two regions per frame, the lower face (so jaw and cheeks follow
the new mouth) and the bank crop (onto the new lips). Rasterising which triangle every
pixel lies in and evaluating its affine map per pixel was two thirds of a 720p frame's
cost. A piecewise-affine backward map is continuous and linear inside each triangle, so
it is computed here on a grid every `MAP_STEP_PX` pixels and interpolated bilinearly
(the error is confined to cells a triangle edge crosses and is a small fraction of a
pixel at lip-sync's deformations; tests bound it); only the final resampling of the
image runs per pixel. A grid cell whose corners all lie outside every moving triangle
maps exactly to itself, so those pixels come out bit for bit (the cells that straddle
a moving triangle's edge may change a pixel or so beyond it, inside the warped box).
"""

from __future__ import annotations

import cv2
import numpy as np

from models.face.warp import CropBox, crop_box

MAP_STEP_PX = 4
LABEL_SHIFT_BITS = 4
MIN_TRIANGLE_DET = 1e-3
MIN_SHIFT_PX = 0.25  # a triangle whose corners all move less than this is left alone


def _affines(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per triangle the 3x2 C with [x, y, 1] @ C = source point, and whether it is valid."""
    a = np.concatenate([dst.astype(np.float64), np.ones(dst.shape[:2] + (1,))], axis=2)
    valid = np.abs(np.linalg.det(a)) > MIN_TRIANGLE_DET
    safe = np.where(valid[:, None, None], a, np.eye(3)[None])
    return np.linalg.solve(safe, src.astype(np.float64)), valid


def coarse_map(src_points: np.ndarray, dst_points: np.ndarray, triangles: np.ndarray, *,
               box: CropBox, outside: np.ndarray | None = None) -> np.ndarray:
    """The backward map (the box's height x width x 2, float32, source pixels) taking each
    box pixel to where its triangle's affine map says it comes from in the source.

    Pixels in no triangle map by `outside` (a 2x3 affine, destination -> source) or,
    when None, to themselves."""
    coarse, _ = _coarse_grid(src_points, dst_points, triangles, box=box, outside=outside)
    return _upsampled(coarse, (box.right - box.left, box.bottom - box.top))


def _coarse_grid(src_points: np.ndarray, dst_points: np.ndarray, triangles: np.ndarray, *,
                 box: CropBox, outside: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """`coarse_map` on its grid (every `MAP_STEP_PX` pixels from the box's corner), and
    per grid point the triangle it lies in (-1: none, mapped by `outside`)."""
    height, width = box.bottom - box.top, box.right - box.left
    grid_h = -(-(height - 1) // MAP_STEP_PX) + 1
    grid_w = -(-(width - 1) // MAP_STEP_PX) + 1
    xs = box.left + MAP_STEP_PX * np.arange(grid_w, dtype=np.float64)
    ys = box.top + MAP_STEP_PX * np.arange(grid_h, dtype=np.float64)
    gx, gy = np.meshgrid(xs, ys)
    if outside is None:
        map_x, map_y = gx.copy(), gy.copy()
    else:
        map_x = outside[0, 0] * gx + outside[0, 1] * gy + outside[0, 2]
        map_y = outside[1, 0] * gx + outside[1, 1] * gy + outside[1, 2]
    src = np.asarray(src_points, np.float64)
    dst = np.asarray(dst_points, np.float64)
    tri_src, tri_dst = src[triangles], dst[triangles]
    coeffs, valid = _affines(tri_src, tri_dst)
    if outside is None:  # identity outside: only triangles that move need drawing
        valid &= (np.linalg.norm(tri_dst - tri_src, axis=2) > MIN_SHIFT_PX).any(axis=1)
    labels = np.full((grid_h, grid_w), -1, np.int32)
    scale = float(1 << LABEL_SHIFT_BITS) / MAP_STEP_PX
    offset = np.array([box.left, box.top], np.float64)
    drawn = np.flatnonzero(valid)
    polygons = np.round((tri_dst[drawn] - offset) * scale).astype(np.int32)
    # Outlines first, so grid points on shared edges that neither fill claims get a label.
    for label, polygon in zip(drawn, polygons, strict=True):
        cv2.polylines(labels, [polygon], True, int(label), 1, cv2.LINE_8, LABEL_SHIFT_BITS)
    for label, polygon in zip(drawn, polygons, strict=True):
        cv2.fillConvexPoly(labels, polygon, int(label), lineType=cv2.LINE_8,
                           shift=LABEL_SHIFT_BITS)
    inside = labels >= 0
    c = coeffs[labels[inside]]
    px, py = gx[inside], gy[inside]
    map_x[inside] = px * c[:, 0, 0] + py * c[:, 1, 0] + c[:, 2, 0]
    map_y[inside] = px * c[:, 0, 1] + py * c[:, 1, 1] + c[:, 2, 1]
    return np.dstack([map_x, map_y]), labels


def warp_moving(source: np.ndarray, src_points: np.ndarray, dst_points: np.ndarray,
                triangles: np.ndarray, *, box: CropBox) -> tuple[CropBox, np.ndarray]:
    """`warp_image` without `outside`, resampled only where pixels can move: the part of
    `box` within one grid step of a moving triangle's grid points (possibly empty), and
    the warped pixels there. Elsewhere in `box` the map is the identity on whole pixels,
    so `warp_image` gives the source's own pixels there: both agree bit for bit.

    The lower face's box at 720p is ~0.3 Mpx, a third of it beyond every moving
    triangle, and its resampling and blend are most of a frame's cost."""
    coarse, labels = _coarse_grid(src_points, dst_points, triangles, box=box, outside=None)
    moving = labels >= 0
    rows, cols = np.flatnonzero(moving.any(axis=1)), np.flatnonzero(moving.any(axis=0))
    if not len(rows):
        return CropBox(box.left, box.top, box.left, box.top), source[0:0, 0:0]
    # A pixel interpolates the four grid points around it: one more step either side.
    first_row, last_row = max(int(rows[0]) - 1, 0), min(int(rows[-1]) + 1, len(coarse) - 1)
    first_col, last_col = max(int(cols[0]) - 1, 0), min(int(cols[-1]) + 1, coarse.shape[1] - 1)
    moved = CropBox(box.left + MAP_STEP_PX * first_col, box.top + MAP_STEP_PX * first_row,
                    min(box.right, box.left + MAP_STEP_PX * last_col + 1),
                    min(box.bottom, box.top + MAP_STEP_PX * last_row + 1))
    # The sub-grid starts on a grid point, so each pixel gets the same grid points and
    # weights as in the whole box's map, and none lies past the sub-grid's last point.
    backward = _upsampled(coarse[first_row:last_row + 1, first_col:last_col + 1],
                          (moved.right - moved.left, moved.bottom - moved.top))
    return moved, cv2.remap(source, backward, None, interpolation=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE)


def _upsampled(coarse: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A grid sampled every `MAP_STEP_PX` pixels, interpolated to every pixel."""
    matrix = np.array([[1.0 / MAP_STEP_PX, 0.0, 0.0], [0.0, 1.0 / MAP_STEP_PX, 0.0]])
    return cv2.warpAffine(coarse.astype(np.float32), matrix, size,
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


def warp_image(source: np.ndarray, src_points: np.ndarray, dst_points: np.ndarray,
               triangles: np.ndarray, *, box: CropBox,
               outside: np.ndarray | None = None) -> np.ndarray:
    """The `box` of the destination image: `source` warped so `src_points` land on
    `dst_points` (both in full-image pixels of their own images)."""
    backward = coarse_map(src_points, dst_points, triangles, box=box, outside=outside)
    return cv2.remap(source, backward, None, interpolation=cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def feathered_hull(points: np.ndarray, *, box: CropBox, feather_px: float) -> np.ndarray:
    """Float32 mask over `box`: 1 well inside the hull of `points`, fading to 0 at its edge,
    shaped at a quarter of the size (a feather this soft has no finer detail)."""
    height, width = box.bottom - box.top, box.right - box.left
    step = MAP_STEP_PX if feather_px >= 4 * MAP_STEP_PX else 1
    small_w, small_h = -(-(width - 1) // step) + 1, -(-(height - 1) // step) + 1
    hard = np.zeros((small_h, small_w), np.float32)
    local = (np.asarray(points, np.float64) - [box.left, box.top]) / step
    hull = cv2.convexHull(np.round(local * (1 << LABEL_SHIFT_BITS)).astype(np.int32))
    cv2.fillConvexPoly(hard, hull, 1.0, lineType=cv2.LINE_AA, shift=LABEL_SHIFT_BITS)
    if feather_px > 0:
        radius = max(1, round(feather_px / 2 / step))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        hard = cv2.GaussianBlur(cv2.erode(hard, kernel), (0, 0),
                                sigmaX=feather_px / 2.5 / step)
    if step == 1:
        return hard[:height, :width]
    return _upsampled(hard, (width, height))


def points_box(points: np.ndarray, *, shape: tuple[int, ...]) -> CropBox:
    """The box of `points` in an image of `shape`, one pixel of margin."""
    return crop_box(np.asarray(points, np.float32), shape=shape, pad_px=1)
