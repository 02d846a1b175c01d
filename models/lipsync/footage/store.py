"""Build a performer's mouth bank from a video file once, and find it again by content.

The bank of a footage file depends only on its bytes, so it is cached by the file's
SHA-256. It is biometric data, so it lives under the performer's own folder of the
studio cache, ``<cache_dir>/performers/<performer>/footage-banks/<sha256>.npz``, where
erasing the performer (or the grant that needed it) deletes it with
`forget_performer_banks`. Without a performer id nothing is written to disk.

`bank_from_video` is the one door for every flow: a dub passes its source video, an
avatar its performer's reel.
"""

from __future__ import annotations

import itertools
import logging
import shutil
from pathlib import Path

import cv2

from likeness.errors import BadInput
from media.decode import iter_frames
from media.digest import sha256_file
from media.probe import probe
from models.face.base import FaceEngine
from models.face.tracking import FaceTracker, SourceTracks, TrackedFace, scaled_face
from models.lipsync.footage.bank import MouthBank, build_bank

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
