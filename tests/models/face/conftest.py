"""Fixtures for the face engine tests: the shipped portraits and one engine per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

FACES_DIR = Path(__file__).resolve().parents[3] / "assets" / "faces"
PORTRAIT_NAMES = ("male01", "male02", "male04", "female01", "female02", "female03")
BACKGROUND_RGB = (200, 205, 210)


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    return FACES_DIR


@pytest.fixture(scope="session")
def portraits() -> dict[str, np.ndarray]:
    from models.face import load_image

    return {name: load_image(FACES_DIR / f"{name}.png") for name in PORTRAIT_NAMES}


@pytest.fixture(scope="session")
def dlib_engine():  # type: ignore[no-untyped-def]
    from models.face import get_face_engine

    return get_face_engine("dlib")


def canvas(height: int, width: int) -> np.ndarray:
    """A flat background the colour of the portraits' own, so pasted edges vanish."""
    out = np.empty((height, width, 3), dtype=np.uint8)
    out[:] = BACKGROUND_RGB
    return out
