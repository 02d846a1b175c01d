"""Stills: title cards (moviepy, once per card), image loading and fitting."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from likeness.errors import BadInput
from media.compose import fit_cover, load_image, place_on_background, repeat_frame, title_card

BACKGROUND = (16, 16, 24)


def test_title_card_draws_centred_text() -> None:
    card = title_card(text="AI-generated", size=(320, 180), background_rgb=BACKGROUND,
                      text_rgb=(255, 255, 255))
    assert card.shape == (180, 320, 3) and card.dtype == np.uint8
    assert tuple(card[0, 0]) == BACKGROUND
    rows, cols = np.nonzero(card.max(axis=2) > 200)
    assert rows.size > 50  # text pixels exist
    assert abs((rows.min() + rows.max()) / 2 - 90) < 12
    assert abs((cols.min() + cols.max()) / 2 - 160) < 12
    with pytest.raises(BadInput, match="needs some text"):
        title_card(text="  ", size=(320, 180))


def test_repeat_frame_yields_copies() -> None:
    frame = np.zeros((4, 6, 3), np.uint8)
    frames = list(repeat_frame(frame, seconds=0.5, fps=10))
    assert len(frames) == 5
    frames[0][:] = 9
    assert not frames[1].any() and not frame.any()


def test_load_image_flattens_alpha(tmp_path: Path) -> None:
    rgba = np.zeros((10, 20, 4), np.uint8)
    rgba[:, :10] = (0, 0, 255, 255)  # opaque red (BGR order on disk)
    path = tmp_path / "half.png"
    cv2.imwrite(str(path), rgba)
    image = load_image(path, background_rgb=(0, 255, 0))
    assert image.shape == (10, 20, 3)
    assert tuple(image[5, 2]) == (255, 0, 0)
    assert tuple(image[5, 15]) == (0, 255, 0)
    broken = tmp_path / "broken.png"
    broken.write_text("not an image")
    with pytest.raises(BadInput, match="cannot read image"):
        load_image(broken)
    with pytest.raises(BadInput, match="does not exist"):
        load_image(tmp_path / "absent.png")


def test_fit_cover_and_placement() -> None:
    wide = np.zeros((100, 400, 3), np.uint8)
    wide[:, 150:250] = 255  # a bright centre band must survive the crop
    fitted = fit_cover(wide, size=(90, 160))
    assert fitted.shape == (160, 90, 3)
    assert fitted[:, 40:50].min() == 255
    portrait = np.full((50, 50, 3), 200, np.uint8)
    placed = place_on_background(portrait, background=np.zeros((100, 80, 3), np.uint8),
                                 height_fraction=0.5)
    rows, cols = np.nonzero(placed[..., 0] == 200)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (25, 74, 15, 64)
