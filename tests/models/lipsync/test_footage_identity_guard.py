"""The footage engine's identity guard, with a stand-in face engine whose 'identity' is
the image's brightness: closing a mouth further makes the paste read farther away."""

from __future__ import annotations

import numpy as np

from models.face.base import Face, FaceBox
from models.face.tracking import TrackedFace
from models.lipsync.footage.identity_guard import LIMIT_SHARE, closing_limits

SIZE = (40, 40)
SCALE = 10.0  # identity distance per eye distance of closing


class BrightnessFaces:
    """Embeds an image as its mean brightness; landmarks are whatever the box holds."""

    name = "brightness"
    identity_threshold = 1.0

    def __init__(self) -> None:
        self.embedded = 0

    def detect(self, image: np.ndarray) -> list[Face]:
        return []

    def embed(self, image: np.ndarray, face: Face) -> np.ndarray:
        self.embedded += 1
        return np.array([float(image.mean())], np.float32)

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        return float(np.abs(a - b).sum())

    def landmarks_in_box(self, image: np.ndarray, box: FaceBox) -> np.ndarray:
        return np.zeros((68, 2), np.float32)


def _tracked(count: int) -> list[TrackedFace]:
    box = FaceBox(0, 0, SIZE[0], SIZE[1], 1.0)
    return [TrackedFace(i, Face(box=box, landmarks=np.zeros((68, 2), np.float32)), False)
            for i in range(count)]


def test_the_guard_closes_less_only_where_the_paste_would_read_as_someone_else() -> None:
    count = 12
    host = np.full(count, 0.3)
    wanted = np.full(count, 0.25)  # closing by 0.05: not at risk
    wanted[3:9] = 0.0  # closing a laugh by 0.3
    frames = [np.zeros((*SIZE, 3), np.uint8) for _ in range(count)]
    asked: list[tuple[int, float]] = []

    def paste(k: int, gap: float) -> np.ndarray:
        asked.append((k, gap))
        return np.full((*SIZE, 3), SCALE * (host[k] - gap), np.float32).astype(np.uint8)

    faces = BrightnessFaces()
    limits, embedded = closing_limits(faces, frames, _tracked(count), host, wanted, paste)
    # 0.3 -> 3 away, 0.14 -> 1.4, 0.1 -> 1.0: too far; 0.06 -> 0.6 <= 0.77: the bound.
    assert LIMIT_SHARE == 0.77
    assert np.all(np.isinf(limits[:3])) and np.all(np.isinf(limits[9:]))
    np.testing.assert_allclose(limits[3:9], 0.06)
    checked = sorted({k for k, _ in asked})
    assert checked == [3, 4, 5, 6, 7, 8]  # every frame of the stretch
    assert embedded == 4 * len(checked)
    assert faces.embedded == embedded + len(checked)  # one source embedding each


def test_the_guard_costs_nothing_when_no_frame_closes_much() -> None:
    count = 6
    host = np.full(count, 0.1)
    faces = BrightnessFaces()
    limits, embedded = closing_limits(faces, [np.zeros((*SIZE, 3), np.uint8)] * count,
                                      _tracked(count), host, host - 0.05,
                                      lambda k, gap: None)
    assert np.all(np.isinf(limits)) and embedded == 0 and faces.embedded == 0
