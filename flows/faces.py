"""Identity binding input: every face in the source, followed as tracks.

A splice that shows the performer at a few predictable instants and someone else the
rest of the time must not pass, nor a second, smaller face. So the whole video is
scanned once: one frame is sampled at a random offset inside every
``SAMPLE_PERIOD_S`` stratum (a fresh seed per run, so the instants cannot be
predicted), plus one a few frames into every scene cut (a cut to another person is
always looked at). Every face on a sampled frame is detected and linked to the track
of the previous sample when it overlaps it and is the same person; a scene cut ends
every track. Each track hands the gate a few well-spaced, sharp, frontal embeddings;
the gate decides per track (consent.identity).

Embedding a face costs ten times detecting it, so "the same person" is first judged
by look: an aligned, normalised grey chip of the face, compared with the track's last
one (the same face moving correlates above 0.94, two different portraits below 0.68).
A face is embedded, and judged by its embedding, when it starts a track, when its look
changes, at seeded random samples and at least every `MAX_UNCHECKED` samples; a track
whose embeddings ever disagree is embedded in full and split exactly where the person
changes. An engine that embeds from a small aligned crop (`ChipEmbedder`: dlib's
150x150 chip, 66 KB) has the crop of every face kept until it is embedded, so the
representatives chosen after the scan are embedded without decoding the video again
(other engines take one more decode pass that converts only those frames); the crops
are embedded in a worker thread while detection goes on, and a seeded check's answer,
which only marks its track for splitting, is read after the scan. Scene cuts are found
on grey thumbnails scaled from the luma plane in the decoder's thread, which also
converts the sampled frames to RGB; the other frames are never converted.

Detection, the next cost, runs on a sample unless nothing can have appeared: when the
picture outside the known people (each face box widened by `FACE_MARGIN`, and by
`BODY_MARGIN` below it) has not changed
since the last detected sample (`CHANGE_SIZE_PX` grey, no pixel more than
`CHANGE_LEVEL` off), each known face is re-fitted inside its box and must keep its
look, else the sample is detected after all. Every `DETECT_EVERY_SAMPLES`-th sample,
a seeded random share (`DETECT_SHARE`) and every sample after a scene cut are always
detected, so a new face is found within a second even when it fades in.

For renders that alter one face, `performer_track` restricts the frame-by-frame
face tracker to the tracks the gate found to be the performer's: every other face
is left untouched. No face anywhere is bad input (exit 2), not a consent question.
"""

from __future__ import annotations

import itertools
import math
import secrets
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from consent.models import Decision, FaceTrackEvidence
from likeness.errors import BadInput
from media.decode import LazyFrame, frames_at, iter_lazy_frames
from media.pipeline import prefetch
from media.probe import MediaInfo, probe
from models.face import Face, FaceBox, FaceEngine, load_image
from models.face.base import ChipEmbedder, LandmarkRefiner
from models.face.landmarks import EYE_IMAGE_LEFT, EYE_IMAGE_RIGHT, MOUTH
from models.face.tracking import DEFAULT_SCENE_CUT_LEVEL, THUMB_SIZE_PX, FaceTracker, TrackedFace

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp"}
SAMPLE_PERIOD_S = 0.25  # one sampled frame per stratum this long (4 a second)
MAX_SAMPLES = 480  # longer videos get longer strata (2 minutes at 4 a second)
CUT_SAMPLE_DELAY_FRAMES = 2  # sample this far into a new scene (past a blended cut)
LINK_IOU = 0.2  # a face on the next sample continues a track when boxes overlap this much
EMBEDDINGS_PER_TRACK = 7  # well-spaced frames per track sent to the gate
KEEP_IOU = 0.3  # a tracked face is the performer's when it overlaps their track this much
NOSE_TIP_INDEX = 30
QUALITY_CROP_PX = 96
LOOK_PX = 32  # side of the grey chip that judges "same look" between two samples
LOOK_SAME = 0.85  # normalised correlation of two chips at or above it: the same face
CHECK_SHARE = 0.125  # of the look-linked samples, this share (seeded, random) is embedded
MAX_UNCHECKED = 12  # and never more than this many samples of a track in a row unembedded
CHANGE_SIZE_PX = (160, 90)  # grey picture compared between samples (8x8 px blocks at 720p)
CHANGE_LEVEL = 12.0  # grey levels: a block that moved more than this changed
FACE_MARGIN = 1.0  # of a box's size, each side and above: where a face's head may move
BODY_MARGIN = 2.5  # of a box's height, below it: the speaker's shoulders and hands
DETECT_EVERY_SAMPLES = 4  # at least every 4th sample is detected (one a second)
DETECT_SHARE = 0.25  # and this share of the others, seeded and random


