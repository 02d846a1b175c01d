"""The footage engine's coarse-map warp against the exact per-pixel one."""

from __future__ import annotations

import cv2
import numpy as np
from scipy.spatial import Delaunay

from models.face.warp import CropBox, warp_region
from models.lipsync.footage.coarse_warp import (
    MAP_STEP_PX,
    coarse_map,
    feathered_hull,
    warp_image,
)


def _scene() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    image = cv2.GaussianBlur(rng.integers(0, 256, (200, 240, 3), dtype=np.uint8), (0, 0), 2.0)
    ring = np.array([[40, 40], [200, 40], [200, 160], [40, 160], [120, 30], [120, 170]],
                    np.float32)
    inner = np.array([[90, 90], [150, 90], [120, 120], [100, 110], [140, 110]], np.float32)
    src = np.vstack([inner, ring])
    dst = src.copy()
    dst[:5] += np.array([[0, 3], [0, 3], [0, 9], [-2, 6], [2, 6]], np.float32)  # a mouth opens
    triangles = Delaunay(src.astype(np.float64)).simplices.astype(np.int32)
    return image, src, dst, triangles


def test_the_coarse_warp_matches_the_exact_one_within_a_grey_level() -> None:
    image, src, dst, triangles = _scene()
    exact, changed = warp_region(image, src, dst, triangles)
    box = CropBox(0, 0, image.shape[1], image.shape[0])
    coarse = warp_image(image, src, dst, triangles, box=box)
    difference = np.abs(coarse.astype(np.int16) - exact.astype(np.int16))
    assert difference[changed].mean() < 1.0 and difference.max() <= 12
    # A grid cell away from every moving triangle maps to itself: those pixels bit for bit.
    near = cv2.dilate(changed.astype(np.uint8), np.ones((4 * MAP_STEP_PX + 1,) * 2, np.uint8))
    assert np.array_equal(coarse[near == 0], image[near == 0])
    backward = coarse_map(src, dst, triangles, box=box)
    assert backward.shape == (200, 240, 2)
    assert np.allclose(backward[10, 20], [20, 10])  # far from the mouth: the identity


def test_the_feathered_hull_is_one_inside_and_zero_far_outside() -> None:
    ring = np.array([[40, 40], [200, 40], [200, 160], [40, 160]], np.float32)
    mask = feathered_hull(ring, box=CropBox(0, 0, 240, 200), feather_px=20.0)
    assert mask.shape == (200, 240)
    assert mask[100, 120] > 0.99 and mask[5, 5] < 1e-3 and mask[195, 235] < 1e-3
    assert 0.05 < mask[100, 42] < 0.95  # the edge fades
