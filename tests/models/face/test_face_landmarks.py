"""The named 68-point sets describe the layout they claim: on a real detected face the
lip sets face each other across the mouth and the contours run corner to corner."""

from __future__ import annotations

import numpy as np

from models.face import landmarks as lm
from models.face.warp import face_frame
from tests.support.lipsync_media import engine, portrait


def _local_landmarks(name: str = "female01") -> np.ndarray:
    face = engine().detect(portrait(name))[0]
    return face_frame(face.landmarks).to_local(face.landmarks)


def test_lip_middles_stack_top_to_bottom_in_columns() -> None:
    local = _local_landmarks("male02")  # the one portrait with a slightly open mouth
    rows = [lm.UPPER_OUTER_MIDDLE, lm.UPPER_INNER_MIDDLE, lm.LOWER_INNER_MIDDLE,
            lm.LOWER_OUTER_MIDDLE]
    ys = np.array([[local[i, 1] for i in row] for row in rows])
    xs = np.array([[local[i, 0] for i in row] for row in rows])
    assert (np.diff(ys, axis=0) > 0).all(), "lip contours out of order from top to bottom"
    assert (np.diff(xs, axis=1) > 0).all(), "a lip set does not run image-left to right"
    assert np.ptp(xs, axis=0).max() < 0.15, "points of one column are not facing each other"


def test_inner_contours_run_from_corner_to_corner() -> None:
    local = _local_landmarks()
    for contour in (lm.UPPER_INNER_CONTOUR, lm.LOWER_INNER_CONTOUR):
        assert contour[0] == lm.INNER_CORNER_LEFT_INDEX
        assert contour[-1] == lm.INNER_CORNER_RIGHT_INDEX
        assert (np.diff(local[list(contour), 0]) > 0).all()
    assert set(lm.LOWER_LIP) | set(lm.UPPER_LIP) | set(lm.MOUTH_CORNERS) == set(
        range(lm.MOUTH.start, lm.MOUTH.stop))


def test_eyelid_pairs_put_the_upper_lid_above_the_lower() -> None:
    local = _local_landmarks()
    assert lm.EYELID_PAIRS == lm.EYELID_PAIRS_IMAGE_LEFT + lm.EYELID_PAIRS_IMAGE_RIGHT
    for upper, lower in lm.EYELID_PAIRS:
        assert local[upper, 1] < local[lower, 1]
    left_x = [local[i, 0] for pair in lm.EYELID_PAIRS_IMAGE_LEFT for i in pair]
    right_x = [local[i, 0] for pair in lm.EYELID_PAIRS_IMAGE_RIGHT for i in pair]
    assert max(left_x) < 0 < min(right_x)  # face origin sits between the eyes