@dataclass(eq=False)
class FaceSample:
    """One face on one sampled frame (the embedding an array: Prefect does not walk it).

    ``embedding`` is None until the face is embedded (see the module doc)."""

    frame_index: int
    time_s: float
    box: FaceBox
    embedding: np.ndarray | None
    quality: float  # sharpness x frontality: which frames represent the track
    look: np.ndarray | None = None  # the normalised grey chip (`_look`)
    landmarks: np.ndarray | None = None  # what a later embedding is aligned by
    chip: np.ndarray | None = None  # a `ChipEmbedder`'s crop, kept until embedded
    pending: Future[np.ndarray] | None = None  # its embedding, being computed (`_Linker`)


@dataclass
class FaceTrack:
    track_id: int
    samples: list[FaceSample] = field(default_factory=list)

    @property
    def first(self) -> FaceSample:
        return self.samples[0]

    @property
    def last(self) -> FaceSample:
        return self.samples[-1]

    def chosen(self, count: int = EMBEDDINGS_PER_TRACK) -> list[FaceSample]:
        """The best-quality sample in each of ``count`` equal parts of the track."""
        bins = np.array_split(np.arange(len(self.samples)), min(count, len(self.samples)))
        return [max((self.samples[i] for i in part), key=lambda s: s.quality) for part in bins]

    def embedded(self) -> list[FaceSample]:
        return [s for s in self.samples if s.embedding is not None or s.pending is not None]

    def evidence(self) -> FaceTrackEvidence:
        chosen = self.chosen()
        if any(s.embedding is None for s in chosen):  # find_faces embeds them all
            raise ValueError(f"face track {self.track_id} has unembedded representatives")
        return FaceTrackEvidence(
            track_id=self.track_id, start_s=round(self.first.time_s, 3),
            end_s=round(self.last.time_s, 3), samples=len(self.samples),
            embeddings=tuple(tuple(float(x) for x in s.embedding)  # type: ignore[union-attr]
                             for s in chosen))

    def box_at(self, frame_index: int, *, span: tuple[int, int]) -> FaceBox | None:
        """The track's box at a frame, interpolated between samples; None outside ``span``."""
        if not span[0] <= frame_index <= span[1]:
            return None
        before = [s for s in self.samples if s.frame_index <= frame_index]
        after = [s for s in self.samples if s.frame_index >= frame_index]
        if not before or not after:
            return (before or after)[-1 if before else 0].box
        a, b = before[-1], after[0]
        if a.frame_index == b.frame_index:
            return a.box
        w = (frame_index - a.frame_index) / (b.frame_index - a.frame_index)
        mix = [round((1 - w) * pa + w * pb) for pa, pb in zip(
            (a.box.left, a.box.top, a.box.right, a.box.bottom),
            (b.box.left, b.box.top, b.box.right, b.box.bottom), strict=True)]
        return FaceBox(*mix, score=a.box.score)


