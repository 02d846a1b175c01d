"""The reel matte on frames made here: a performer (a textured head over a plain-coloured
torso) sways in front of a static gradient wall. The plate must find the wall (also where
the torso always stood), the matte must keep the performer and drop the wall, and the
composite must show the new backdrop where the wall was."""

from __future__ import annotations

import numpy as np
import pytest

from likeness.errors import BadInput
from media import matte

SIZE = (640, 360)  # (width, height)
SWAY_PX = 24


def _wall() -> np.ndarray:
    width, height = SIZE
    ramp = np.linspace(40, 110, width, dtype=np.float32)
    wall = np.empty((height, width, 3), dtype=np.float32)
    wall[:] = np.stack([ramp * 0.6, ramp * 0.8, ramp], axis=-1)
    return wall.astype(np.uint8)


def _frame(shift: int, rng: np.random.Generator) -> tuple[np.ndarray, matte.Box, np.ndarray]:
    """A frame, its face box, and the performer's true mask."""
    width, height = SIZE
    frame = _wall()
    truth = np.zeros((height, width), dtype=bool)
    cx = width // 2 + shift
    yy, xx = np.mgrid[:height, :width]
    head = (xx - cx) ** 2 / 55**2 + (yy - 130) ** 2 / 70**2 <= 1
    torso = (np.abs(xx - cx) <= 100) & (yy >= 250)
    texture = rng.integers(150, 230, size=(height, width, 3), dtype=np.uint8)
    frame[head] = texture[head]
    frame[torso] = (200, 60, 50)
    truth |= head | torso
    return frame, matte.Box(cx - 45, 95, cx + 45, 195), truth


def test_plate_matte_and_composite_separate_the_performer_from_the_wall() -> None:
    rng = np.random.default_rng(7)
    shifts = [round(SWAY_PX * np.sin(i / 3)) for i in range(matte.PLATE_SAMPLES)]
    samples = [_frame(s, rng)[:2] for s in shifts]
    plate = matte.estimate_plate(samples)
    small_wall = matte.cv2.resize(_wall(), plate.image.shape[1::-1],
                                  interpolation=matte.cv2.INTER_AREA).astype(np.float32)
    assert np.abs(plate.image - small_wall).max(axis=2)[plate.seen].mean() < 2.0
    assert 0.5 < plate.seen_share < 1.0  # the torso's middle never left the wall's view
    inpainted = ~plate.seen
    assert np.abs(plate.image - small_wall).max(axis=2)[inpainted].mean() < 12.0

    frame, box, truth = _frame(5, rng)
    alpha = matte.matte(frame, plate, box)
    inner = matte.cv2.erode(truth.astype(np.uint8), np.ones((15, 15), np.uint8)) > 0
    outer = matte.cv2.dilate(truth.astype(np.uint8), np.ones((15, 15), np.uint8)) == 0
    assert alpha[inner].mean() > 0.97
    assert alpha[outer].mean() < 0.03
    backdrop = np.zeros_like(frame)
    backdrop[:] = (20, 200, 40)
    out = matte.composite(frame, backdrop, alpha)
    assert np.abs(out[outer].astype(int) - backdrop[outer]).max(axis=1).mean() < 4
    assert np.abs(out[inner].astype(int) - frame[inner]).max(axis=1).mean() < 6


def test_a_lost_face_keeps_the_last_box_and_sizes_must_match() -> None:
    rng = np.random.default_rng(1)
    samples = [_frame(s, rng)[:2] for s in (-20, 0, 20, -10, 10)]
    plate = matte.estimate_plate(samples)
    frames = [_frame(0, rng)[0] for _ in range(2)]
    backdrop = np.full_like(frames[0], 255)
    made = list(matte.composite_frames(frames, [samples[1][1], None],
                                       iter([backdrop, backdrop]), plate))
    assert np.array_equal(made[0], made[1]) or np.abs(
        made[0].astype(int) - made[1].astype(int)).mean() < 3
    with pytest.raises(BadInput, match="differ in size"):
        matte.matte(frames[0][:100], plate, None)


def test_a_reel_that_never_shows_its_background_is_refused() -> None:
    width, height = SIZE
    frame = np.full((height, width, 3), 90, dtype=np.uint8)
    everywhere = matte.Box(-2000, -2000, 3000, 3000)
    with pytest.raises(BadInput, match="never shows its background"):
        matte.estimate_plate([(frame, everywhere)] * 4)
