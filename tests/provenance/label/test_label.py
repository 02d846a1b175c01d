"""The visible label: drawn in the configured corner, nothing else touched."""

from __future__ import annotations

import numpy as np
import pytest

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