@dataclass(frozen=True)
class SourceFaces:
    """Every face track found in one source, with how the source was sampled."""

    source: str
    tracks: tuple[FaceTrack, ...]
    sampled_frames: int
    scene_cuts: int
    fps: float
    first_sampled: int = 0  # frame index of the first and the last sampled frame
    last_sampled: int = 0
    detected_frames: int = 0  # of the sampled frames, those run through the detector
    embedded_faces: int = 0

    def evidence(self) -> tuple[FaceTrackEvidence, ...]:
        return tuple(t.evidence() for t in self.tracks)

    def faces_by_frame(self) -> dict[int, list[Face]]:
        """Every face seen on each sampled frame: free keyframes for a later tracker."""
        found: dict[int, list[Face]] = {}
        for track in self.tracks:
            for sample in track.samples:
                if sample.landmarks is not None:
                    found.setdefault(sample.frame_index, []).append(
                        Face(box=sample.box, landmarks=sample.landmarks))
        return found

    def performer_filter(self, decision: Decision) -> PerformerFilter:
        """The performer's tracks, each altered only between its first and last sample:
        before and after, the frames are unknown (a cut to someone else may sit there),
        except where the track starts or ends the scan (the video's own edges)."""
        ids = {t.track_id for t in decision.identity_tracks if t.performer}
        mine = tuple(t for t in self.tracks if t.track_id in ids)
        spans = tuple((0 if t.first.frame_index <= self.first_sampled else t.first.frame_index,
                       10**9 if t.last.frame_index >= self.last_sampled else t.last.frame_index)
                      for t in mine)
        return PerformerFilter(mine, spans)


def untouched_note(decision: Decision) -> str | None:
    """For the manifest: the face tracks a one-face render left as they were."""
    others = [t for t in decision.identity_tracks if not t.performer]
    if not others:
        return None
    spans = ", ".join(f"{t.start_s:.2f}-{t.end_s:.2f} s" for t in others)
    return f"{len(others)} other face track(s) left untouched ({spans})"


@dataclass(frozen=True)
class PerformerFilter:
    """Which faces of the render's frame stream are the performer's."""

    tracks: tuple[FaceTrack, ...]
    spans: tuple[tuple[int, int], ...]  # per track: the frames it may be altered in

    def _boxes(self, frame_index: int) -> list[FaceBox]:
        found = (t.box_at(frame_index, span=span)
                 for t, span in zip(self.tracks, self.spans, strict=True))
        return [b for b in found if b is not None]

    def candidates(self, frame_index: int, faces: list[Face]) -> list[Face]:
        boxes = self._boxes(frame_index)
        return [f for f in faces if any(f.box.iou(b) >= KEEP_IOU for b in boxes)]

    def keep(self, tracked: TrackedFace | None) -> TrackedFace | None:
        if tracked is None:
            return None
        boxes = self._boxes(tracked.frame_index)
        return tracked if any(tracked.face.box.iou(b) >= KEEP_IOU for b in boxes) else None


def performer_track(engine: FaceEngine, frames: Iterable[np.ndarray | None], *, fps: float,
                    faces: SourceFaces, decision: Decision,
                    known: Mapping[int, TrackedFace | None] | None = None,
                    found: Mapping[int, list[Face]] | None = None,
                    ) -> Iterator[TrackedFace | None]:
    """The frame-by-frame track of the performer's face only (None on every other frame),
    for the lip-sync and reenactment engines: another person's face is never altered.

    A None frame is one the render leaves alone (outside speech): it is not followed.
    ``known`` holds faces already followed in this very source (the footage bank's
    pass); they are reused instead of followed again when every track the gate judged
    is the performer's (the followed face can then only be hers), else ignored.
    ``found``: faces already detected on some frames (identity binding's), which the
    tracker takes as keyframes instead of detecting again."""
    only = faces.performer_filter(decision)
    tracker = FaceTracker(engine, fps=fps, candidates=only.candidates, known=found)
    reuse = known if known and all(t.performer for t in decision.identity_tracks) else {}
    pending: deque[tuple[int, bool]] = deque()  # per frame: its index, and whether wanted

    def live_frames() -> Iterator[np.ndarray | None]:
        for index, frame in enumerate(frames):
            pending.append((index, frame is not None))
            yield None if frame is None or index in reuse else frame

    for live in tracker.track(live_frames()):
        index, wanted = pending.popleft()
        if not wanted:
            yield None
        else:
            yield only.keep(reuse.get(index, live))


