"""The face engine contract: what every backend returns and promises.

Consent identity binding, lip-sync, reenactment and tracking all speak in these
types, so a backend can be swapped without touching its callers. Landmarks are
always the 68-point iBUG 300-W layout (dlib's order) whatever the backend uses
internally, because the lip-sync and alignment code index into it by region
(`models.face.landmarks` names the regions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from likeness.errors import BadInput, InternalError

LANDMARK_COUNT = 68  # where each region sits: models.face.landmarks


@dataclass(frozen=True)
class FaceBox:
    """A detection rectangle in pixel coordinates of the image it was found in."""

    left: int
    top: int
    right: int
    bottom: int
    score: float

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def area(self) -> int:
        return max(0, self.width) * max(0, self.height)

    @property
    def center(self) -> tuple[float, float]:
        return ((self.left + self.right) / 2.0, (self.top + self.bottom) / 2.0)

    def iou(self, other: FaceBox) -> float:
        """Intersection over union; how the tracker tells "same face as before"."""
        inter_w = min(self.right, other.right) - max(self.left, other.left)
        inter_h = min(self.bottom, other.bottom) - max(self.top, other.top)
        if inter_w <= 0 or inter_h <= 0:
            return 0.0
        inter = inter_w * inter_h
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0


@dataclass(frozen=True)
class Face:
    """One detected face: its box and 68 landmarks (float32, read-only, image pixels)."""

    box: FaceBox
    landmarks: np.ndarray = field(compare=False)

    def __post_init__(self) -> None:
        points = np.array(self.landmarks, dtype=np.float32, copy=True)
        if points.shape != (LANDMARK_COUNT, 2):
            raise ValueError(f"landmarks must be ({LANDMARK_COUNT}, 2), got {points.shape}")
        points.setflags(write=False)  # frozen means frozen: no caller edits them in place
        object.__setattr__(self, "landmarks", points)


@runtime_checkable
class FaceEngine(Protocol):
    """What every face backend provides; `models.registry` checks it when one loads."""

    name: str
    identity_threshold: float  # distance <= threshold means "same person"

    def detect(self, image: np.ndarray) -> list[Face]:
        """All faces in an RGB uint8 HxWx3 image, largest first."""
        ...

    def embed(self, image: np.ndarray, face: Face) -> np.ndarray:
        """An identity vector for `face` in `image` (float32, 1-D)."""
        ...

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        """How far apart two identity vectors are (compare with `identity_threshold`)."""
        ...


def check_face_engine(engine: FaceEngine) -> None:
    """What the Protocol cannot say: a usable identity threshold.

    Identity binding compares distances with it, so a zero would deny every performer
    and a huge one would let any face pass for theirs; refuse both at load time.
    """
    threshold = engine.identity_threshold
    if not isinstance(threshold, float) or not threshold > 0:
        raise InternalError(f"face engine {engine.name!r} has identity_threshold "
                            f"{threshold!r} (need a float > 0)")


@runtime_checkable
class LandmarkRefiner(Protocol):
    """Optional: re-fit the 68 landmarks inside a given box without running detection.

    The tracker uses this between keyframes when a backend offers it (dlib's shape
    predictor takes about a millisecond); otherwise it follows landmarks by optical flow.
    """

    def landmarks_in_box(self, image: np.ndarray, box: FaceBox) -> np.ndarray: ...


@runtime_checkable
class ChipEmbedder(Protocol):
    """Optional: an embedding in two steps, the small aligned crop it is computed from
    (`face_chip`, cheap) and the descriptor of that crop (`embed_chip`, the costly part).

    ``embed_chip(face_chip(image, face))`` must equal ``embed(image, face)`` exactly.
    Identity binding keeps the crops of the faces it may embed later, so the frames
    need not be decoded a second time (dlib's 150x150 crop is 66 KB).
    """

    def face_chip(self, image: np.ndarray, face: Face) -> np.ndarray: ...

    def embed_chip(self, chip: np.ndarray) -> np.ndarray: ...


def check_rgb_image(image: np.ndarray) -> np.ndarray:
    """Refuse anything that is not an RGB uint8 HxWx3 array, with a precise message."""
    if not isinstance(image, np.ndarray):
        raise BadInput(f"expected a numpy image, got {type(image).__name__}")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise BadInput(
            f"expected an RGB uint8 HxWx3 image, got dtype {image.dtype} shape {image.shape}",
            hint="load images with models.face.load_image()",
        )
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise BadInput(f"empty image of shape {image.shape}")
    return image


def sort_largest_first(faces: list[Face]) -> list[Face]:
    """The contract's order: largest box first, then highest score (stable for ties)."""
    return sorted(faces, key=lambda f: (-f.box.area, -f.box.score))
