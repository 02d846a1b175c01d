"""Build a performer's mouth bank from a video file once, and find it again by content.

The bank of a footage file depends only on its bytes, so it is cached by the file's
SHA-256. It is biometric data, so it lives under the performer's own folder of the
studio cache, ``<cache_dir>/performers/<performer>/footage-banks/<sha256>.npz``, where
erasing the performer (or the grant that needed it) deletes it with
`forget_performer_banks`. Without a performer id nothing is written to disk.

`bank_from_video` is the one door for every flow: a dub passes its source video, an
avatar its performer's reel. Where another pass decodes the same video anyway (a dub's
identity scan), a `BankFeed` takes its frames and the faces it found instead, so the
first minute of the source is not decoded a second time for the bank.
"""

from __future__ import annotations

import itertools
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from likeness.errors import BadInput
from media.decode import iter_frames
from media.digest import sha256_file
from media.probe import probe
from models.face.base import Face, FaceEngine
from models.face.tracking import FaceTracker, SourceTracks, TrackedFace, scaled_face
from models.lipsync.footage.bank import BankCollector, MouthBank, build_bank

LOG = logging.getLogger(__name__)

BANK_FOLDER = "footage-banks"
MAX_BANK_SECONDS = 60.0  # more footage than this adds little variety for its cost
# Faces are followed on frames scaled to this width (detection and flow cost ~4x less
# at 720p); crops are still cut from the full frames.
TRACK_WIDTH_PX = 640


def _scaled(tracked: TrackedFace | None, factor: float) -> TrackedFace | None:
    """A face tracked on a reduced frame, in the full frame's pixels."""
    if tracked is None or factor == 1.0:
        return tracked
    return TrackedFace(tracked.frame_index, scaled_face(tracked.face, factor),
                       tracked.is_keyframe)


def performer_bank_dir(cache_dir: Path, performer: str) -> Path:
    """Where one performer's banks live (delete this folder to erase them)."""
    if not performer or "/" in performer or "\\" in performer or performer in {".", ".."}:
        raise BadInput(f"invalid performer id for the footage bank: {performer!r}")
    return Path(cache_dir) / "performers" / performer / BANK_FOLDER


def bank_path(cache_dir: Path, performer: str, footage_sha256: str) -> Path:
    return performer_bank_dir(cache_dir, performer) / f"{footage_sha256}.npz"


def forget_performer_banks(cache_dir: Path, performer: str) -> bool:
    """Delete every bank of `performer`; True when there was one."""
    folder = performer_bank_dir(cache_dir, performer)
    if not folder.exists():
        return False
    shutil.rmtree(folder)
    return True


def bank_from_video(path: Path, *, face_engine: FaceEngine, cache_dir: Path | None = None,
                    performer: str | None = None, max_seconds: float = MAX_BANK_SECONDS,
                    tracks: SourceTracks | None = None) -> MouthBank:
    """The mouth bank of the video at `path` (cached when a performer and cache are given).

    ``tracks``: the faces identity binding already found in the video (free keyframes),
    and where the faces followed to build the bank are kept (by the video's SHA-256, in
    full-frame pixels), so the render of the same video reads them instead of following
    the face a second time."""
    video = Path(path)
    cached: Path | None = None
    digest = sha256_file(video) if tracks is not None or (cache_dir is not None and performer) \
        else ""
    if cache_dir is not None and performer:
        cached = bank_path(cache_dir, performer, digest)
        bank = MouthBank.load(cached) if cached.exists() else None
        if bank is not None:
            LOG.debug("footage bank: %d entries from the cache %s", bank.size, cached)
            return bank
    info = probe(video, what="footage")
    fps = info.require_video().avg_fps
    limit = int(max_seconds * fps)
    decoded = (frame.rgb for frame in itertools.islice(
        iter_frames(video, info=info, cfr_fps=fps), limit))
    to_bank, to_track = itertools.tee(decoded)  # in lockstep: one frame buffered
    scale = min(1.0, TRACK_WIDTH_PX / max(1, info.require_video().display_size[0]))
    small = (cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
             if scale < 1.0 else frame for frame in to_track)
    known = tracks.found_in(digest, scale=scale) if tracks is not None else None
    track = FaceTracker(face_engine, fps=fps, known=known).track(small)
    full = (_scaled(tracked, 1.0 / scale) for tracked in track)
    bank = build_bank(to_bank, full if tracks is None else tracks.recording(digest, full))
    if cached is not None:
        bank.save(cached)
    return bank


class BankFeed:
    """Builds a bank from the frames another decode pass of the footage hands over.

    The pass calls `add` with every frame in order (its index, RGB at full size, at the
    rate `bank_from_video` would decode: the probed average) and the faces it found on
    it, if any (free keyframes for the tracker, as ``tracks.found_in`` are there); `add`
    says False once it needs no more frames. A frame out of order (a retried pass)
    spoils the feed (`spoiled`): the bank is then decoded as `bank_from_video` does.
    The faces followed are kept in ``tracks`` under ``digest`` as there."""

    def __init__(self, *, face_engine: FaceEngine, fps: float, frame_width: int,
                 max_seconds: float = MAX_BANK_SECONDS, tracks: SourceTracks | None = None,
                 digest: str = "") -> None:
        self.scale = min(1.0, TRACK_WIDTH_PX / max(1, frame_width))
        self.limit = int(max_seconds * fps)
        self._known: dict[int, list[Face]] = {}
        self._slot: list[np.ndarray] = []
        followed = (_scaled(tracked, 1.0 / self.scale) for tracked in FaceTracker(
            face_engine, fps=fps, known=self._known).track(self._pending()))
        self._track: Iterator[TrackedFace | None] = (
            followed if tracks is None else tracks.recording(digest, followed))
        self._collector = BankCollector()
        self.spoiled = False

    @property
    def frames(self) -> int:
        return self._collector.seen

    def _pending(self) -> Iterator[np.ndarray]:
        while self._slot:  # exactly one frame waits whenever the tracker asks
            yield self._slot.pop()

    def add(self, index: int, frame: np.ndarray, faces: list[Face]) -> bool:
        """Take the next frame and the faces found on it; False once the bank has enough."""
        if index != self.frames:
            self.spoiled = True
        if self.spoiled or self.frames >= self.limit:
            return False
        if faces:
            self._known[self.frames] = [scaled_face(face, self.scale) for face in faces]
        self._slot.append(cv2.resize(frame, None, fx=self.scale, fy=self.scale,
                                     interpolation=cv2.INTER_AREA)
                          if self.scale < 1.0 else frame)
        self._collector.add(frame, next(self._track))
        return self.frames < self.limit

    def bank(self) -> MouthBank:
        return self._collector.bank()


def bank_from_feed(feed: BankFeed, *, cache_dir: Path | None = None,
                   performer: str | None = None, digest: str = "") -> MouthBank:
    """The bank `feed` was handed the frames of, cached as `bank_from_video` caches it."""
    bank = feed.bank()
    if cache_dir is not None and performer and digest:
        bank.save(bank_path(cache_dir, performer, digest))
    return bank


def cached_bank(path: Path, *, cache_dir: Path | None, performer: str | None) -> bool:
    """Whether the bank of the video at `path` is already in the performer's cache."""
    if cache_dir is None or not performer:
        return False
    return bank_path(cache_dir, performer, sha256_file(Path(path))).exists()