def _quality(image: np.ndarray, face: Face) -> float:
    """Laplacian variance of the face crop (sharpness) times how frontal it is."""
    b = face.box
    crop = image[max(0, b.top):max(0, b.bottom), max(0, b.left):max(0, b.right)]
    if crop.size == 0:
        return 0.0
    grey = cv2.cvtColor(cv2.resize(crop, (QUALITY_CROP_PX, QUALITY_CROP_PX)), cv2.COLOR_RGB2GRAY)
    sharpness = float(cv2.Laplacian(grey, cv2.CV_64F).var())
    left = face.landmarks[EYE_IMAGE_LEFT].mean(axis=0)
    right = face.landmarks[EYE_IMAGE_RIGHT].mean(axis=0)
    span = max(1e-6, float(np.linalg.norm(right - left)))
    off_centre = abs(float(face.landmarks[NOSE_TIP_INDEX, 0] - (left[0] + right[0]) / 2)) / span
    return math.log1p(sharpness) * max(0.0, 1.0 - off_centre)


def _look(image: np.ndarray, face: Face) -> np.ndarray:
    """The face as a small grey chip, rotated and scaled by the eyes, zero mean and unit
    norm: the dot product of two is their normalised correlation."""
    marks = face.landmarks
    left = marks[EYE_IMAGE_LEFT].mean(axis=0)
    right = marks[EYE_IMAGE_RIGHT].mean(axis=0)
    centre = (left + right) / 4 + marks[MOUTH].mean(axis=0) / 2
    dx, dy = (float(v) for v in right - left)
    eyes_px = max(1e-6, math.hypot(dx, dy))
    matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])),
                                     math.degrees(math.atan2(dy, dx)), LOOK_PX / (2.2 * eyes_px))
    matrix[:, 2] += LOOK_PX / 2 - centre
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    chip = cv2.warpAffine(grey, matrix, (LOOK_PX, LOOK_PX), flags=cv2.INTER_AREA)
    chip = chip.astype(np.float32).ravel()
    chip -= chip.mean()
    return chip / max(float(np.linalg.norm(chip)), 1e-6)


def _same_look(a: FaceSample, b: FaceSample) -> bool:
    return a.look is not None and b.look is not None and float(a.look @ b.look) >= LOOK_SAME


@dataclass(eq=False)
class _Track:
    """A track as the linker grows it: samples, and whether its embeddings disagreed."""

    track: FaceTrack
    unchecked: int = 0  # look-linked samples since the last embedded one
    suspect: bool = False  # two of its embeddings are different people: split it


