"""The default face backend: dlib HOG detector, 68-point shape predictor, ResNet descriptor.

It runs offline from the weights shipped in the ``face-recognition-models`` wheel.
Weights are verified (SHA-256) once per process, so a swapped weight file never runs
silently. dlib's detector and shape predictor (~1 s and ~100 MB a set) are lent out by
pools: dlib releases the GIL inside detection and landmark fitting, so concurrent batch
jobs really run on several cores, but one model used by two threads at once gives wrong
boxes and landmarks (measured: 14 of 60 detections and 24 of 60 landmark fits wrong in
20 s of two threads). Each call borrows a model no other thread holds, from one pool per
model kind; a pool grows to the number of its calls in flight at once and keeps its
models for later, short-lived threads too.
tests/models/face/test_dlib_threads.py checks that pooled calls overlap in time and
give exactly the single-thread answers.

The descriptor is dlib's own network and weights run by onnxruntime
(models/face/dlib_descriptor.py): dlib's ``compute_face_descriptor`` keeps the GIL for
its ~85 ms and stalled the identity scan's other threads; the onnxruntime graph gives the
same descriptors in ~5 ms with the GIL released, and one session serves every thread.

Detection runs on a copy downscaled to `DETECT_MAX_SIDE_PX` (HOG cost grows with
pixel count; faces in 720p/4K frames are large enough to survive it), while the
landmarks and the descriptor use the full-resolution image for precision.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from likeness.errors import BadInput
from models.face.base import (
    LANDMARK_COUNT,
    Face,
    FaceBox,
    check_rgb_image,
    sort_largest_first,
)
from models.face.dlib_descriptor import DescriptorNet, load_descriptor
from models.registry import Availability, EnginePolicy
from models.weights import WeightFile, require_weight

ENGINE_NAME = "dlib"
DISTRIBUTION = "package:face-recognition-models"
DETECT_MAX_SIDE_PX = 640
DEFAULT_UPSAMPLE = 0  # flare portraits are found at 0; 1 adds false faces in photos
DERIVED_DIR = "derived"  # under the models dir: graphs built from the pinned weights
DESCRIPTOR_DIM = 128
CHIP_SIZE_PX = 150  # the ResNet's input, aligned as dlib.get_face_chip does
CHIP_PADDING = 0.25  # compute_face_descriptor's default padding around the landmarks

# Euclidean distance between raw descriptors (norms ~1.3-1.5); docs/identity-threshold.md
# has the FAR/FRR tables (`python -m benchmarks identity`):
#   real photographs of one person across sessions: 0.25-0.50; of different people >= 0.68
#   painted flare-game portraits, 595 distinct pairs: min 0.447
# 0.44 accepts none of those different faces. dlib's LFW figure (99.38 %) is at 0.6.
# The studio's gate reads its own `identity_threshold` (same default, range-checked).
IDENTITY_THRESHOLD = 0.44

_DLIB_LICENSE_NOTE = (
    "face_recognition_models 0.3.0 README: 'created by Davis King ... licensed in the public "
    "domain or under CC0 1.0 Universal'; its LICENSE file is CC0 1.0 (wheel metadata says MIT)."
)

WEIGHTS: tuple[WeightFile, ...] = (
    WeightFile(
        engine=ENGINE_NAME,
        name="shape_predictor_68_face_landmarks.dat",
        source=DISTRIBUTION,
        sha256="fbdc2cb80eb9aa7a758672cbfdda32ba6300efe9b6e6c7a299ff7e736b11b92f",
        size_bytes=99_693_937,
        license="CC0-1.0",
        commercial_use=False,
        notes=_DLIB_LICENSE_NOTE
        + " Trained on the iBUG 300-W dataset, whose licence excludes commercial use; dlib's "
        "author advises asking Imperial College London before commercial use.",
    ),
    WeightFile(
        engine=ENGINE_NAME,
        name="dlib_face_recognition_resnet_model_v1.dat",
        source=DISTRIBUTION,
        sha256="55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
        size_bytes=22_466_066,
        license="CC0-1.0",
        commercial_use=True,
        notes=_DLIB_LICENSE_NOTE,
    ),
    WeightFile(
        engine=ENGINE_NAME,
        name="shape_predictor_5_face_landmarks.dat",
        source=DISTRIBUTION,
        sha256="c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
        size_bytes=9_150_489,
        license="CC0-1.0",
        commercial_use=True,
        notes=_DLIB_LICENSE_NOTE + " Not loaded by default (68-point model is used).",
    ),
    WeightFile(
        engine=ENGINE_NAME,
        name="mmod_human_face_detector.dat",
        source=DISTRIBUTION,
        sha256="4cb19393e2fbaf2b1609a9319ad5386618c886a6234ec1b971f3e87c85d87fe6",
        size_bytes=729_940,
        license="CC0-1.0",
        commercial_use=True,
        notes=_DLIB_LICENSE_NOTE + " CNN detector; not loaded by default (HOG is used).",
    ),
)
_WEIGHT_BY_NAME = {w.name: w for w in WEIGHTS}


def _import_dlib() -> Any:
    try:
        import dlib
    except ImportError as exc:  # pragma: no cover - dlib-bin is a hard dependency
        raise BadInput(
            f"the dlib face engine needs dlib: {exc}",
            hint="pip install dlib-bin==20.0.1.post1",
        ) from None
    return dlib


@functools.cache
def _weight_paths() -> tuple[Path, Path]:
    """The shape predictor and descriptor files, hashed once per process (~0.4 s)."""
    predictor = require_weight(_WEIGHT_BY_NAME["shape_predictor_68_face_landmarks.dat"],
                               verify=True)
    encoder = require_weight(_WEIGHT_BY_NAME["dlib_face_recognition_resnet_model_v1.dat"],
                             verify=True)
    return predictor, encoder


def _load_detector() -> Any:
    return _import_dlib().get_frontal_face_detector()


def _load_predictor() -> Any:
    return _import_dlib().shape_predictor(str(_weight_paths()[0]))


@functools.cache
def _descriptor(derived_dir: Path | None) -> DescriptorNet:
    """One descriptor session per process (and derived folder): it serves every thread."""
    return load_descriptor(_weight_paths()[1], derived_dir=derived_dir)


class _ModelPool:
    """Instances of one dlib model lent to one caller at a time (see the module
    docstring for why). One pool per model kind, so a thread that only fits landmarks
    never holds a second detector."""

    def __init__(self, load: Callable[[], Any]) -> None:
        self._load = load
        self._free: list[Any] = []
        self._lock = threading.Lock()
        self.created = 0

    @contextmanager
    def borrow(self) -> Iterator[Any]:
        with self._lock:
            model = self._free.pop() if self._free else None
        if model is None:
            model = self._load()  # outside the lock: other callers keep working
            with self._lock:
                self.created += 1
        try:
            yield model
        finally:
            with self._lock:
                self._free.append(model)


@dataclass
class _ModelPools:
    detector: _ModelPool
    predictor: _ModelPool

    @classmethod
    def new(cls) -> _ModelPools:
        return cls(_ModelPool(_load_detector), _ModelPool(_load_predictor))

    def warm(self) -> None:
        """Have one of each loaded, so a missing or forged weight fails at engine
        creation rather than at the first frame."""
        for pool in (self.detector, self.predictor):
            with pool.borrow():
                pass


_POOLS = _ModelPools.new()


def probe(*, models_dir: Path, policy: EnginePolicy, **_options: object) -> Availability:
    """Whether dlib imports and its weight files are installed (no hashing, cheap).

    The weights come from a package, so `models_dir` plays no part."""
    try:
        _import_dlib()
        for weight in (_WEIGHT_BY_NAME["shape_predictor_68_face_landmarks.dat"],
                       _WEIGHT_BY_NAME["dlib_face_recognition_resnet_model_v1.dat"]):
            require_weight(weight, verify=False)
    except BadInput as error:
        return Availability(False, error.message)
    return Availability(True, "dlib and face-recognition-models are installed")


def _downscale_for_detection(image: np.ndarray, max_side_px: int) -> tuple[np.ndarray, float]:
    """A copy no larger than `max_side_px` on its long side, and the factor to map back."""
    height, width = image.shape[:2]
    longest = max(height, width)
    if longest <= max_side_px:
        return image, 1.0
    scale = max_side_px / longest
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), scale


class DlibFaceEngine:
    """dlib backend; distances are Euclidean between raw 128-D ResNet descriptors."""

    name: str = ENGINE_NAME
    identity_threshold: float = IDENTITY_THRESHOLD

    def __init__(
        self,
        *,
        upsample: int = DEFAULT_UPSAMPLE,
        detect_max_side_px: int = DETECT_MAX_SIDE_PX,
        min_score: float = 0.0,
        identity_threshold: float = IDENTITY_THRESHOLD,
        derived_dir: Path | None = None,
    ) -> None:
        if upsample < 0 or upsample > 3:
            raise BadInput(f"dlib upsample must be 0..3, got {upsample}")
        if detect_max_side_px < 64:
            raise BadInput(f"detect_max_side_px must be >= 64, got {detect_max_side_px}")
        self.upsample = upsample
        self.detect_max_side_px = detect_max_side_px
        self.min_score = min_score
        self.identity_threshold = identity_threshold
        _POOLS.warm()
        self._descriptor = _descriptor(derived_dir)

    # -- detection -----------------------------------------------------------------

    def detect_boxes(self, image: np.ndarray) -> list[FaceBox]:
        """Face rectangles only (no landmarks), mapped to `image`'s pixel coordinates."""
        check_rgb_image(image)
        small, scale = _downscale_for_detection(image, self.detect_max_side_px)
        with _POOLS.detector.borrow() as detector:
            rects, scores, _ = detector.run(small, self.upsample, self.min_score)
        height, width = image.shape[:2]
        boxes = []
        for rect, score in zip(rects, scores, strict=True):
            left = max(0, round(rect.left() / scale))
            top = max(0, round(rect.top() / scale))
            right = min(width, round((rect.right() + 1) / scale))
            bottom = min(height, round((rect.bottom() + 1) / scale))
            if right - left >= 2 and bottom - top >= 2:
                boxes.append(FaceBox(left, top, right, bottom, float(score)))
        return boxes

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in an RGB uint8 image, largest first, each with 68 landmarks."""
        boxes = self.detect_boxes(image)
        faces = [Face(box=box, landmarks=self.landmarks_in_box(image, box)) for box in boxes]
        return sort_largest_first(faces)

    def landmarks_in_box(self, image: np.ndarray, box: FaceBox) -> np.ndarray:
        """Fit the 68-point shape predictor inside `box` (about a millisecond)."""
        dlib = _import_dlib()
        rect = dlib.rectangle(int(box.left), int(box.top), int(box.right) - 1, int(box.bottom) - 1)
        with _POOLS.predictor.borrow() as predictor:
            shape = predictor(image, rect)
        points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
        if points.shape != (LANDMARK_COUNT, 2):  # pragma: no cover - model contract
            raise BadInput(f"shape predictor returned {points.shape[0]} points, expected 68")
        return points

    # -- identity --------------------------------------------------------------------

    def embed(self, image: np.ndarray, face: Face) -> np.ndarray:
        """128-D dlib ResNet descriptor of `face` (aligned from its landmarks)."""
        return self.embed_chip(self.face_chip(image, face))

    def face_chip(self, image: np.ndarray, face: Face) -> np.ndarray:
        """The aligned `CHIP_SIZE_PX` crop the descriptor is computed from: what dlib's
        ``compute_face_descriptor(image, shape)`` extracts itself (the same pixels, so
        `embed_chip` of it gives dlib's descriptor, within 1e-6)."""
        check_rgb_image(image)
        dlib = _import_dlib()
        box = face.box
        rect = dlib.rectangle(int(box.left), int(box.top), int(box.right) - 1, int(box.bottom) - 1)
        parts = dlib.points([dlib.point(int(round(x)), int(round(y))) for x, y in face.landmarks])
        shape = dlib.full_object_detection(rect, parts)
        return np.asarray(dlib.get_face_chip(np.ascontiguousarray(image), shape,
                                             size=CHIP_SIZE_PX, padding=CHIP_PADDING))

    def embed_chip(self, chip: np.ndarray) -> np.ndarray:
        """The descriptor of a `face_chip` crop."""
        if chip.shape != (CHIP_SIZE_PX, CHIP_SIZE_PX, 3) or chip.dtype != np.uint8:
            raise BadInput(f"dlib face chips are {CHIP_SIZE_PX}x{CHIP_SIZE_PX} RGB uint8, "
                           f"got {chip.dtype} {chip.shape}")
        return self._descriptor.describe(chip)[0]

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        """Euclidean distance between two descriptors (dlib's native metric)."""
        va = np.asarray(a, dtype=np.float32).reshape(-1)
        vb = np.asarray(b, dtype=np.float32).reshape(-1)
        if va.shape != (DESCRIPTOR_DIM,) or vb.shape != (DESCRIPTOR_DIM,):
            raise BadInput(
                f"dlib embeddings are {DESCRIPTOR_DIM}-D, got {va.shape[0]} and {vb.shape[0]}",
                hint="embeddings from different face engines cannot be compared",
            )
        return float(np.linalg.norm(va - vb))


def create(*, models_dir: Path, **_options: object) -> DlibFaceEngine:
    """Registry factory: the default-configured dlib engine (weights from its package;
    the descriptor's derived graph kept under the models dir, `DERIVED_DIR`)."""
    return DlibFaceEngine(derived_dir=models_dir / DERIVED_DIR)
