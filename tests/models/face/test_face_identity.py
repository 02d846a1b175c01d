"""Identity threshold: a face under everyday transforms stays below it, others stay above."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

from likeness.errors import BadInput
from models.face import single_face_embedding
from models.face.dlib_engine import DlibFaceEngine
from tests.support.faces import PORTRAIT_NAMES, canvas


def _shift(image: np.ndarray) -> np.ndarray:
    out = canvas(400, 400)
    out[23:343, 37:357] = image
    return out


def _scale(image: np.ndarray) -> np.ndarray:
    return cv2.resize(image, None, fx=0.75, fy=0.75, interpolation=cv2.INTER_AREA)


def _jpeg(image: np.ndarray) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 60])
    assert ok
    return np.ascontiguousarray(cv2.imdecode(data, cv2.IMREAD_COLOR)[:, :, ::-1])


def _rotate(image: np.ndarray) -> np.ndarray:
    matrix = cv2.getRotationMatrix2D((160.0, 160.0), 5.0, 1.0)
    return cv2.warpAffine(image, matrix, (320, 320), borderMode=cv2.BORDER_REPLICATE)


def _brightness(factor: float):  # type: ignore[no-untyped-def]
    return lambda image: np.clip(image.astype(np.float32) * factor, 0, 255).astype(np.uint8)


def _flip(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image[:, ::-1])


TRANSFORMS = {
    "shift": _shift,
    "scale": _scale,
    "jpeg60": _jpeg,
    "rotate5": _rotate,
    "brighter": _brightness(1.1),
    "darker": _brightness(0.9),
    "flip": _flip,
}


@pytest.fixture(scope="module")
def references(
    portraits: dict[str, np.ndarray], dlib_engine: DlibFaceEngine
) -> dict[str, np.ndarray]:
    return {
        name: single_face_embedding(dlib_engine, image, source=name)
        for name, image in portraits.items()
    }


@pytest.mark.parametrize("transform", sorted(TRANSFORMS))
def test_same_face_transformed_is_within_threshold(
    transform: str,
    portraits: dict[str, np.ndarray],
    references: dict[str, np.ndarray],
    dlib_engine: DlibFaceEngine,
) -> None:
    for name in ("male01", "female02"):
        changed = TRANSFORMS[transform](portraits[name])
        vector = single_face_embedding(dlib_engine, changed, source=f"{name}-{transform}")
        distance = dlib_engine.distance(references[name], vector)
        assert distance <= dlib_engine.identity_threshold, (name, transform, distance)


def test_different_faces_are_beyond_threshold(
    references: dict[str, np.ndarray], dlib_engine: DlibFaceEngine
) -> None:
    distances = {
        (a, b): dlib_engine.distance(references[a], references[b])
        for a, b in itertools.combinations(PORTRAIT_NAMES, 2)
    }
    assert len(distances) == 15
    closest = min(distances.values())
    assert closest > dlib_engine.identity_threshold, distances
    assert dlib_engine.distance(references["male01"], references["male01"]) == 0.0


def test_distance_refuses_vectors_from_another_engine(dlib_engine: DlibFaceEngine) -> None:
    with pytest.raises(BadInput, match="128-D"):
        dlib_engine.distance(np.zeros(128, np.float32), np.zeros(512, np.float32))
