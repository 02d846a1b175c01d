"""Alignment: canonical crops, exact paste-back, masks that cover the right parts."""

from __future__ import annotations

from typing import TypeAlias

import cv2
import numpy as np
import pytest

from likeness.errors import BadInput
from models.face.align import (
    FIVE_POINT_TEMPLATE,
    feathered_mask,
    five_points,
    invert_affine,
    lower_face_mask,
    mouth_region,
    paste_back,
    similarity_align,
    transform_points,
)
from models.face.dlib_engine import DlibFaceEngine

Scene: TypeAlias = tuple[np.ndarray, np.ndarray]


@pytest.fixture(scope="module")
def rotated(portraits: dict[str, np.ndarray], dlib_engine: DlibFaceEngine) -> Scene:
    """male02 rolled by 12 degrees inside a 1280x720 frame, with its landmarks."""
    frame = np.full((720, 1280, 3), 90, dtype=np.uint8)
    matrix = cv2.getRotationMatrix2D((160, 160), 12, 1.0)
    matrix[:, 2] += (500, 200)
    cv2.warpAffine(portraits["male02"], matrix, (1280, 720), dst=frame,
                   borderMode=cv2.BORDER_TRANSPARENT)
    faces = dlib_engine.detect(frame)
    assert len(faces) == 1
    return frame, faces[0].landmarks


def test_crop_puts_eyes_level_at_template(rotated: Scene) -> None:
    frame, landmarks = rotated
    crop, matrix = similarity_align(frame, landmarks, output_size=256)
    assert crop.shape == (256, 256, 3) and matrix.shape == (2, 3)
    anchors = transform_points(five_points(landmarks), matrix)
    eyes = anchors[:2]
    assert abs(eyes[0, 1] - eyes[1, 1]) < 3.0  # the 12 degree roll is undone
    assert np.abs(eyes - FIVE_POINT_TEMPLATE[:2] * 256).max() < 8.0
    chin = transform_points(landmarks, matrix)[8]
    assert 200 < chin[1] < 256  # whole face, chin included, fits the crop


def test_paste_back_of_unchanged_crop_keeps_frame(rotated: Scene) -> None:
    frame, landmarks = rotated
    crop, matrix = similarity_align(frame, landmarks, output_size=256)
    restored = paste_back(frame, crop, matrix)
    assert restored.shape == frame.shape and restored is not frame
    assert np.abs(restored.astype(int) - frame).mean() < 0.5  # resampling noise only
    assert np.array_equal(restored[:100], frame[:100])  # far outside the face: untouched


def test_paste_back_of_edited_crop_changes_only_the_masked_face(rotated: Scene) -> None:
    frame, landmarks = rotated
    crop, matrix = similarity_align(frame, landmarks, output_size=256)
    crop_points = transform_points(landmarks, matrix)
    mask = lower_face_mask(crop_points, shape=(256, 256))
    edited = np.zeros_like(crop)
    out = paste_back(frame, edited, matrix, mask)
    changed = np.abs(out.astype(int) - frame).sum(axis=2) > 0
    mouth = landmarks[48:68].mean(axis=0).round().astype(int)
    left_eye = landmarks[36:42].mean(axis=0).round().astype(int)
    assert out[mouth[1], mouth[0]].max() <= 5  # fully replaced at the mouth
    assert not changed[left_eye[1], left_eye[0]]  # eyes are above the lower-face mask
    ys, xs = np.nonzero(changed)
    assert xs.min() > landmarks[:, 0].min() - 20 and xs.max() < landmarks[:, 0].max() + 20
    assert ys.max() < landmarks[:, 1].max() + 20


def test_masks_and_regions(rotated: Scene) -> None:
    frame, landmarks = rotated
    mask = lower_face_mask(landmarks, shape=frame.shape[:2], feather_px=10)
    assert mask.dtype == np.float32 and mask.shape == frame.shape[:2]
    assert float(mask.min()) >= 0.0 and float(mask.max()) <= 1.0
    nose_tip = landmarks[33].round().astype(int)
    assert mask[nose_tip[1], nose_tip[0]] > 0.95 and mask[5, 5] == 0.0
    region = mouth_region(landmarks, margin=0.3, shape=frame.shape[:2])
    mouth = landmarks[48:68]
    assert region.left < mouth[:, 0].min() and region.right > mouth[:, 0].max()
    assert region.top < mouth[:, 1].min() and region.bottom > mouth[:, 1].max()
    assert region.width < 200 and region.height < 200
    edge = mouth_region(landmarks - landmarks[48:68].min(axis=0), shape=(720, 1280))
    assert edge.left == 0 and edge.top == 0  # clipped to the frame
    feather = feathered_mask(64, feather_px=8)
    assert feather[32, 32] == 1.0 and feather[0, 0] < 0.01


def test_inverse_round_trip_and_bad_input() -> None:
    matrix = cv2.getRotationMatrix2D((10, 20), 30, 1.7).astype(np.float32)
    points = np.array([[1, 2], [300, -4], [17.5, 99]], dtype=np.float32)
    back = transform_points(transform_points(points, matrix), invert_affine(matrix))
    assert np.allclose(back, points, atol=1e-3)
    with pytest.raises(BadInput, match="68, 2"):
        similarity_align(np.zeros((10, 10, 3), np.uint8), np.zeros((5, 2)))
