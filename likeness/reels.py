"""Avatar reels: a performer's own footage, kept as biometric data in the studio home.

A reel (the performer talking and idling, 30 s to 3 min) is what `likeness avatar`
re-times under new speech. It is biometric data, so it lives in one folder per
performer, ``<home>/performers/<performer_id>/`` (0700, the file 0600): erasing a
performer's likeness is deleting that folder. The registry keeps its SHA-256, taken
while the bytes are copied in, so a file swapped later is refused at render time.

The reel is identity-checked on the stored copy (the bytes that will be used), against
the performer's registered reference faces, with the studio's identity threshold.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from consent.identity import match_identity
from likeness.errors import BadInput
from models.registry import EnginePolicy

# Production reels last 30 s to 3 min (enough idle and talking footage to re-time
# without visible repeats, short enough to review). Tests lower REEL_MIN_SECONDS
# (monkeypatch) to keep their media tiny; nothing else should.
REEL_MIN_SECONDS = 30.0
REEL_MAX_SECONDS = 180.0
REEL_FACE_SHARE_MIN = 0.5  # the performer must be on screen in most of the reel
LIKENESS_DIR = "performers"  # per-performer biometric folders, erased with the performer
COPY_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class ReelMedia:
    """What a reel is, as the registry records it."""

    duration_s: float
    width: int
    height: int


def performer_dir(home: Path, performer_id: str) -> Path:
    """The one folder that holds a performer's biometric files."""
    return home / LIKENESS_DIR / performer_id


def check_reel_media(path: Path) -> ReelMedia:
    """A reel must be a readable video of the allowed length (before anything is copied)."""
    from media.probe import probe

    if not path.is_file():
        raise BadInput(f"cannot read reel {path}: no such file")
    video = probe(path).require_video()
    duration = float(video.duration_s or 0.0)
    if not REEL_MIN_SECONDS <= duration <= REEL_MAX_SECONDS:
        raise BadInput(f"reel {path.name} lasts {duration:.1f} s; an avatar reel lasts "
                       f"{REEL_MIN_SECONDS:g} s to {REEL_MAX_SECONDS:g} s",
                       hint="record the performer talking and idling, facing the camera")
    return ReelMedia(duration_s=round(duration, 3), width=int(video.width),
                     height=int(video.height))


def check_reel_identity(path: Path, *, references: Sequence[np.ndarray], engine_name: str,
                        models_dir: Path, policy: EnginePolicy,
                        threshold: float) -> None:
    """Every face sampled from the reel must be the performer's, and the performer must
    be on screen in most samples (a reel of someone else, or of an empty room, is refused)."""
    from flows.faces import find_faces
    from models import registry

    engine = registry.get("face", engine_name, models_dir=models_dir, policy=policy)
    faces = find_faces(engine, path)
    seen = sum(len(track.samples) for track in faces.tracks)
    needed = max(1, int(np.ceil(REEL_FACE_SHARE_MIN * faces.sampled_frames)))
    if seen < needed:
        raise BadInput(f"reel {path.name}: a face was found in {seen} of "
                       f"{faces.sampled_frames} sampled frames",
                       hint="the performer must be on screen throughout")
    # every face track of the reel becomes the avatar: each must be the performer's
    match = match_identity(faces.evidence(), references, threshold=threshold,
                           engine=engine_name, scope="every_face")
    if not match.matched:
        raise BadInput(f"reel {path.name} does not show this performer: {match.reason}",
                       hint="register a reel of the performer whose reference faces you gave")


def store_reel(source: Path, folder: Path) -> tuple[Path, str]:
    """Copy ``source`` into ``folder`` (0700) as a new 0600 file, hashing the bytes copied.

    The name carries the hash's start, so a replacement never overwrites the reel in
    use; a failure leaves no partial file."""
    for private in (folder.parent, folder):  # neither lists performers to other users
        private.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(private, 0o700)
    digest = hashlib.sha256()
    staging = folder / f".incoming-{os.getpid()}{source.suffix.lower()}"
    try:
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as dst, open(source, "rb") as src:
            while chunk := src.read(COPY_CHUNK_BYTES):
                digest.update(chunk)
                dst.write(chunk)
            dst.flush()
            os.fsync(dst.fileno())
        sha256 = digest.hexdigest()
        final = folder / f"reel-{sha256[:16]}{source.suffix.lower()}"
        if final.exists():  # the same bytes are already stored
            staging.unlink()
        else:
            os.link(staging, final)  # no rename: the name appears once, complete
            staging.unlink()
        return final, sha256
    except OSError as exc:
        with suppress(OSError):
            staging.unlink()
        raise BadInput(f"cannot store reel {source.name} in {folder}: "
                       f"{exc.strerror or exc}") from None


def discard(path: Path) -> None:
    """Remove a stored reel (and the performer's folder once it is empty)."""
    with suppress(OSError):
        path.unlink()
    with suppress(OSError):
        path.parent.rmdir()
