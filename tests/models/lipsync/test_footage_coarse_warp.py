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
    warp_moving,
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


def test_the_moving_part_of_the_warp_is_the_whole_warp_bit_for_bit() -> None:
    image, src, dst, triangles = _scene()
    for box in (CropBox(0, 0, 240, 200), CropBox(13, 7, 229, 194), CropBox(37, 33, 203, 171)):
        whole = warp_image(image, src, dst, triangles, box=box)
        moved, pixels = warp_moving(image, src, dst, triangles, box=box)
        assert box.left <= moved.left < moved.right <= box.right
        assert box.top <= moved.top < moved.bottom <= box.bottom
        if box.left == 0:  # beyond the ring nothing moves: the image's sides stay out
            assert moved.right - moved.left < box.right - box.left
        pasted = image[box.top:box.bottom, box.left:box.right].copy()
        pasted[moved.top - box.top:moved.bottom - box.top,
               moved.left - box.left:moved.right - box.left] = pixels
        assert np.array_equal(pasted, whole)
    still, pixels = warp_moving(image, src, src, triangles, box=CropBox(0, 0, 240, 200))
    assert still.empty and pixels.size == 0


def test_the_feathered_hull_is_one_inside_and_zero_far_outside() -> None:
    ring = np.array([[40, 40], [200, 40], [200, 160], [40, 160]], np.float32)
    mask = feathered_hull(ring, box=CropBox(0, 0, 240, 200), feather_px=20.0)
    assert mask.shape == (200, 240)
    assert mask[100, 120] > 0.99 and mask[5, 5] < 1e-3 and mask[195, 235] < 1e-3
    assert 0.05 < mask[100, 42] < 0.95  # the edge fades
