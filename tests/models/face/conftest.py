"""Fixtures for the face engine tests: the shipped portraits and one engine per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.support.faces import FACES_DIR, PORTRAIT_NAMES


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    return FACES_DIR


@pytest.fixture(scope="session")
def portraits() -> dict[str, np.ndarray]:
    from models.face import load_image

    return {name: load_image(FACES_DIR / f"{name}.png") for name in PORTRAIT_NAMES}


@pytest.fixture(scope="session")
def dlib_engine():  # type: ignore[no-untyped-def]
    from tests.support.engines import engine

    return engine("face", "dlib")
