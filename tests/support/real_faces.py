"""Photographs of real people for identity-binding calibration and tests, fetched
from the source distributions that ship them (never stored in this repository).

- face_recognition 1.3.0 (PyPI sdist, MIT licence, Adam Geitgey): tests/test_images/
  holds five photographs of Barack Obama (two of them cropped to part of the face)
  and one of Joe Biden, press/official photographs of public figures.
- insightface 2.1 (PyPI sdist, MIT licence for the code): insightface/data/images/
  holds t1.jpg (a group photograph; dlib finds four faces) and Tom_Hanks_54745.png.

The images' own licences are not stated by either package, so they are downloaded
(pinned by SHA-256) into a cache outside the repository at test set-up, used only to
measure and to test the identity check, and never put into outputs or the demo.
The demo must not put words in a real person's mouth.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

from tests.support.cache_lock import exclusive

CACHE_DIR = Path(os.environ.get("LIKENESS_REAL_FACES_DIR",
                                Path.home() / ".cache" / "likeness-real-faces"))


@dataclass(frozen=True)
class Sdist:
    requirement: str
    filename: str
    sha256: str
    members: dict[str, str]  # path inside the archive -> label "identity/name"


SDISTS = (
    Sdist("face_recognition==1.3.0", "face_recognition-1.3.0.tar.gz",
          "5e5efdd1686aa566af0d3cc1313b131e4b197657a8ffd03669e6d3fad92705ec",
          {f"face_recognition-1.3.0/tests/test_images/{name}.jpg": f"obama/{name}"
           for name in ("obama", "obama2", "obama3", "obama_partial_face",
                        "obama_partial_face2")}
          | {"face_recognition-1.3.0/tests/test_images/biden.jpg": "biden/biden"}),
    Sdist("insightface==2.1", "insightface-2.1.tar.gz",
          "776cbd36b70f5f2ae1a026101cfb80387f0b2280a0dbaf073f8d3ed69f554e01",
          {"insightface-2.1/insightface/data/images/t1.jpg": "group/t1",
           "insightface-2.1/insightface/data/images/Tom_Hanks_54745.png": "hanks/Tom_Hanks"}),
)


class RealFacesUnavailable(RuntimeError):
    """The packages could not be fetched (offline) or did not match their pinned hash."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fetch(sdist: Sdist, into: Path) -> Path:
    archive = into / sdist.filename
    if not archive.exists():
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--no-binary", ":all:", sdist.requirement,
             "-d", str(into)], capture_output=True, text=True, timeout=300)
        if done.returncode != 0 or not archive.exists():
            raise RealFacesUnavailable(f"pip download {sdist.requirement} failed: "
                                       f"{(done.stderr or done.stdout).strip()[-300:]}")
    if _sha256(archive) != sdist.sha256:
        archive.unlink()
        raise RealFacesUnavailable(f"{sdist.filename} does not match its pinned SHA-256")
    return archive


def _extract(sdist: Sdist, archive: Path, wanted: dict[str, Path]) -> None:
    with tarfile.open(archive) as tar:
        for member, label in sdist.members.items():
            source = tar.extractfile(member)
            if source is None:
                raise RealFacesUnavailable(f"{member} missing from {sdist.filename}")
            wanted[label].parent.mkdir(parents=True, exist_ok=True)
            wanted[label].write_bytes(source.read())


def real_faces(cache: Path = CACHE_DIR) -> dict[str, Path]:
    """label ("identity/name") -> image path; fetched once, then read from the cache."""
    images = cache / "images"
    found: dict[str, Path] = {}
    for sdist in SDISTS:
        wanted = {label: images / f"{label}{Path(member).suffix}"
                  for member, label in sdist.members.items()}
        if not all(p.exists() for p in wanted.values()):
            with exclusive(cache):
                if not all(p.exists() for p in wanted.values()):
                    _extract(sdist, _fetch(sdist, cache), wanted)
        found.update(wanted)
    return found