class _Linker:
    """Groups the faces of successive samples into tracks (see the module doc)."""

    def __init__(self, engine: FaceEngine, rng: np.random.Generator,
                 worker: Executor | None = None) -> None:
        self.engine = engine
        self.rng = rng
        self.worker = worker  # embeds kept chips while the scan goes on (see `embed`)
        self._checks: list[tuple[_Track, FaceSample, FaceSample]] = []  # see `check_later`
        self.tracks: list[_Track] = []
        self.active: list[_Track] = []
        self.embeddings = 0
        self.detections = 0
        self._detected_grey: np.ndarray | None = None  # the last detected sample's picture
        self._since_detection = 0

    def faces_on(self, frame_index: int) -> list[Face]:
        """The faces the scan saw on that frame (none when it was not sampled)."""
        return [Face(box=last.box, landmarks=last.landmarks) for track in self.active
                if (last := track.track.last).frame_index == frame_index
                and last.landmarks is not None]

    def cut(self) -> None:
        self.active = []
        self._detected_grey = None

    def sample(self, image: np.ndarray, frame_index: int, time_s: float,
               grey: np.ndarray | None = None) -> None:
        """Add one sampled frame: re-fit the known faces when nothing can have appeared
        (see the module doc), else detect. ``grey``: the frame at `CHANGE_SIZE_PX`."""
        if grey is not None and self._may_skip(grey, image.shape):
            followed = self._refit(image, frame_index, time_s)
            if followed is not None:
                self._since_detection += 1
                for track, sample in followed:
                    self._continue(image, track, sample)
                return
        self.add(image, frame_index, time_s)
        self._detected_grey, self._since_detection = grey, 0

    def _may_skip(self, grey: np.ndarray, shape: tuple[int, ...]) -> bool:
        if (self._detected_grey is None or self._since_detection + 1 >= DETECT_EVERY_SAMPLES
                or not isinstance(self.engine, LandmarkRefiner)
                or self.rng.random() < DETECT_SHARE):
            return False
        changed = np.abs(grey.astype(np.int16) - self._detected_grey) > CHANGE_LEVEL
        scale_x, scale_y = grey.shape[1] / shape[1], grey.shape[0] / shape[0]
        for track in self.active:
            box = track.track.last.box
            pad_x, pad_y = FACE_MARGIN * box.width, FACE_MARGIN * box.height
            changed[max(0, math.floor((box.top - pad_y) * scale_y)):
                    max(0, math.ceil((box.bottom + BODY_MARGIN * box.height) * scale_y)),
                    max(0, math.floor((box.left - pad_x) * scale_x)):
                    max(0, math.ceil((box.right + pad_x) * scale_x))] = False
        return not bool(changed.any())

    def _refit(self, image: np.ndarray, frame_index: int,
               time_s: float) -> list[tuple[_Track, FaceSample]] | None:
        """Each known face re-fitted in its box (moved with its landmarks), or None when
        one no longer looks like itself (then the frame is detected)."""
        refiner = self.engine
        assert isinstance(refiner, LandmarkRefiner)
        followed = []
        for track in self.active:
            last = track.track.last
            assert last.landmarks is not None
            marks = np.asarray(refiner.landmarks_in_box(image, last.box), dtype=np.float32)
            dx, dy = (round(float(v)) for v in marks.mean(axis=0) - last.landmarks.mean(axis=0))
            box = FaceBox(last.box.left + dx, last.box.top + dy, last.box.right + dx,
                          last.box.bottom + dy, score=last.box.score)
            sample = self._sample(image, frame_index, time_s, Face(box=box, landmarks=marks))
            if not _same_look(sample, last):
                return None
            followed.append((track, sample))
        return followed

    def _continue(self, image: np.ndarray, track: _Track, sample: FaceSample) -> None:
        """Append a look-linked sample, embedding it at the random and forced checks."""
        track.unchecked += 1
        if track.unchecked >= MAX_UNCHECKED or self.rng.random() < CHECK_SHARE:
            last_embedded = track.track.embedded()[-1]
            self.embed(image, sample)
            track.unchecked = 0
            self.check_later(track, sample, last_embedded)
        track.track.samples.append(sample)

    def _sample(self, image: np.ndarray, frame_index: int, time_s: float,
                face: Face) -> FaceSample:
        chip = (self.engine.face_chip(image, face) if isinstance(self.engine, ChipEmbedder)
                else None)
        return FaceSample(frame_index, time_s, face.box, None, _quality(image, face),
                          look=_look(image, face), landmarks=face.landmarks, chip=chip)

    def embed(self, image: np.ndarray | None, sample: FaceSample) -> None:
        """Embed ``sample`` from its kept chip, else from ``image`` (its frame). A chip
        goes to the `worker` thread when there is one (dlib releases the GIL and lends
        each thread its own models): detection goes on meanwhile, and the vector is
        awaited only where a decision needs it (`vector`)."""
        if sample.chip is not None:
            engine = self.engine
            assert isinstance(engine, ChipEmbedder)
            if self.worker is not None:
                sample.pending = self.worker.submit(engine.embed_chip, sample.chip)
            else:
                sample.embedding = np.asarray(engine.embed_chip(sample.chip), np.float32)
        else:
            assert sample.landmarks is not None and image is not None
            sample.embedding = np.asarray(self.engine.embed(image, Face(
                box=sample.box, landmarks=sample.landmarks)), dtype=np.float32)
        sample.chip = None
        self.embeddings += 1

    def vector(self, sample: FaceSample) -> np.ndarray:
        """The sample's embedding, waiting for the worker's when it is still running."""
        if sample.pending is not None:
            sample.embedding = np.asarray(sample.pending.result(), dtype=np.float32)
            sample.pending = None
        assert sample.embedding is not None
        return sample.embedding

    def differ(self, a: FaceSample, b: FaceSample) -> bool:
        distance = self.engine.distance(self.vector(a), self.vector(b))
        return distance > self.engine.identity_threshold

    def check_later(self, track: _Track, sample: FaceSample, before: FaceSample) -> None:
        """A look-linked sample's seeded check against the track's last embedding: its
        answer only marks the track for splitting after the scan, so it is read then
        (`finish`) and the scan does not wait for the embedding."""
        self._checks.append((track, sample, before))

    def finish(self) -> None:
        """Every embedding in hand and every deferred check applied (before `_settle`)."""
        for track, sample, before in self._checks:
            track.suspect |= self.differ(sample, before)
        self._checks.clear()
        for grown in self.tracks:
            for sample in grown.track.samples:
                if sample.pending is not None:
                    self.vector(sample)

    def add(self, image: np.ndarray, frame_index: int, time_s: float) -> None:
        """Add one sampled frame, every face on it detected."""
        self.detections += 1
        samples = [self._sample(image, frame_index, time_s, face)
                   for face in self.engine.detect(image)]
        continuing: list[_Track] = []
        free = list(self.active)
        for sample in samples:
            match = self._match(image, sample, free)
            if match is None:
                self.embed(image, sample)  # every track starts from an embedded face
                match = _Track(FaceTrack(track_id=len(self.tracks)))
                self.tracks.append(match)
            else:
                free.remove(match)
            match.track.samples.append(sample)
            continuing.append(match)
        self.active = continuing

    def _match(self, image: np.ndarray, sample: FaceSample,
               free: list[_Track]) -> _Track | None:
        """The overlapping free track whose last face is the same person, if any."""
        overlapping = sorted((t for t in free if sample.box.iou(t.track.last.box) >= LINK_IOU),
                             key=lambda t: -sample.box.iou(t.track.last.box))
        for candidate in overlapping:
            last_embedded = candidate.track.embedded()[-1]
            if _same_look(sample, candidate.track.last):
                candidate.unchecked += 1
                if candidate.unchecked >= MAX_UNCHECKED or self.rng.random() < CHECK_SHARE:
                    self.embed(image, sample)
                    candidate.unchecked = 0
                    self.check_later(candidate, sample, last_embedded)
                return candidate
            if sample.embedding is None and sample.pending is None:
                self.embed(image, sample)
            if not self.differ(sample, last_embedded):
                candidate.unchecked = 0
                return candidate
        return None


