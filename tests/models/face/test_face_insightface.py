"""insightface backend on tiny generated ONNX models (right names/shapes), plus a real pack.

The tiny detector always reports one face at a known place, the tiny landmark model a
known shape, and the tiny recogniser pools the aligned crop through a fixed random
matrix, so every pre/post-processing step is checked against hand-computed values.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from likeness.errors import BadInput, MissingWeights
from models.face import single_face_embedding
from models.face.insightface_engine import (
    DETECTOR_FILE,
    LANDMARK_FILE,
    RECOGNIZER_FILE,
    WEIGHTS,
    InsightFaceEngine,
    probe,
)
from models.registry import EnginePolicy

RESEARCH = EnginePolicy(commercial=False)

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

STRIDE32_ANCHOR = (4 * 20 + 5) * 2  # grid cell x=5, y=4 of the 20x20 stride-32 map
DISTANCES_IN_STRIDES = np.array([1.0, 1.25, 1.0, 1.25], dtype=np.float32)
RNG = np.random.default_rng(3)
UNIT_SHAPE = RNG.uniform(-0.5, 0.5, size=(68, 2)).astype(np.float32)
UNIT_SHAPE[36:42] = (-0.2, -0.1)
UNIT_SHAPE[42:48] = (0.2, -0.1)
UNIT_SHAPE[30] = (0.0, 0.05)
UNIT_SHAPE[48], UNIT_SHAPE[54] = (-0.15, 0.25), (0.15, 0.25)


def _save(graph: onnx.GraphProto, path: Path) -> None:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def _constant_model(input_name: str, size: int, outputs: dict[str, np.ndarray]) -> onnx.GraphProto:
    nodes = [
        helper.make_node("Constant", [], [name], value=numpy_helper.from_array(value))
        for name, value in outputs.items()
    ]
    return helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(v.shape))
         for n, v in outputs.items()],
    )


def _write_tiny_pack(root: Path) -> None:
    pack = root / "buffalo_l"
    pack.mkdir(parents=True)
    detector: dict[str, np.ndarray] = {}
    for kind, width in (("score", 1), ("bbox", 4), ("kps", 10)):
        for stride in (8, 16, 32):
            count = (640 // stride) ** 2 * 2
            detector[f"{kind}_{stride}"] = np.zeros((count, width), dtype=np.float32)
    detector["score_32"][STRIDE32_ANCHOR] = 0.9
    detector["score_8"][7] = 0.2  # below the 0.5 threshold: must be ignored
    detector["bbox_32"][STRIDE32_ANCHOR] = DISTANCES_IN_STRIDES
    _save(_constant_model("input.1", 640, detector), pack / DETECTOR_FILE)
    flat = np.zeros((1103, 3), dtype=np.float32)
    flat[-68:, :2] = UNIT_SHAPE
    _save(_constant_model("data", 192, {"fc1": flat.reshape(1, 3309)}), pack / LANDMARK_FILE)
    weights = RNG.normal(size=(192, 512)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("AveragePool", ["input.1"], ["pooled"], kernel_shape=[14, 14],
                             strides=[14, 14]),
            helper.make_node("Reshape", ["pooled", "shape"], ["flat"]),
            helper.make_node("MatMul", ["flat", "w"], ["683"]),
        ],
        "tiny_arcface",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, 112, 112])],
        [helper.make_tensor_value_info("683", TensorProto.FLOAT, [1, 512])],
        initializer=[numpy_helper.from_array(np.array([1, 192], dtype=np.int64), "shape"),
                     numpy_helper.from_array(weights, "w")],
    )
    _save(graph, pack / RECOGNIZER_FILE)


@pytest.fixture(scope="module")
def tiny_engine(tmp_path_factory: pytest.TempPathFactory) -> InsightFaceEngine:
    root = tmp_path_factory.mktemp("models")
    _write_tiny_pack(root)
    assert probe(models_dir=root, policy=RESEARCH).available
    return InsightFaceEngine(models_dir=root)


def test_detection_decodes_scrfd_anchor_and_letterbox(tiny_engine: InsightFaceEngine) -> None:
    frame = np.zeros((720, 1280, 3), dtype=np.uint8)  # scale 0.5 into the 640x640 input
    faces = tiny_engine.detect(frame)
    assert len(faces) == 1
    box = faces[0].box
    center = np.array([5 * 32, 4 * 32], dtype=np.float32)
    dist = DISTANCES_IN_STRIDES * 32
    expected = np.array([center[0] - dist[0], center[1] - dist[1],
                         center[0] + dist[2], center[1] + dist[3]]) / 0.5
    assert (box.left, box.top, box.right, box.bottom) == tuple(int(v) for v in expected)
    assert box.score == pytest.approx(0.9)
    # landmarks: unit shape in the 192 crop around the box (enlarged 1.5x), mapped back
    side = max(expected[2] - expected[0], expected[3] - expected[1]) * 1.5
    box_center = (expected[:2] + expected[2:]) / 2
    landmarks_expected = box_center + UNIT_SHAPE * (side / 2)
    assert np.allclose(faces[0].landmarks, landmarks_expected, atol=0.05)


def test_embedding_is_normalised_512_and_depends_on_the_face(
    tiny_engine: InsightFaceEngine, portraits: dict[str, np.ndarray]
) -> None:
    def place(name: str) -> np.ndarray:
        frame = np.zeros((720, 1280, 3), dtype=np.uint8)
        frame[100:420, 200:520] = portraits[name]
        return frame

    male = single_face_embedding(tiny_engine, place("male01"), source="male01")
    again = single_face_embedding(tiny_engine, place("male01"), source="male01")
    female = single_face_embedding(tiny_engine, place("female01"), source="female01")
    assert male.shape == (512,) and male.dtype == np.float32
    assert float(np.linalg.norm(male)) == pytest.approx(1.0, abs=1e-5)
    assert tiny_engine.distance(male, again) == pytest.approx(0.0, abs=1e-6)
    assert tiny_engine.distance(male, female) > 1e-4
    with pytest.raises(BadInput, match="512-D"):
        tiny_engine.distance(male, np.zeros(128, np.float32))


def test_missing_file_names_file_and_folder(tmp_path: Path) -> None:
    _write_tiny_pack(tmp_path)
    (tmp_path / "buffalo_l" / LANDMARK_FILE).unlink()
    status = probe(models_dir=tmp_path, policy=RESEARCH)
    assert not status.available and LANDMARK_FILE in status.reason
    with pytest.raises(MissingWeights) as info:
        InsightFaceEngine(models_dir=tmp_path)
    assert LANDMARK_FILE in info.value.message
    assert str(tmp_path / "buffalo_l") in info.value.message
    assert info.value.exit_code == 2


def test_the_models_dir_from_config_toml_reaches_insightface(tmp_path: Path) -> None:
    """The settings resolve models_dir once; the registry hands it to the engine."""
    from likeness.errors import BadInput as Refused
    from likeness.settings import load_settings
    from models import registry

    home, models = tmp_path / "home", tmp_path / "elsewhere"
    home.mkdir()
    _write_tiny_pack(models)
    (home / "config.toml").write_text(f'models_dir = "{models}"\n', encoding="utf-8")
    settings = load_settings({"LIKENESS_HOME": str(home)})
    assert settings.models_dir == models
    engine = registry.get("face", "insightface", models_dir=settings.models_dir,
                          policy=RESEARCH)
    assert engine.name == "insightface" and len(engine.detect(np.zeros((720, 1280, 3),
                                                                       np.uint8))) == 1
    with pytest.raises(Refused, match="not licensed for commercial use"):
        registry.get("face", "insightface", models_dir=settings.models_dir,
                     policy=EnginePolicy(commercial=True))


def test_weights_are_declared_non_commercial() -> None:
    assert {w.name for w in WEIGHTS} == {DETECTOR_FILE, LANDMARK_FILE, RECOGNIZER_FILE}
    assert all(not w.commercial_use and w.source.startswith("user:buffalo_l/") for w in WEIGHTS)


REAL_PACK = Path(os.environ.get("LIKENESS_MODELS_DIR", "/nonexistent")) / "buffalo_l"


@pytest.mark.skipif(not (REAL_PACK / DETECTOR_FILE).is_file(),
                    reason="no real buffalo_l pack at $LIKENESS_MODELS_DIR/buffalo_l")
def test_real_buffalo_l_pack(portraits: dict[str, np.ndarray]) -> None:
    engine = InsightFaceEngine(models_dir=REAL_PACK.parent)
    vectors = {}
    for name, image in portraits.items():
        faces = engine.detect(image)
        assert len(faces) == 1, name
        vectors[name] = engine.embed(image, faces[0])
    ok, data = cv2.imencode(".jpg", portraits["male01"][:, :, ::-1],
                            [cv2.IMWRITE_JPEG_QUALITY, 60])
    recoded = np.ascontiguousarray(cv2.imdecode(data, cv2.IMREAD_COLOR)[:, :, ::-1])
    same = single_face_embedding(engine, recoded, source="male01.jpg")
    assert engine.distance(vectors["male01"], same) <= engine.identity_threshold
    assert engine.distance(vectors["male01"], vectors["female01"]) > engine.identity_threshold
