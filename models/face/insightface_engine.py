"""Optional face backend: InsightFace ONNX models (SCRFD, 3D-68 landmarks, ArcFace).

The insightface Python package is not needed (nor installed): the few pre- and
post-processing steps are done here with numpy/OpenCV around onnxruntime sessions.
The user places a model pack (default ``buffalo_l``) in the models dir:

    <models_dir>/buffalo_l/det_10g.onnx     SCRFD-10GF detector (5 key points)
    <models_dir>/buffalo_l/1k3d68.onnx      68 landmarks in the iBUG order (3-D)
    <models_dir>/buffalo_l/w600k_r50.onnx   ArcFace R50, 512-D identity

(the studio's models dir: ``models_dir`` in config.toml or ``LIKENESS_MODELS_DIR``, else
``$LIKENESS_HOME/models``; the settings resolve it and the registry passes it in).

The InsightFace pretrained models are licensed for non-commercial research only;
`WEIGHTS` says so, and the engine registry refuses them in a commercial studio
unless its config acknowledges them (``acknowledged_noncommercial``).
Embeddings are L2-normalised; distance is cosine distance (1 - cos).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from likeness.errors import BadInput, MissingWeights
from models.face.align import estimate_similarity, five_points
from models.face.base import LANDMARK_COUNT, Face, FaceBox, check_rgb_image, sort_largest_first
from models.registry import Availability, EnginePolicy
from models.weights import WeightFile, resolve_weight

ENGINE_NAME = "insightface"
DEFAULT_PACK = "buffalo_l"
DETECTOR_FILE = "det_10g.onnx"
LANDMARK_FILE = "1k3d68.onnx"
RECOGNIZER_FILE = "w600k_r50.onnx"

DETECT_SIZE_PX = 640
DETECT_SCORE_MIN = 0.5
NMS_IOU_MAX = 0.4
SCRFD_STRIDES = (8, 16, 32)
SCRFD_ANCHORS_PER_CELL = 2
SCRFD_MEAN, SCRFD_STD = 127.5, 128.0
LANDMARK_SIZE_PX = 192
LANDMARK_BOX_ENLARGE = 1.5
LANDMARK_MEAN, LANDMARK_STD = 0.0, 1.0  # 1k3d68 normalises inside the graph
ARCFACE_SIZE_PX = 112
ARCFACE_MEAN, ARCFACE_STD = 127.5, 127.5
EMBEDDING_DIM = 512
# The published ArcFace alignment targets (eye centres, nose tip, mouth corners) in a
# 112x112 crop; the recogniser was trained on faces placed exactly there.
ARCFACE_TEMPLATE_PX = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
     [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float32,
)
# Cosine distance; ArcFace R50 (WebFace600K) verification thresholds sit around
# cosine similarity 0.3-0.4. Not calibrated here (no weights on this machine): 0.6
# means "cos >= 0.4", the cautious end. Calibrate with docs/identity-threshold.md's method.
IDENTITY_THRESHOLD = 0.6

_LICENSE_NOTE = (
    "InsightFace pretrained models: 'available for non-commercial research purposes only' "
    "(deepinsight/insightface README). User-supplied; hash pinned only once placed."
)


def _weight(file_name: str, pack: str = DEFAULT_PACK) -> WeightFile:
    return WeightFile(
        engine=ENGINE_NAME,
        name=file_name,
        source=f"user:{pack}/{file_name}",
        sha256="",
        size_bytes=0,
        license="InsightFace non-commercial research",
        commercial_use=False,
        notes=_LICENSE_NOTE,
    )


WEIGHTS_FILES = (DETECTOR_FILE, LANDMARK_FILE, RECOGNIZER_FILE)
WEIGHTS: tuple[WeightFile, ...] = tuple(_weight(name) for name in WEIGHTS_FILES)


def _require(file_name: str, *, models_dir: Path, pack: str) -> Path:
    path = resolve_weight(_weight(file_name, pack), models_dir=models_dir)
    if path is None:
        folder = models_dir / pack
        raise MissingWeights(
            f"insightface: model file {file_name} not found in {folder}",
            hint=f"place the InsightFace '{pack}' pack's {file_name} in {folder} "
            "(non-commercial research licence), or use --face-engine dlib",
        )
    return path


def probe(*, models_dir: Path, policy: EnginePolicy, pack: str = DEFAULT_PACK,
          **_options: object) -> Availability:
    """Whether onnxruntime imports and all three model files are in place."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return Availability(False, "onnxruntime is not installed")
    missing = [name for name in WEIGHTS_FILES if not (models_dir / pack / name).is_file()]
    if missing:
        return Availability(False, f"{', '.join(missing)} not in {models_dir / pack}")
    return Availability(True, f"the {pack} pack is in {models_dir}")


