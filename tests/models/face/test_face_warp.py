"""Piecewise-affine warp: identity when nothing moves, exact outside, no folded triangles."""

from __future__ import annotations

import numpy as np
import pytest

from likeness.errors import BadInput
from models.face.warp import (
    control_points,
    face_frame,
    ring_points,
    untangle_mouth,
    warp_layout,
    warp_region,
)
from tests.support.lipsync_media import engine, portrait


def _signed_areas(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    a, b, c = points[triangles[:, 0]], points[triangles[:, 1]], points[triangles[:, 2]]
    return (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])


def test_still_points_leave_the_image_untouched() -> None:
    image = np.random.default_rng(0).integers(0, 256, (120, 140, 3), dtype=np.uint8)
    points = np.array([[10, 10], [130, 10], [70, 110], [70, 50]], np.float32)
    triangles = np.array([[0, 1, 3], [1, 2, 3], [2, 0, 3]], np.int32)
    out, changed = warp_region(image, points, points, triangles)
    assert np.array_equal(out, image) and not changed.any()


def test_moving_one_point_changes_only_its_triangles() -> None:
    image = np.random.default_rng(1).integers(0, 256, (120, 140, 3), dtype=np.uint8)
    src = np.array([[10, 10], [130, 10], [70, 110], [70, 50]], np.float32)
    dst = src.copy()
    dst[3] += (6, 8)
    triangles = np.array([[0, 1, 3], [1, 2, 3], [2, 0, 3]], np.int32)
    out, changed = warp_region(image, src, dst, triangles)
    assert changed.any()
    assert np.array_equal(out[~changed], image[~changed])  # bit-exact outside
    assert not changed[:9].any() and not changed[112:].any()  # outside the triangles' hull
    # The pixel at the moved control point now shows what was at the source point.
    assert np.abs(out[58, 76].astype(int) - image[50, 70].astype(int)).max() <= 40


@pytest.mark.parametrize("name", ["female01", "female02", "female03", "male01", "male02",
                                  "male04"])
def test_layout_does_not_fold_on_real_faces(name: str) -> None:
    landmarks = engine().detect(portrait(name))[0].landmarks
    source = untangle_mouth(landmarks)
    for kind in ("lower", "full"):
        layout = warp_layout(kind)
        ring = ring_points(source, kind=kind)
        areas = _signed_areas(control_points(source, ring, layout), layout.triangles)
        mouth_and_jaw = np.isin(layout.landmark_ids, np.r_[3:14, 48:60])
        involved = np.isin(layout.triangles, np.nonzero(mouth_and_jaw)[0]).any(axis=1)
        assert (areas[involved] >= -1e-3).all() or (areas[involved] <= 1e-3).all()


def test_tiny_or_profile_landmarks_are_refused() -> None:
    with pytest.raises(BadInput):
        face_frame(np.zeros((68, 2), np.float32))
    with pytest.raises(BadInput):
        face_frame(np.zeros((5, 2), np.float32))