def _strata_picks(frame_count: int, period: int, rng: np.random.Generator) -> set[int]:
    """One random frame in every ``period``-frame stratum (the last one may be short)."""
    picks = set()
    for start in range(0, max(1, frame_count), period):
        end = min(start + period, max(1, frame_count))
        picks.add(int(rng.integers(start, end)))
    return picks


@dataclass(frozen=True, eq=False)
class _Scanned:
    """One decoded frame as the scan's decoder thread prepared it (see `_scan`)."""

    lazy: LazyFrame
    cut: bool  # a scene cut just before this frame
    image: np.ndarray | None  # RGB, for a sampled frame or one the sink still wants
    change: np.ndarray | None  # a sampled frame's grey picture at `CHANGE_SIZE_PX`

    @property
    def index(self) -> int:
        return self.lazy.index


def _scan(frames: Iterator[LazyFrame], picks: set[int],
          feeding: list[bool]) -> Iterator[_Scanned]:
    """Each frame's scene-cut test and conversions, made in the decoder's thread (a
    `prefetch` producer) so they overlap with detection and embedding in the scan's.

    A cut adds the sample a few frames into the new scene to ``picks`` (only this
    thread reads them). A frame is converted to RGB when sampled or while
    ``feeding[0]`` (the sink still wants frames); the others only to a thumbnail."""
    previous: np.ndarray | None = None
    for frame in frames:
        thumb = frame.grey(THUMB_SIZE_PX).astype(np.float32)
        cut = previous is not None and float(np.abs(thumb - previous).mean()) > \
            DEFAULT_SCENE_CUT_LEVEL
        if cut:
            picks.add(frame.index + CUT_SAMPLE_DELAY_FRAMES)
        previous = thumb
        sampled = frame.index in picks
        image = frame.rgb() if sampled or feeding[0] else None
        yield _Scanned(frame, cut, image, frame.grey(CHANGE_SIZE_PX) if sampled else None)