@functools.cache
def _session(path: str) -> Any:
    """One onnxruntime session per model file per process (GPU when onnxruntime has it)."""
    import onnxruntime as ort

    wanted = ("CUDAExecutionProvider", "CPUExecutionProvider")
    providers = [p for p in wanted if p in ort.get_available_providers()]
    options = ort.SessionOptions()
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(path, sess_options=options, providers=providers)
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise BadInput(f"insightface: cannot load {path}: {exc}") from None


def _blob(image: np.ndarray, *, mean: float, std: float) -> np.ndarray:
    """RGB uint8 HxWx3 -> float32 1x3xHxW, (x - mean) / std (the models expect RGB order)."""
    planar = (image.astype(np.float32) - mean) / std
    return np.ascontiguousarray(planar.transpose(2, 0, 1)[None])


@dataclass(frozen=True)
class _Detection:
    box: np.ndarray  # (4,) x1 y1 x2 y2 in image pixels
    score: float


class InsightFaceEngine:
    """SCRFD detection, 3D-68 landmarks, ArcFace identity, all via onnxruntime."""

    name: str = ENGINE_NAME
    identity_threshold: float = IDENTITY_THRESHOLD

    def __init__(
        self,
        *,
        models_dir: Path,
        pack: str = DEFAULT_PACK,
        detect_score_min: float = DETECT_SCORE_MIN,
        identity_threshold: float = IDENTITY_THRESHOLD,
    ) -> None:
        paths = {name: _require(name, models_dir=models_dir, pack=pack)
                 for name in WEIGHTS_FILES}
        self.detect_score_min = detect_score_min
        self.identity_threshold = identity_threshold
        self._detector = _session(str(paths[DETECTOR_FILE]))
        self._landmarker = _session(str(paths[LANDMARK_FILE]))
        self._recognizer = _session(str(paths[RECOGNIZER_FILE]))
        self._detect_size = self._input_size(self._detector, DETECT_SIZE_PX)

    @staticmethod
    def _input_size(session: Any, fallback_px: int) -> tuple[int, int]:
        """(width, height) of a session's image input; dynamic axes use the fallback."""
        shape = session.get_inputs()[0].shape
        height, width = shape[2], shape[3]
        if not isinstance(height, int) or not isinstance(width, int):
            return fallback_px, fallback_px
        return width, height

    # -- detection -----------------------------------------------------------------

    def _scrfd(self, image: np.ndarray) -> list[_Detection]:
        """Run SCRFD on a letterboxed copy and decode boxes back to image pixels."""
        in_w, in_h = self._detect_size
        height, width = image.shape[:2]
        scale = min(in_w / width, in_h / height)
        new_w, new_h = max(1, int(width * scale)), max(1, int(height * scale))
        canvas = np.zeros((in_h, in_w, 3), dtype=np.uint8)
        canvas[:new_h, :new_w] = cv2.resize(image, (new_w, new_h))
        feed = {self._detector.get_inputs()[0].name: _blob(canvas, mean=SCRFD_MEAN,
                                                            std=SCRFD_STD)}
        outputs = self._detector.run(None, feed)
        levels = len(SCRFD_STRIDES)
        if len(outputs) < 2 * levels:
            raise BadInput(f"insightface: detector has {len(outputs)} outputs, expected 6 or 9")
        boxes, scores = [], []
        for level, stride in enumerate(SCRFD_STRIDES):
            level_scores = np.asarray(outputs[level]).reshape(-1)
            distances = np.asarray(outputs[level + levels]).reshape(-1, 4) * stride
            grid_h, grid_w = in_h // stride, in_w // stride
            ys, xs = np.mgrid[:grid_h, :grid_w]
            centers = np.stack([xs, ys], axis=-1).reshape(-1, 2).astype(np.float32) * stride
            centers = np.repeat(centers, SCRFD_ANCHORS_PER_CELL, axis=0)
            if len(centers) != len(level_scores):
                raise BadInput(f"insightface: stride {stride} output has {len(level_scores)} "
                               f"anchors, expected {len(centers)}")
            keep = level_scores >= self.detect_score_min
            anchor = centers[keep]
            dist = distances[keep]
            boxes.append(np.hstack([anchor - dist[:, :2], anchor + dist[:, 2:]]) / scale)
            scores.append(level_scores[keep])
        all_boxes, all_scores = np.vstack(boxes), np.concatenate(scores)
        if len(all_scores) == 0:
            return []
        xywh = np.hstack([all_boxes[:, :2], all_boxes[:, 2:] - all_boxes[:, :2]])
        kept = cv2.dnn.NMSBoxes(xywh.tolist(), all_scores.tolist(),
                                self.detect_score_min, NMS_IOU_MAX)
        return [_Detection(all_boxes[i], float(all_scores[i])) for i in np.ravel(kept)]

    def _landmarks(self, image: np.ndarray, box: np.ndarray) -> np.ndarray:
        """68 iBUG landmarks from the 3D-68 model on a square crop around `box`."""
        size = self._input_size(self._landmarker, LANDMARK_SIZE_PX)[0]
        center = (box[:2] + box[2:]) / 2.0
        side = float(max(box[2] - box[0], box[3] - box[1])) * LANDMARK_BOX_ENLARGE
        scale = size / max(side, 1.0)
        matrix = np.array([[scale, 0, size / 2 - scale * center[0]],
                           [0, scale, size / 2 - scale * center[1]]], dtype=np.float32)
        crop = cv2.warpAffine(image, matrix, (size, size), borderValue=0.0)
        feed = {self._landmarker.get_inputs()[0].name: _blob(crop, mean=LANDMARK_MEAN,
                                                              std=LANDMARK_STD)}
        raw = np.asarray(self._landmarker.run(None, feed)[0], dtype=np.float32).reshape(-1)
        dims = 3 if raw.size % 3 == 0 and raw.size // 3 >= LANDMARK_COUNT else 2
        points = raw.reshape(-1, dims)[-LANDMARK_COUNT:, :2]
        if points.shape[0] != LANDMARK_COUNT:
            raise BadInput(f"insightface: landmark model gave {raw.size} values, need 68 points")
        crop_points = (points + 1.0) * (size / 2.0)
        inverse = cv2.invertAffineTransform(matrix)
        return (crop_points @ inverse[:, :2].T + inverse[:, 2]).astype(np.float32)

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in an RGB uint8 image, largest first, each with 68 landmarks."""
        check_rgb_image(image)
        height, width = image.shape[:2]
        faces = []
        for found in self._scrfd(image):
            x1, y1, x2, y2 = found.box
            box = FaceBox(max(0, round(x1)), max(0, round(y1)),
                          min(width, round(x2)), min(height, round(y2)), found.score)
            if box.width >= 2 and box.height >= 2:
                faces.append(Face(box=box, landmarks=self._landmarks(image, found.box)))
        return sort_largest_first(faces)

    # -- identity --------------------------------------------------------------------

    def embed(self, image: np.ndarray, face: Face) -> np.ndarray:
        """512-D ArcFace vector (L2-normalised) of the face aligned to the ArcFace template."""
        check_rgb_image(image)
        matrix = estimate_similarity(five_points(face.landmarks), ARCFACE_TEMPLATE_PX)
        crop = cv2.warpAffine(image, matrix, (ARCFACE_SIZE_PX, ARCFACE_SIZE_PX),
                              borderValue=0.0)
        feed = {self._recognizer.get_inputs()[0].name: _blob(crop, mean=ARCFACE_MEAN,
                                                              std=ARCFACE_STD)}
        vector = np.asarray(self._recognizer.run(None, feed)[0], dtype=np.float32).reshape(-1)
        if vector.shape != (EMBEDDING_DIM,):
            raise BadInput(f"insightface: recogniser gave {vector.shape[0]} values, expected 512")
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm > 0 else vector

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        """Cosine distance 1 - cos(a, b), in [0, 2]."""
        va = np.asarray(a, dtype=np.float32).reshape(-1)
        vb = np.asarray(b, dtype=np.float32).reshape(-1)
        if va.shape != (EMBEDDING_DIM,) or vb.shape != (EMBEDDING_DIM,):
            raise BadInput(
                f"insightface embeddings are 512-D, got {va.shape[0]} and {vb.shape[0]}",
                hint="embeddings from different face engines cannot be compared",
            )
        denom = float(np.linalg.norm(va) * np.linalg.norm(vb))
        return 1.0 - float(va @ vb) / denom if denom > 0 else 1.0


def create(*, models_dir: Path, **_options: object) -> InsightFaceEngine:
    """Registry factory: the ``buffalo_l`` pack from the studio's models dir."""
    return InsightFaceEngine(models_dir=models_dir)
