"""A still brought to life: blinks close the eyes, the head sways, nothing else changes."""

from __future__ import annotations

import numpy as np

from models.face.idle import blink_times, close_eyes, closure_at, idle_frames
from models.face.landmarks import EYE_IMAGE_LEFT
from tests.support.lipsync_media import engine, portrait

FPS = 25.0


def _face() -> tuple[np.ndarray, np.ndarray]:
    image = portrait("female01")
    faces = engine().detect(image)
    assert faces
    return image, faces[0].landmarks


def test_blinks_come_every_few_seconds_and_open_again() -> None:
    times = blink_times(20.0, seed=3)
    gaps = np.diff(times)
    assert len(times) >= 4 and gaps.min() >= 2.5 and gaps.max() <= 4.5
    assert closure_at(times[0] + 0.1, times) == 1.0
    assert closure_at(times[0] + 0.5, times) == 0.0 and closure_at(0.0, times) == 0.0


def test_a_blink_changes_the_eyes_and_only_around_them() -> None:
    image, landmarks = _face()
    shut = close_eyes(image, landmarks, 1.0)
    changed = np.abs(shut.astype(int) - image.astype(int)).max(axis=2) > 8
    eye = landmarks[EYE_IMAGE_LEFT]
    x0, x1 = int(eye[:, 0].min()), int(eye[:, 0].max())
    y0, y1 = int(eye[:, 1].min()), int(eye[:, 1].max())
    assert changed[y0:y1 + 1, x0:x1 + 1].mean() > 0.3  # the open eye is covered
    ys, _xs = np.nonzero(changed)
    assert ys.max() < landmarks[33, 1]  # nothing below the nose tip moves
    assert close_eyes(image, landmarks, 0.0) is image


def test_the_still_moves_a_little_all_the_time() -> None:
    image, landmarks = _face()
    frames = list(idle_frames(image, landmarks, count=50, fps=FPS))
    assert len(frames) == 50 and frames[0].shape == image.shape
    steps = [float(np.abs(b.astype(int) - a.astype(int)).mean())
             for a, b in zip(frames, frames[1:], strict=False)]
    assert min(steps) > 0.0  # never frozen
    assert max(steps) < 6.0  # and never a jump
