"""One process at a time fills a shared test cache (``~/.cache``): pytest-xdist runs
test files in two worker processes, and two of them downloading the same wheel or
npm package into one folder at once would leave a torn file for both."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def exclusive(folder: Path) -> Iterator[None]:
    """Hold ``folder``'s lock file (created with the folder) until the block ends."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".likeness-lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
