"""Constants and helpers for the face engine tests (not in conftest.py: every
conftest shares one module name, so importing from it picks the wrong one)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

FACES_DIR = Path(__file__).resolve().parents[2] / "assets" / "faces"
PORTRAIT_NAMES = ("male01", "male02", "male04", "female01", "female02", "female03")
BACKGROUND_RGB = (200, 205, 210)


def canvas(height: int, width: int) -> np.ndarray:
    """A flat background the colour of the portraits' own, so pasted edges vanish."""
    out = np.empty((height, width, 3), dtype=np.uint8)
    out[:] = BACKGROUND_RGB
    return out
