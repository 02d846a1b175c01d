"""Tracker: follows a moving 720p face within a few pixels, drops it on blank frames,
recovers, detects only on keyframes, smooths jitter, and picks the talking face."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from models.face.base import Face, FaceBox
from models.face.dlib_engine import DlibFaceEngine
from models.face.tracking import FaceTracker, OneEuroFilter, TrackedFace
from tests.support.faces import BACKGROUND_RGB

FRAME_COUNT = 50
BLANK_FRAMES = range(25, 30)
FACE_SIZE_PX = 480


@pytest.fixture(scope="module")
def moving_clip(
    portraits: dict[str, np.ndarray], dlib_engine: DlibFaceEngine
) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    """A 1280x720 clip: a portrait drifting +-40/20 px and rolling +-3 deg, 5 blank frames.

    Ground truth is the portrait's own landmarks mapped through each frame's affine.
    """
    size = FACE_SIZE_PX
    source = cv2.resize(portraits["male01"], (size, size), interpolation=cv2.INTER_CUBIC)
    base = dlib_engine.detect(source)[0].landmarks
    frames, truth = [], []
    for i in range(FRAME_COUNT):
        matrix = cv2.getRotationMatrix2D((size / 2, size / 2), 3 * np.sin(i / 9), 1.0)
        matrix[:, 2] += (400 + 40 * np.sin(i / 7), 120 + 20 * np.cos(i / 11))
        frame = np.empty((720, 1280, 3), dtype=np.uint8)
        frame[:] = BACKGROUND_RGB
        if i in BLANK_FRAMES:
            frame[:] = 40
            truth.append(None)
        else:
            cv2.warpAffine(source, matrix, (1280, 720), dst=frame,
                           borderMode=cv2.BORDER_TRANSPARENT)
            truth.append(base @ matrix[:, :2].T + matrix[:, 2])
        frames.append(frame)
    return frames, truth


def _errors(results: list[TrackedFace | None], truth: list[np.ndarray | None]) -> np.ndarray:
    return np.array([
        np.linalg.norm(r.face.landmarks - g, axis=1).mean()
        for r, g in zip(results, truth, strict=True) if g is not None and r is not None
    ])


def test_follows_face_loses_it_on_blank_frames_and_recovers(
    moving_clip: tuple[list[np.ndarray], list[np.ndarray | None]], dlib_engine: DlibFaceEngine
) -> None:
    frames, truth = moving_clip
    tracker = FaceTracker(dlib_engine, detect_every=10)
    results = list(tracker.track(frames))
    assert len(results) == FRAME_COUNT
    for index, (result, expected) in enumerate(zip(results, truth, strict=True)):
        if expected is None:
            assert result is None, f"frame {index} is blank but a face was reported"
        else:
            assert result is not None, f"face lost on frame {index}"
            assert result.frame_index == index
    errors = _errors(results, truth)
    assert errors.mean() < 3.5 and errors.max() < 6.0  # pixels, on a 480 px face
    recovered = results[BLANK_FRAMES.stop]
    assert recovered is not None and recovered.is_keyframe  # the cut back triggers detection
    keyframes = [r.frame_index for r in results if r is not None and r.is_keyframe]
    assert keyframes[0] == 0 and len(keyframes) <= 8
    assert tracker.keyframe_count <= 10  # blank frames skip the detector (flat thumbnails)


def test_smoothing_cuts_still_frame_jitter(
    moving_clip: tuple[list[np.ndarray], list[np.ndarray | None]], dlib_engine: DlibFaceEngine
) -> None:
    rng = np.random.default_rng(7)
    still = moving_clip[0][0].astype(np.int16)
    noisy = [
        np.clip(still + rng.integers(-3, 4, still.shape), 0, 255).astype(np.uint8)
        for _ in range(16)
    ]

    def jitter(tracker: FaceTracker) -> float:
        points = np.array([r.face.landmarks for r in tracker.track(noisy) if r is not None])
        assert len(points) == len(noisy)
        return float(np.linalg.norm(np.diff(points[4:], axis=0), axis=2).mean())

    raw = jitter(FaceTracker(dlib_engine, min_cutoff_hz=1000.0, beta=0.0))
    smooth = jitter(FaceTracker(dlib_engine))
    assert smooth < 0.6 * raw


def test_flow_only_mode_also_follows(
    moving_clip: tuple[list[np.ndarray], list[np.ndarray | None]], dlib_engine: DlibFaceEngine
) -> None:
    frames, truth = moving_clip
    results = list(FaceTracker(dlib_engine, refit_landmarks=False).track(frames[:20]))
    assert all(r is not None for r in results)
    assert _errors(results, truth[:20]).mean() < 3.5


def _face(left: int, size: int, mouth_gap: float) -> Face:
    """A synthetic face: landmarks spread in the box, inner lips `mouth_gap` px apart."""
    grid = np.linspace(0.2, 0.8, 68, dtype=np.float32)
    points = np.stack([left + grid * size, 100 + grid[::-1] * size], axis=1)
    points[62] = (left + size / 2, 100 + 0.7 * size)
    points[66] = (left + size / 2, 100 + 0.7 * size + mouth_gap)
    return Face(box=FaceBox(left, 100, left + size, 100 + size, 1.0), landmarks=points)


def test_main_speaker_prefers_moving_mouth_then_sticks(dlib_engine: DlibFaceEngine) -> None:
    tracker = FaceTracker(dlib_engine)
    silent_big, talking_small = _face(0, 220, 2.0), _face(600, 200, 2.0)
    assert tracker._choose_main([silent_big, talking_small]) is silent_big  # largest first
    tracker._box = None  # no current track: judge on size and mouth motion only
    for gap in (30.0, 2.0, 30.0):
        chosen = tracker._choose_main([_face(0, 220, 2.0), _face(600, 200, gap)])
    assert chosen.box.left == 600
    tracker._box = chosen.box  # now following the speaker: continuity keeps it
    chosen = tracker._choose_main([_face(0, 230, 2.0), _face(600, 200, 29.0)])
    assert chosen.box.left == 600


def test_one_euro_filter_converges_and_resets() -> None:
    smoother = OneEuroFilter(rate_hz=25.0, min_cutoff_hz=1.0, beta=0.0)
    first = smoother(np.zeros(3))
    assert np.all(first == 0)
    values = [smoother(np.full(3, 10.0)) for _ in range(60)]
    assert 0 < values[0][0] < 10 and values[-1][0] == pytest.approx(10.0, abs=0.05)
    smoother.reset()
    assert smoother(np.full(3, -5.0))[0] == -5.0


def test_frames_given_as_none_are_skipped_and_the_track_restarts(
    moving_clip: tuple[list[np.ndarray], list[np.ndarray | None]],
    dlib_engine: DlibFaceEngine,
) -> None:
    """Issue 15: frames the render leaves alone are not followed; after them the face
    is found again by a fresh detection."""
    frames, _truth = moving_clip
    skipped = range(5, 15)
    tracker = FaceTracker(dlib_engine)
    results = list(tracker.track(None if i in skipped else f for i, f in enumerate(frames)))
    assert len(results) == len(frames)
    assert all(results[i] is None for i in skipped)
    assert results[15] is not None and results[15].is_keyframe
    assert all(results[i] is not None for i in range(5))


def test_known_faces_are_free_keyframes(
    moving_clip: tuple[list[np.ndarray], list[np.ndarray | None]],
    dlib_engine: DlibFaceEngine,
) -> None:
    """Issue 15: faces identity binding already found are not detected again."""
    frames, _truth = moving_clip
    known = {i: dlib_engine.detect(frames[i]) for i in (0, 6, 12, 18)}
    calls: list[int] = []

    class Counting:
        name = dlib_engine.name
        identity_threshold = dlib_engine.identity_threshold

        def detect(self, image: np.ndarray) -> list[Face]:
            calls.append(1)
            return dlib_engine.detect(image)

        def landmarks_in_box(self, image: np.ndarray, box: FaceBox) -> np.ndarray:
            return dlib_engine.landmarks_in_box(image, box)

    tracker = FaceTracker(Counting(), known=known)  # type: ignore[arg-type]
    results = list(tracker.track(frames[:20]))
    assert calls == []  # frames 0..19: every keyframe came from the known faces
    assert all(r is not None for r in results)
    assert [r.frame_index for r in results if r is not None and r.is_keyframe] == [0, 6, 12, 18]
