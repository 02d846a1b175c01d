"""Crop boxes, 5-frame smoothing (batch and streaming agree) and feathered paste-back."""

from __future__ import annotations

import numpy as np
import pytest

from likeness.errors import BadInput
from models.face.align import Region
from models.face.base import Face, FaceBox
from models.lipsync.wav2lip.crop import (
    BoxSmoother,
    blend_mask,
    crop_face,
    face_crop_box,
    paste_face,
    smooth_boxes,
)


def face_at(left: int, top: int, size: int, *, chin_drop: int = 0) -> Face:
    """A face whose landmarks fill the box, with the chin `chin_drop` px below it."""
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 1, size=(68, 2)) * size + (left, top)
    points[8] = (left + size / 2, top + size + chin_drop)  # chin tip
    return Face(box=FaceBox(left, top, left + size, top + size, 1.0), landmarks=points)


def test_box_is_padded_ten_pixels_down() -> None:
    region = face_crop_box(face_at(50, 40, 100), frame_height=400, frame_width=400)
    assert region == Region(left=50, top=40, right=150, bottom=150)


def test_box_reaches_the_chin_and_is_clipped_to_the_frame() -> None:
    region = face_crop_box(face_at(50, 40, 100, chin_drop=20), frame_height=400, frame_width=400)
    assert region is not None and region.bottom == 40 + 100 + 20 + 10
    clipped = face_crop_box(face_at(-10, 300, 100), frame_height=380, frame_width=400)
    assert clipped == Region(left=0, top=300, right=90, bottom=380)
    assert face_crop_box(face_at(-100, 10, 100), frame_height=380, frame_width=400) is None


def test_reference_smoothing_rule() -> None:
    boxes = np.arange(7, dtype=float)[:, None] * np.ones((1, 4))
    smoothed = smooth_boxes(boxes, window=5)[:, 0]
    # i -> mean(i..i+4); the last boxes reuse the mean of the final five (2..6 -> 4)
    assert list(smoothed) == [2.0, 3.0, 4.0, 4.0, 4.0, 4.0, 4.0]
    assert list(smooth_boxes(boxes[:3], window=5)[:, 0]) == [1.0, 1.0, 1.0]


def run_stream(boxes: list[Region | None], window: int = 5) -> list[tuple[int, Region | None]]:
    smoother: BoxSmoother[int] = BoxSmoother(window=window)
    out: list[tuple[int, Region | None]] = []
    for index, box in enumerate(boxes):
        out += smoother.push(index, box)
    return out + smoother.flush()


def test_streaming_equals_batch_smoothing_and_keeps_order() -> None:
    rng = np.random.default_rng(3)
    lefts = 100 + np.cumsum(rng.integers(-3, 4, size=23))
    boxes = [Region(int(x), 50, int(x) + 120, 190) for x in lefts]
    streamed = run_stream(boxes)
    assert [index for index, _ in streamed] == list(range(23))
    expected = np.rint(smooth_boxes(np.array(
        [[b.left, b.top, b.right, b.bottom] for b in boxes]), window=5)).astype(int)
    got = np.array([[r.left, r.top, r.right, r.bottom] for _, r in streamed])
    assert np.array_equal(got, expected)


def test_no_face_and_jumps_split_runs() -> None:
    a = Region(0, 0, 100, 100)
    far = Region(300, 0, 400, 100)
    streamed = run_stream([a, a, None, far, far, far])
    assert [index for index, _ in streamed] == list(range(6))
    assert streamed[2][1] is None
    assert streamed[0][1] == a and streamed[1][1] == a  # never averaged across the gap
    assert all(region == far for _, region in streamed[3:])
    jumped = run_stream([a, a, far, far])  # a cut to another face without a gap
    assert [region for _, region in jumped] == [a, a, far, far]


def test_crop_face_stretches_to_size() -> None:
    frame = np.zeros((200, 300, 3), dtype=np.uint8)
    frame[50:150, 100:160] = 200
    crop = crop_face(frame, Region(100, 50, 160, 150), size_px=96)
    assert crop.shape == (96, 96, 3) and np.all(crop == 200)
    with pytest.raises(BadInput):
        crop_face(frame, Region(400, 0, 420, 20), size_px=96)


def test_blend_mask_keeps_eyes_and_edges() -> None:
    mask = blend_mask(100, 80, top_fraction=0.35)
    assert mask.shape == (100, 80) and mask.dtype == np.float32
    assert np.all(mask[:35] == 0)  # above the fade: original eyes
    assert np.all(mask[:, 0] < 0.1) and np.all(mask[-1] < 0.1)  # feathered edges
    assert mask[70, 40] == pytest.approx(1.0)  # the mouth area is fully replaced
    assert blend_mask(50, 50, top_fraction=0.0)[25, 25] == pytest.approx(1.0)
    with pytest.raises(BadInput):
        blend_mask(10, 10, top_fraction=1.0)


def test_paste_changes_only_the_masked_part_of_the_box() -> None:
    rng = np.random.default_rng(5)
    frame = rng.integers(0, 256, size=(240, 320, 3), dtype=np.uint8)
    region = Region(100, 60, 200, 180)
    out = paste_face(frame, np.full((96, 96, 3), 255.0, dtype=np.float32), region,
                     top_fraction=0.35)
    outside = np.ones(frame.shape[:2], dtype=bool)
    outside[region.top:region.bottom, region.left:region.right] = False
    assert np.array_equal(out[outside], frame[outside])
    mask = blend_mask(region.height, region.width, top_fraction=0.35)
    window = (slice(region.top, region.bottom), slice(region.left, region.right))
    untouched = mask == 0
    assert np.array_equal(out[window][untouched], frame[window][untouched])
    assert np.all(out[window][mask == 1] == 255)
    assert frame is not out and not np.shares_memory(frame, out)