def find_faces(engine: FaceEngine, path: Path, *, seed: int | None = None,
               what: str | None = None,
               each_frame: Callable[[int, np.ndarray, list[Face]], bool] | None = None,
               ) -> SourceFaces:
    """Scan ``path`` (a video or an image) for every face track (see the module doc).

    ``each_frame`` (the footage lip-sync bank's `FrameSink`) is handed every decoded
    frame in order (its index, RGB, the faces this scan found on it) until it says
    False: the bank is then built from this decode instead of a second one."""
    source = what or str(path)
    rng = np.random.default_rng(secrets.randbits(64) if seed is None else seed)
    linker = _Linker(engine, rng)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        linker.add(load_image(path), 0, 0.0)
        return _found(linker, source=source, sampled=1, cuts=0, fps=1.0)
    if not isinstance(engine, ChipEmbedder):
        return _scan_video(linker, path, source=source, each_frame=each_frame)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="likeness-embed") as worker:
        linker.worker = worker
        return _scan_video(linker, path, source=source, each_frame=each_frame)


def _scan_video(linker: _Linker, path: Path, *, source: str,
                each_frame: Callable[[int, np.ndarray, list[Face]], bool] | None,
                ) -> SourceFaces:
    rng = linker.rng
    info = probe(path)
    video = info.require_video()
    fps = video.avg_fps
    frame_count = max(1, video.frame_count or round((video.duration_s or 0.0) * fps))
    period = max(1, round(SAMPLE_PERIOD_S * fps), math.ceil(frame_count / MAX_SAMPLES))
    picks = _strata_picks(frame_count, period, rng)
    cuts = sampled = 0
    seen: list[int] = []
    last: _Scanned | None = None
    feeding = [each_frame is not None]  # cleared when the sink has all it wants
    scanned = _scan(iter_lazy_frames(path, info=info, cfr_fps=fps), picks, feeding)
    for frame in prefetch(scanned, name="likeness-identity-decode"):  # decoding overlaps
        last = frame
        if frame.cut:
            cuts += 1
            linker.cut()
        if frame.change is not None:
            assert frame.image is not None
            sampled += 1
            seen.append(frame.index)
            linker.sample(frame.image, frame.index, frame.index / fps, grey=frame.change)
        if each_frame is not None and frame.image is not None and not each_frame(
                frame.index, frame.image, linker.faces_on(frame.index)):
            each_frame, feeding[0] = None, False  # the sink has all the frames it wants
    if sampled == 0 and last is not None:  # frame count overstated: sample the last frame
        sampled = 1
        seen.append(last.index)
        linker.add(last.lazy.rgb(), last.index, last.index / fps)
    linker.finish()
    _settle(linker, path, info=info, fps=fps)
    return _found(linker, source=source, sampled=sampled, cuts=cuts, fps=fps,
                  first=seen[0] if seen else 0, last=seen[-1] if seen else 0)


