"""Follow one face (the main speaker) through a video at far more than detection speed.

HOG detection costs tens of milliseconds per 720p frame; following a face that is
already found costs a few. So the tracker detects only on keyframes (every
`detect_every` frames, on a scene cut, or when the track fails) and in between moves
the previous landmarks with pyramidal Lucas-Kanade optical flow, fits a similarity
transform to the points that pass a forward-backward check, moves the box with it and,
when the engine offers `landmarks_in_box` (dlib), re-fits the 68 landmarks inside the
moved box. A One-Euro filter removes landmark jitter without lagging fast motion.

Frames where no face can be followed yield None: lip-sync and reenactment leave
those frames untouched. A frame given as None is one the caller does not need
followed (outside speech): it costs nothing, yields None and ends the track, so the
next real frame starts afresh with a detection.

`SourceTracks` keeps, per source (by its SHA-256), the faces an earlier pass of the
same run already found on some frames (identity binding's samples) and what a pass
followed on every frame (the footage bank's build), so later passes use them instead of
detecting and following again. A tracker given `known` faces takes them as free
keyframes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import cv2
import numpy as np

from likeness.errors import BadInput
from models.face.base import Face, FaceBox, FaceEngine, LandmarkRefiner, check_rgb_image
from models.face.landmarks import INNER_LIP_BOTTOM_INDEX, INNER_LIP_TOP_INDEX

THUMB_SIZE_PX = (64, 36)  # (width, height) of the scene-cut/flatness thumbnail
DEFAULT_DETECT_EVERY = 10
KNOWN_KEYFRAME_GAP = 3  # a frame with known faces re-anchors the track this long after the last
DEFAULT_SCENE_CUT_LEVEL = 24.0  # mean absolute grey difference (0-255) between thumbnails
FLAT_FRAME_STD_LEVEL = 3.0  # a thumbnail this uniform cannot hold a face: skip detection
MIN_TRACKED_POINTS = 24  # of 68: fewer surviving flow points means the track is lost
FORWARD_BACKWARD_MAX_PX = 1.5
LK_WINDOW_PX = (21, 21)
LK_PYRAMID_LEVELS = 3
SAME_TRACK_IOU = 0.3
MOUTH_MOTION_WEIGHT = 0.5
CONTINUITY_BONUS = 0.6
MOTION_EMA_RATE = 0.5
# One-Euro settings measured on a 720p clip of a 480 px face moving up to ~140 px/s with
# +-3 deg roll: mean landmark error 2.0 px (1.5 px unfiltered, 4.2 px at 1 Hz/0.02) and
# still-frame jitter 0.33 px/frame (1.18 px/frame unfiltered).
DEFAULT_MIN_CUTOFF_HZ = 1.5
DEFAULT_BETA = 0.1


@dataclass(frozen=True)
class TrackedFace:
    """The followed face on one frame; `is_keyframe` when it came from a fresh detection."""

    frame_index: int
    face: Face
    is_keyframe: bool


class OneEuroFilter:
    """Casiez et al.'s One-Euro filter over an array of values (vectorized).

    The cut-off frequency rises with speed: still landmarks get heavy smoothing
    (no jitter), moving ones little (no lag).
    """

    def __init__(
        self, *, rate_hz: float, min_cutoff_hz: float = 1.0, beta: float = 0.02,
        derivative_cutoff_hz: float = 1.0,
    ) -> None:
        if rate_hz <= 0 or min_cutoff_hz <= 0 or derivative_cutoff_hz <= 0 or beta < 0:
            raise BadInput("One-Euro filter rates and cut-offs must be positive")
        self.period_s = 1.0 / rate_hz
        self.min_cutoff_hz = min_cutoff_hz
        self.beta = beta
        self.derivative_cutoff_hz = derivative_cutoff_hz
        self._value: np.ndarray | None = None
        self._speed: np.ndarray | None = None

    def _alpha(self, cutoff_hz: np.ndarray | float) -> np.ndarray | float:
        tau_s = 1.0 / (2.0 * math.pi * np.asarray(cutoff_hz))
        return 1.0 / (1.0 + tau_s / self.period_s)

    def reset(self) -> None:
        self._value = None
        self._speed = None

    def __call__(self, value: np.ndarray) -> np.ndarray:
        current = np.asarray(value, dtype=np.float64)
        if self._value is None or self._value.shape != current.shape:
            self._value = current.copy()
            self._speed = np.zeros_like(current)
            return current.astype(np.float32)
        raw_speed = (current - self._value) / self.period_s
        speed_alpha = self._alpha(self.derivative_cutoff_hz)
        self._speed = self._speed + speed_alpha * (raw_speed - self._speed)
        alpha = self._alpha(self.min_cutoff_hz + self.beta * np.abs(self._speed))
        self._value = self._value + alpha * (current - self._value)
        return self._value.astype(np.float32)


@dataclass(frozen=True)
class _Candidate:
    """A face seen on a keyframe, remembered to judge mouth motion on the next one."""

    box: FaceBox
    mouth_open: float
    motion: float


def _mouth_openness(face: Face) -> float:
    """Inner-lip gap relative to face height (0 closed, ~0.15 wide open)."""
    gap = face.landmarks[INNER_LIP_BOTTOM_INDEX, 1] - face.landmarks[INNER_LIP_TOP_INDEX, 1]
    return float(max(0.0, gap) / max(1, face.box.height))


def _move_box(box: FaceBox, matrix: np.ndarray, *, width: int, height: int) -> FaceBox | None:
    """The box after a similarity transform (centre moved, sides scaled), or None if gone."""
    cx, cy = box.center
    new_cx = matrix[0, 0] * cx + matrix[0, 1] * cy + matrix[0, 2]
    new_cy = matrix[1, 0] * cx + matrix[1, 1] * cy + matrix[1, 2]
    scale = math.sqrt(abs(float(np.linalg.det(matrix[:, :2]))))
    half_w, half_h = box.width * scale / 2.0, box.height * scale / 2.0
    left, top = round(new_cx - half_w), round(new_cy - half_h)
    right, bottom = round(new_cx + half_w), round(new_cy + half_h)
    if right <= 0 or bottom <= 0 or left >= width or top >= height:
        return None
    return FaceBox(left, top, right, bottom, box.score)


class FaceTracker:
    """Yields one `TrackedFace | None` per input frame, following the main speaker."""

    def __init__(
        self,
        engine: FaceEngine,
        *,
        detect_every: int = DEFAULT_DETECT_EVERY,
        detect_when_lost_every: int = 2,
        scene_cut_level: float = DEFAULT_SCENE_CUT_LEVEL,
        fps: float = 25.0,
        min_cutoff_hz: float = DEFAULT_MIN_CUTOFF_HZ,
        beta: float = DEFAULT_BETA,
        refit_landmarks: bool = True,
        candidates: Callable[[int, list[Face]], list[Face]] | None = None,
        known: Mapping[int, list[Face]] | None = None,
    ) -> None:
        """``candidates(frame_index, faces)`` narrows the faces a keyframe may follow (the
        identity binding passes the performer's, so only their face is ever altered);
        ``known`` holds every face already found on some frames (in the pixels of the
        frames given): those frames are keyframes that cost no detection."""
        if detect_every < 1 or detect_when_lost_every < 1:
            raise BadInput("detect_every and detect_when_lost_every must be >= 1")
        self.engine = engine
        self.detect_every = detect_every
        self.detect_when_lost_every = detect_when_lost_every
        self.scene_cut_level = scene_cut_level
        self.candidates = candidates
        self.known = known if known is not None else {}  # a live mapping may fill later
        self.refiner = engine if refit_landmarks and isinstance(engine, LandmarkRefiner) else None
        self._filter = OneEuroFilter(rate_hz=fps, min_cutoff_hz=min_cutoff_hz, beta=beta)
        self.keyframe_count = 0
        self._reset_track()
        self._candidates: list[_Candidate] = []

    def _reset_track(self) -> None:
        self._box: FaceBox | None = None
        self._points: np.ndarray | None = None  # raw (unsmoothed) landmarks, for the flow
        self._filter.reset()

    # -- public ----------------------------------------------------------------------

    def track(self, frames: Iterable[np.ndarray | None]) -> Iterator[TrackedFace | None]:
        """Follow the main face through `frames` (RGB uint8, same size), one result each;
        a None frame is skipped (yields None, and the track starts afresh after it)."""
        previous_gray: np.ndarray | None = None
        previous_thumb: np.ndarray | None = None
        last_detection = -(10**9)
        for index, frame in enumerate(frames):
            if frame is None:
                previous_gray = previous_thumb = None
                yield None
                continue
            check_rgb_image(frame)
            gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
            thumb = cv2.resize(gray, THUMB_SIZE_PX, interpolation=cv2.INTER_AREA)
            thumb = thumb.astype(np.float32)
            cut = (
                previous_thumb is None
                or previous_gray is None
                or previous_gray.shape != gray.shape
                or float(np.abs(thumb - previous_thumb).mean()) > self.scene_cut_level
            )
            if cut:
                self._reset_track()
                self._candidates = []
            result: TrackedFace | None = None
            followed = False
            if self._box is not None and previous_gray is not None and not cut:
                due = index - last_detection >= self.detect_every or (
                    index in self.known and index - last_detection >= KNOWN_KEYFRAME_GAP)
                if not due:
                    result = self._follow(previous_gray, gray, frame, index)
                    followed = result is not None
            if not followed:
                lost_wait = index - last_detection < self.detect_when_lost_every
                if self._box is None and not cut and lost_wait:
                    result = None  # lost: retry detection only every few frames
                else:
                    last_detection = index
                    result = self._detect(frame, thumb, index)
            previous_gray, previous_thumb = gray, thumb
            yield result

    # -- keyframes -------------------------------------------------------------------

    def _detect(self, frame: np.ndarray, thumb: np.ndarray, index: int) -> TrackedFace | None:
        self.keyframe_count += 1
        if index in self.known:
            faces = list(self.known[index])
        elif float(thumb.std()) < FLAT_FRAME_STD_LEVEL:
            faces = []
        else:
            faces = self.engine.detect(frame)
        if self.candidates is not None:
            faces = self.candidates(index, faces)
        chosen = self._choose_main(faces)
        if chosen is None:
            self._reset_track()
            return None
        if self._box is None or chosen.box.iou(self._box) < SAME_TRACK_IOU:
            self._filter.reset()  # a new face: do not smooth across identities
        self._box = chosen.box
        self._points = np.array(chosen.landmarks, dtype=np.float32)
        smooth = self._filter(self._points)
        return TrackedFace(index, Face(box=chosen.box, landmarks=smooth), is_keyframe=True)

    def _choose_main(self, faces: list[Face]) -> Face | None:
        """Largest face, favouring mouth motion since the last keyframe and the current track.

        Mouth motion is measured between keyframes per candidate (matched by box
        overlap), so a talking face beats a slightly larger silent one; the
        continuity bonus stops the choice flipping between similar faces.
        """
        if not faces:
            self._candidates = []
            return None
        largest_area = max(face.box.area for face in faces) or 1
        candidates: list[_Candidate] = []
        scores: list[float] = []
        for face in faces:
            opening = _mouth_openness(face)
            match = max(self._candidates, key=lambda c: c.box.iou(face.box), default=None)
            motion = 0.0
            if match is not None and match.box.iou(face.box) >= SAME_TRACK_IOU:
                change = abs(opening - match.mouth_open)
                motion = match.motion + MOTION_EMA_RATE * (change - match.motion)
            candidates.append(_Candidate(face.box, opening, motion))
            score = face.box.area / largest_area
            score += MOUTH_MOTION_WEIGHT * min(1.0, motion / 0.05)
            if self._box is not None and face.box.iou(self._box) >= SAME_TRACK_IOU:
                score += CONTINUITY_BONUS
            scores.append(score)
        self._candidates = candidates
        return faces[int(np.argmax(scores))]

    # -- between keyframes -----------------------------------------------------------

    def _follow(
        self, previous_gray: np.ndarray, gray: np.ndarray, frame: np.ndarray, index: int
    ) -> TrackedFace | None:
        """Move the track by optical flow; None when too few points survive."""
        assert self._points is not None and self._box is not None
        start = self._points.reshape(-1, 1, 2)
        lk = {"winSize": LK_WINDOW_PX, "maxLevel": LK_PYRAMID_LEVELS}
        moved, status, _ = cv2.calcOpticalFlowPyrLK(previous_gray, gray, start, None, **lk)
        if moved is None:
            return None
        back, status_back, _ = cv2.calcOpticalFlowPyrLK(gray, previous_gray, moved, None, **lk)
        round_trip = np.linalg.norm((back - start).reshape(-1, 2), axis=1)
        good = (status.ravel() == 1) & (status_back.ravel() == 1)
        good &= round_trip < FORWARD_BACKWARD_MAX_PX
        if int(good.sum()) < MIN_TRACKED_POINTS:
            return None
        matrix, _ = cv2.estimateAffinePartial2D(
            start[good], moved[good], method=cv2.RANSAC, ransacReprojThreshold=2.0
        )
        if matrix is None:
            return None
        height, width = gray.shape
        box = _move_box(self._box, matrix, width=width, height=height)
        if box is None:
            return None
        if self.refiner is not None:
            points = self.refiner.landmarks_in_box(frame, box)
        else:
            flowed = moved.reshape(-1, 2)
            predicted = self._points @ matrix[:, :2].T + matrix[:, 2]
            points = np.where(good[:, None], flowed, predicted).astype(np.float32)
        self._box, self._points = box, np.asarray(points, dtype=np.float32)
        smooth = self._filter(self._points)
        return TrackedFace(index, Face(box=box, landmarks=smooth), is_keyframe=False)


@dataclass(eq=False)  # by identity: one store per run, handed around as an engine option
class SourceTracks:
    """Per source during one run: the faces found on some frames, and what a pass
    followed on every frame (frame index -> face, or None).

    Keyed by the source's SHA-256, so a consumer can only ever read the faces of the
    very bytes it renders; a source found or followed again replaces its entry."""

    _by_source: dict[str, dict[int, TrackedFace | None]] = field(default_factory=dict,
                                                                  repr=False)
    _found: dict[str, dict[int, list[Face]]] = field(default_factory=dict, repr=False)

    def found(self, sha256: str, faces: Mapping[int, list[Face]]) -> None:
        """Keep every face found on some frames of that source (frame index -> faces)."""
        self._found[sha256] = dict(faces)

    def found_in(self, sha256: str, *, scale: float = 1.0) -> dict[int, list[Face]]:
        """The faces found in that source, in the pixels of frames scaled by ``scale``."""
        return {index: [scaled_face(face, scale) for face in faces]
                for index, faces in self._found.get(sha256, {}).items()}

    def recording(self, sha256: str, track: Iterable[TrackedFace | None]
                  ) -> Iterator[TrackedFace | None]:
        """Pass ``track`` through, keeping every result under ``sha256``."""
        kept: dict[int, TrackedFace | None] = {}
        self._by_source[sha256] = kept
        for index, tracked in enumerate(track):
            kept[index] = tracked
            yield tracked

    def of(self, sha256: str) -> Mapping[int, TrackedFace | None]:
        """The frames followed in that source (empty when none were)."""
        return self._by_source.get(sha256, {})


def scaled_face(face: Face, factor: float) -> Face:
    """The face in the pixels of its frame scaled by ``factor``."""
    if factor == 1.0:
        return face
    box = face.box
    return Face(box=FaceBox(round(box.left * factor), round(box.top * factor),
                            round(box.right * factor), round(box.bottom * factor), box.score),
                landmarks=face.landmarks * np.float32(factor))
