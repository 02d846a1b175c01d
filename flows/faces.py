"""Identity binding input: every face in the source, followed as tracks.

A splice that shows the performer at a few predictable instants and someone else the
rest of the time must not pass, nor a second, smaller face. So the whole video is
scanned once: one frame is sampled at a random offset inside every
``SAMPLE_PERIOD_S`` stratum (a fresh seed per run, so the instants cannot be
predicted), plus one a few frames into every scene cut (a cut to another person is
always looked at). Every face on a sampled frame is embedded and linked to the
track of the previous sample when it overlaps it and looks like the same person;
a scene cut ends every track. Each track hands the gate a few well-spaced, sharp,
frontal embeddings; the gate decides per track (consent.identity).

For renders that alter one face, `performer_track` restricts the frame-by-frame
face tracker to the tracks the gate found to be the performer's: every other face
is left untouched. No face anywhere is bad input (exit 2), not a consent question.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from consent.models import Decision, FaceTrackEvidence
from likeness.errors import BadInput
from media.decode import frames_at, iter_frames
from media.probe import probe
from models.face import Face, FaceBox, FaceEngine, load_image
from models.face.landmarks import EYE_IMAGE_LEFT, EYE_IMAGE_RIGHT
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


@dataclass(frozen=True, eq=False)
class FaceSample:
    """One face on one sampled frame (the embedding an array: Prefect does not walk it)."""

    frame_index: int
    time_s: float
    box: FaceBox
    embedding: np.ndarray
    quality: float  # sharpness x frontality: which frames represent the track


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

    def evidence(self) -> FaceTrackEvidence:
        return FaceTrackEvidence(
            track_id=self.track_id, start_s=round(self.first.time_s, 3),
            end_s=round(self.last.time_s, 3), samples=len(self.samples),
            embeddings=tuple(tuple(float(x) for x in s.embedding) for s in self.chosen()))

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

    def evidence(self) -> tuple[FaceTrackEvidence, ...]:
        return tuple(t.evidence() for t in self.tracks)

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


def performer_track(engine: FaceEngine, frames: Iterable[np.ndarray], *, fps: float,
                    faces: SourceFaces, decision: Decision) -> Iterator[TrackedFace | None]:
    """The frame-by-frame track of the performer's face only (None on every other frame),
    for the lip-sync and reenactment engines: another person's face is never altered."""
    only = faces.performer_filter(decision)
    tracker = FaceTracker(engine, fps=fps, candidates=only.candidates)
    for tracked in tracker.track(frames):
        yield only.keep(tracked)


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


class _Linker:
    """Groups the faces of successive samples into tracks."""

    def __init__(self, engine: FaceEngine) -> None:
        self.engine = engine
        self.tracks: list[FaceTrack] = []
        self.active: list[FaceTrack] = []

    def cut(self) -> None:
        self.active = []

    def add(self, image: np.ndarray, frame_index: int, time_s: float) -> None:
        faces = self.engine.detect(image)
        samples = []
        for face in faces:
            vec = np.asarray(self.engine.embed(image, face), dtype=np.float32)
            samples.append(FaceSample(frame_index, time_s, face.box, vec,
                                      _quality(image, face)))
        continuing: list[FaceTrack] = []
        free = list(self.active)
        for sample in samples:
            match = self._match(sample, free)
            if match is None:
                match = FaceTrack(track_id=len(self.tracks))
                self.tracks.append(match)
            else:
                free.remove(match)
            match.samples.append(sample)
            continuing.append(match)
        self.active = continuing

    def _match(self, sample: FaceSample, free: list[FaceTrack]) -> FaceTrack | None:
        """The overlapping free track whose last face is the same person, if any."""
        best: tuple[float, FaceTrack] | None = None
        for track in free:
            overlap = sample.box.iou(track.last.box)
            if overlap < LINK_IOU:
                continue
            d = self.engine.distance(sample.embedding, track.last.embedding)
            if d <= self.engine.identity_threshold and (best is None or overlap > best[0]):
                best = (overlap, track)
        return best[1] if best else None


def _strata_picks(frame_count: int, period: int, rng: np.random.Generator) -> set[int]:
    """One random frame in every ``period``-frame stratum (the last one may be short)."""
    picks = set()
    for start in range(0, max(1, frame_count), period):
        end = min(start + period, max(1, frame_count))
        picks.add(int(rng.integers(start, end)))
    return picks


def _thumb(rgb: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return cv2.resize(grey, THUMB_SIZE_PX, interpolation=cv2.INTER_AREA).astype(np.float32)


def find_faces(engine: FaceEngine, path: Path, *, seed: int | None = None,
               what: str | None = None) -> SourceFaces:
    """Scan ``path`` (a video or an image) for every face track (see the module doc)."""
    source = what or str(path)
    linker = _Linker(engine)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        linker.add(load_image(path), 0, 0.0)
        return _found(linker, source=source, sampled=1, cuts=0, fps=1.0)
    info = probe(path)
    video = info.require_video()
    fps = video.avg_fps
    frame_count = max(1, video.frame_count or round((video.duration_s or 0.0) * fps))
    period = max(1, round(SAMPLE_PERIOD_S * fps), math.ceil(frame_count / MAX_SAMPLES))
    rng = np.random.default_rng(secrets.randbits(64) if seed is None else seed)
    picks = _strata_picks(frame_count, period, rng)
    previous: np.ndarray | None = None
    cuts = sampled = 0
    seen: list[int] = []
    last: tuple[int, np.ndarray] | None = None
    for frame in iter_frames(path, info=info, cfr_fps=fps):
        last = (frame.index, frame.rgb)
        thumb = _thumb(frame.rgb)
        if previous is not None and float(np.abs(thumb - previous).mean()) > \
                DEFAULT_SCENE_CUT_LEVEL:
            cuts += 1
            linker.cut()
            picks.add(frame.index + CUT_SAMPLE_DELAY_FRAMES)
        previous = thumb
        if frame.index in picks:
            sampled += 1
            seen.append(frame.index)
            linker.add(frame.rgb, frame.index, frame.index / fps)
    if sampled == 0 and last is not None:  # frame count overstated: sample the last frame
        sampled = 1
        seen.append(last[0])
        linker.add(last[1], last[0], last[0] / fps)
    return _found(linker, source=source, sampled=sampled, cuts=cuts, fps=fps,
                  first=seen[0] if seen else 0, last=seen[-1] if seen else 0)


def _found(linker: _Linker, *, source: str, sampled: int, cuts: int, fps: float,
           first: int = 0, last: int = 0) -> SourceFaces:
    if not linker.tracks:
        raise BadInput(f"no face found in {source}",
                       hint="the source must show the performer's face")
    ordered = sorted(linker.tracks, key=lambda t: (t.first.frame_index, t.first.box.left))
    for number, track in enumerate(ordered):  # numbered by first appearance, left to right
        track.track_id = number
    return SourceFaces(source=source, tracks=tuple(ordered), sampled_frames=sampled,
                       scene_cuts=cuts, fps=fps, first_sampled=first, last_sampled=last)


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
