"""The JND map the watermark benchmark measures visibility with (tests/support/jnd.py):
Chou and Li's luminance thresholds, texture masking, and the visible-pixel counts."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support import jnd


def test_luminance_thresholds_are_chou_and_lis() -> None:
    t = jnd.luminance_threshold(np.array([0.0, 127.0, 255.0]))
    assert t == pytest.approx([20.0, 3.0, 6.0])
    assert jnd.luminance_threshold(np.array([40.0]))[0] == pytest.approx(
        17 * (1 - np.sqrt(40 / 127)) + 3)


def test_texture_raises_the_threshold_but_edges_are_protected() -> None:
    rng = np.random.default_rng(1)
    flat = np.full((64, 64), 127.0)
    texture = 127.0 + rng.normal(0, 20, (64, 64))
    edge = np.where(np.arange(64)[None, :] < 32, 100.0, 154.0).repeat(64, axis=0)
    assert jnd.jnd_map(flat)[32, 32] == pytest.approx(3.0)
    assert jnd.jnd_map(texture)[16:48, 16:48].mean() > 3.3
    # the step's gradient is large, but on the edge it masks at a tenth of the weight
    assert jnd.jnd_map(edge)[32, 31] < 3.0 + 0.117 * jnd.max_gradient(edge)[32, 31] * 0.2


def test_visibility_counts_pixels_above_one_jnd() -> None:
    flat = np.full((64, 64), 127.0)
    assert jnd.visibility(flat, flat + 2.0).visible_pixel_share == 0.0
    seen = jnd.visibility(flat, flat + 4.0)
    assert seen.visible_pixel_share == 1.0 and seen.flat_visible_block_share == 1.0
    assert seen.flat_blocks == 16 and seen.max_ratio == pytest.approx(4 / 3)
    one = flat.copy()
    one[5, 5] += 10
    seen = jnd.visibility(flat, one)
    assert seen.visible_pixel_share == pytest.approx(1 / 4096)
    assert seen.flat_visible_block_share == pytest.approx(1 / 16)


def test_rgb_frames_are_compared_by_their_luma() -> None:
    frame = np.full((32, 32, 3), 127, np.uint8)
    assert jnd.visibility(frame, frame + 5).visible_pixel_share == 1.0
