"""The visible label: drawn in the configured corner, nothing else touched."""

from __future__ import annotations

import av
import numpy as np
import pytest

from media.yuv import Yuv420
from provenance.label import LabelBurner, LabelSpec


@pytest.mark.parametrize("position", ["top-left", "top-right", "bottom-left", "bottom-right"])
def test_label_sits_in_its_corner(position: str) -> None:
    frame = np.full((360, 640, 3), 128, dtype=np.uint8)
    burner = LabelBurner(LabelSpec("AI-generated · Test", position), width=640, height=360)
    out = burner.burn(frame)
    changed = np.argwhere(np.any(out != frame, axis=2))
    assert len(changed) > 500  # text and its box
    ys, xs = changed[:, 0], changed[:, 1]
    assert (ys.max() < 180) == position.startswith("top")
    assert (xs.max() < 320) == position.endswith("left")
    x, y, w, h = burner.box
    outside = np.ones(frame.shape[:2], bool)
    outside[y:y + h, x:x + w] = False
    assert np.array_equal(out[outside], frame[outside])
    assert np.array_equal(frame, np.full((360, 640, 3), 128, dtype=np.uint8))  # input untouched


def test_label_text_is_legible_at_360p() -> None:
    burner = LabelBurner(LabelSpec("AI-generated"), width=1280, height=720)
    _, _, _, h = burner.box
    assert h / 2 >= 14  # box height after a 720p -> 360p downscale, in pixels


def _i420(rgb: np.ndarray) -> Yuv420:
    """What the encoder makes of an RGB frame (swscale, BT.601 limited range)."""
    return Yuv420(av.VideoFrame.from_ndarray(rgb, format="rgb24").to_ndarray(format="yuv420p"))


@pytest.mark.parametrize("position", ["top-left", "bottom-right"])
def test_label_in_yuv_is_the_label_in_rgb(position: str) -> None:
    """The stamp path burns the label into I420 planes: the encoder receives the same
    picture as when the label is burned in RGB and converted, and nothing outside the
    label's (even-aligned) rectangle changes."""
    rng = np.random.default_rng(3)
    frame = np.clip(rng.normal(120, 40, (360, 640, 3)), 0, 255).astype(np.uint8)
    burner = LabelBurner(LabelSpec("AI-generated · Test", position), width=640, height=360)
    source = _i420(frame)
    burned = burner.burn_yuv(source)
    expected = _i420(burner.burn(frame))
    x, y, w, h = burner.box
    box = np.s_[y - y % 2:y + h + 1, x - x % 2:x + w + 1]
    luma_error = np.abs(burned.y.astype(int) - expected.y.astype(int))
    assert float(luma_error[box].mean()) < 1.0 and int(luma_error[box].max()) <= 3
    for ours, theirs in ((burned.u, expected.u), (burned.v, expected.v)):
        assert float(np.abs(ours.astype(int) - theirs.astype(int)).mean()) < 0.5
    outside = np.ones(source.y.shape, bool)
    outside[box] = False
    assert np.array_equal(burned.y[outside], source.y[outside])
    assert not np.array_equal(burned.y[box], source.y[box])
    assert np.array_equal(source.i420, _i420(frame).i420)  # input untouched
    in_place = _i420(frame)
    assert burner.burn_yuv(in_place, copy=False) is in_place  # publish's own conversion
    assert np.array_equal(in_place.i420, burned.i420)
