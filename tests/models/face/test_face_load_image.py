"""load_image: formats, alpha on white, and clear BadInput errors for bad files."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from likeness.errors import BadInput
from models.face import load_image


def test_shipped_portrait_is_rgb_uint8(faces_dir: Path) -> None:
    image = load_image(faces_dir / "male01.png")
    assert image.shape == (320, 320, 3) and image.dtype == np.uint8
    assert tuple(image[0, 0]) == (200, 205, 210)  # the background we composited, in RGB order


def test_rgba_is_composited_on_white_and_channels_are_rgb(tmp_path: Path) -> None:
    bgra = np.zeros((8, 8, 4), dtype=np.uint8)
    bgra[:, :4] = (0, 0, 255, 255)  # opaque red (OpenCV writes BGRA)
    bgra[:, 4:] = (0, 0, 0, 0)  # fully transparent
    path = tmp_path / "rgba.png"
    assert cv2.imwrite(str(path), bgra)
    image = load_image(path)
    assert tuple(image[0, 0]) == (255, 0, 0)
    assert tuple(image[0, 7]) == (255, 255, 255)


def test_gray_and_16_bit_become_rgb_uint8(tmp_path: Path) -> None:
    gray = tmp_path / "gray.png"
    cv2.imwrite(str(gray), np.full((4, 5), 77, dtype=np.uint8))
    deep = tmp_path / "deep.png"
    cv2.imwrite(str(deep), np.full((4, 5, 3), 65535, dtype=np.uint16))
    assert load_image(gray).shape == (4, 5, 3) and int(load_image(gray)[0, 0, 1]) == 77
    assert load_image(deep).dtype == np.uint8 and int(load_image(deep).min()) == 255


def test_jpeg_round_trip_under_unicode_name(tmp_path: Path) -> None:
    path = tmp_path / "pérformer ünïcode.jpg"
    ok, data = cv2.imencode(".jpg", np.full((16, 16, 3), (10, 20, 200), dtype=np.uint8))
    path.write_bytes(data.tobytes())
    image = load_image(path)
    assert image.shape == (16, 16, 3) and image[8, 8, 0] > 150  # red channel first


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p, "no such file"),
        (lambda p: (p.write_bytes(b""), p)[1], "empty file"),
        (lambda p: (p.write_text("not an image\n"), p)[1], "not an image"),
        (lambda p: (p.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40), p)[1], "not an image"),
        (lambda p: (p.mkdir(), p)[1], "is a directory"),
    ],
    ids=["missing", "zero-length", "text", "truncated-png", "directory"],
)
def test_unreadable_files_raise_bad_input(
    tmp_path: Path, make, reason: str  # type: ignore[no-untyped-def]
) -> None:
    path = make(tmp_path / "face.png")
    expected = f"^cannot read image {re.escape(str(path))}: {reason}"
    with pytest.raises(BadInput, match=expected) as info:
        load_image(path)
    assert info.value.exit_code == 2