def _settle(linker: _Linker, path: Path, *, info: MediaInfo, fps: float) -> None:
    """Split the suspect tracks where the person changes and embed every track's
    representatives, in as few extra decode passes as that takes (usually one)."""
    while True:
        suspects = [t for t in linker.tracks if t.suspect]
        if suspects:  # every face of theirs, then the exact splits
            _embed_later(linker, path, [s for t in suspects for s in t.track.samples],
                         info=info, fps=fps)
            for grown in suspects:
                linker.tracks.remove(grown)
                linker.tracks.extend(_split(linker, grown.track))
            continue
        pending = [s for t in linker.tracks for s in t.track.chosen() if s.embedding is None]
        if not pending:
            return
        _embed_later(linker, path, pending, info=info, fps=fps)
        for grown in linker.tracks:  # a representative may show a change the look missed
            embedded = grown.track.embedded()
            grown.suspect = any(linker.differ(a, b) for a, b in itertools.pairwise(embedded))


def _embed_later(linker: _Linker, path: Path, samples: list[FaceSample], *,
                 info: MediaInfo, fps: float) -> None:
    """Embed ``samples``: from their kept chips, and the others in one decode pass that
    converts only their frames."""
    wanted: dict[int, list[FaceSample]] = {}
    for sample in samples:
        if sample.embedding is not None or sample.pending is not None:
            continue
        if sample.chip is not None:
            linker.embed(None, sample)
        else:
            wanted.setdefault(sample.frame_index, []).append(sample)
    for sample in samples:
        if sample.pending is not None:
            linker.vector(sample)
    if not wanted:
        return
    decoded = iter_lazy_frames(path, info=info, cfr_fps=fps)
    for frame in prefetch(decoded, name="likeness-identity-decode"):
        here = wanted.pop(frame.index, None)
        if here:
            image = frame.rgb()
            for sample in here:
                linker.embed(image, sample)
        if not wanted:
            break
    if wanted:  # the scan saw these frames: a second decode must too
        raise BadInput(f"frames {sorted(wanted)[:3]} of {path} could not be decoded again")


def _split(linker: _Linker, track: FaceTrack) -> list[_Track]:
    """A fully embedded track cut wherever a face is not the person of the one before."""
    parts = [_Track(FaceTrack(track_id=-1, samples=[track.samples[0]]))]
    for sample in track.samples[1:]:
        if linker.differ(sample, parts[-1].track.last):
            parts.append(_Track(FaceTrack(track_id=-1)))
        parts[-1].track.samples.append(sample)
    return parts


def _found(linker: _Linker, *, source: str, sampled: int, cuts: int, fps: float,
           first: int = 0, last: int = 0) -> SourceFaces:
    if not linker.tracks:
        raise BadInput(f"no face found in {source}",
                       hint="the source must show the performer's face")
    ordered = sorted((t.track for t in linker.tracks),
                     key=lambda t: (t.first.frame_index, t.first.box.left))
    for sample in (s for t in ordered for s in t.samples):
        sample.chip = None  # the chips served the scan only; a render keeps the tracks
    for number, track in enumerate(ordered):  # numbered by first appearance, left to right
        track.track_id = number
    return SourceFaces(source=source, tracks=tuple(ordered), sampled_frames=sampled,
                       scene_cuts=cuts, fps=fps, first_sampled=first, last_sampled=last,
                       detected_frames=linker.detections, embedded_faces=linker.embeddings)


def sample_frames(path: Path, *, count: int) -> list[np.ndarray]:
    """``count`` frames spread evenly over a video (or the image itself): a quick look
    for a face where no identity is decided (the reenactment driver)."""
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return [load_image(path)]
    info = probe(path)
    duration = info.require_video().duration_s or 0.0
    times = [float(t) for t in np.linspace(0.0, max(0.0, duration - 0.1), num=count)]
    return frames_at(path, times, info=info)


def performer_face(engine: FaceEngine, image: np.ndarray, *, faces: SourceFaces,
                   decision: Decision) -> Face:
    """The performer's face in a still image source (the gate judged one track per face)."""
    mine = faces.performer_filter(decision).candidates(0, engine.detect(image))
    if not mine:
        raise BadInput(f"the performer's face was not found again in {faces.source}")
    return mine[0]
