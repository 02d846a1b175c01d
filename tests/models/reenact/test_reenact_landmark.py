"""Landmark reenactment: a generated driver (mouth, blinks, roll) drives another portrait."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

from likeness.errors import BadInput
from models import registry
from models.face.tracking import FaceTracker, TrackedFace
from models.face.warp import crop_box, ring_points
from models.reenact.landmark import LandmarkReenactor, ReenactSettings
from models.registry import EnginePolicy
from tests.support.engines import NO_MODELS_DIR, engine
from tests.support.synthetic_faces import (
    drift_clip,
    expression_clip,
    expression_program,
    eye_aperture,
    mouth_opening,
)

FACES_DIR = Path(__file__).resolve().parents[3] / "assets" / "faces"
FPS = 25.0
DRIVER_FRAMES = 40


@functools.cache
def _engine():  # type: ignore[no-untyped-def]
    return engine("face", "dlib")


@functools.cache
def _portrait(name: str) -> np.ndarray:
    from models.face import load_image

    return load_image(FACES_DIR / f"{name}.png")


@pytest.fixture(scope="module")
def driver():  # type: ignore[no-untyped-def]
    image = _portrait("male01")
    program = expression_program(DRIVER_FRAMES, fps=FPS, seed=3)
    frames, _ = expression_clip(image, _engine().detect(image)[0].landmarks, program)
    track = list(FaceTracker(_engine(), fps=FPS).track(frames))
    assert all(t is not None for t in track)
    return program, frames, track


@pytest.fixture(scope="module")
def target():  # type: ignore[no-untyped-def]
    frame = drift_clip(_portrait("female01"), frame_count=1, fps=FPS)[0]
    return frame, _engine().detect(frame)[0]


def test_image_target_follows_driver_and_keeps_identity(driver, target) -> None:  # type: ignore[no-untyped-def]
    program, frames, track = driver
    image, face = target
    reenactor = engine("reenact")
    out = list(reenactor.render(image, face, frames, track, fps=FPS))
    assert len(out) == DRIVER_FRAMES  # an image target lasts as long as the driver
    dlib = _engine()
    found = [dlib.detect(o) for o in out]
    assert all(len(f) == 1 for f in found)
    mouth = [mouth_opening(f[0].landmarks) for f in found]
    eyes = [eye_aperture(f[0].landmarks) for f in found]
    assert np.corrcoef(program.mouth, mouth)[0, 1] > 0.5
    assert np.corrcoef(-program.eyes_closed, eyes)[0, 1] > 0.5
    reference = dlib.embed(image, face)
    for index in (0, int(np.argmax(program.mouth)), int(np.argmax(program.eyes_closed))):
        assert dlib.distance(reference, dlib.embed(out[index], found[index][0])) <= 0.35
    ring = ring_points(face.landmarks, kind="full", margin=0.35)
    box = crop_box(ring, shape=image.shape)
    outside = np.ones(image.shape[:2], bool)
    outside[box.top:box.bottom, box.left:box.right] = False
    assert all(np.array_equal(o[outside], image[outside]) for o in out)


def test_video_target_keeps_its_length_and_passes_through_after_driver(driver) -> None:  # type: ignore[no-untyped-def]
    _, frames, track = driver
    target_frames = drift_clip(_portrait("female02"), frame_count=16, fps=FPS)
    target_track = list(FaceTracker(_engine(), fps=FPS).track(target_frames))
    target_track[4] = None  # target face lost on one frame
    short_driver, short_track = frames[8:18], track[8:18]  # starts mid-expression
    engine = LandmarkReenactor()
    out = list(engine.render(target_frames, target_track, short_driver, short_track))
    assert len(out) == 16
    assert out[4] is target_frames[4]
    for index in range(10, 16):  # the driver ended: target frames unchanged
        assert out[index] is target_frames[index]
    assert any(not np.array_equal(out[i], target_frames[i]) for i in range(1, 10))
    assert engine.last_stats.frames == 16 and engine.last_stats.passed_through == 7


def test_driver_without_face_leaves_target_unchanged(driver, target) -> None:  # type: ignore[no-untyped-def]
    _, frames, track = driver
    image, face = target
    gappy = [None if 5 <= i < 9 else t for i, t in enumerate(track[:12])]
    out = list(LandmarkReenactor().render(image, face, frames[:12], gappy))
    assert all(np.array_equal(out[i], image) for i in range(5, 9))
    neutral = list(LandmarkReenactor(settings=ReenactSettings(neutral="median")).render(
        image, TrackedFace(0, face, True), frames[:12], track[:12]))
    assert len(neutral) == 12


def test_bad_targets_are_refused(driver, target) -> None:  # type: ignore[no-untyped-def]
    _, frames, track = driver
    image, face = target
    with pytest.raises(BadInput, match="no face"):
        list(LandmarkReenactor().render(image, None, frames[:2], track[:2]))
    with pytest.raises(BadInput, match="one entry per frame"):
        list(LandmarkReenactor().render([image], face, frames[:2], track[:2]))
    with pytest.raises(BadInput, match="differ in length"):
        list(LandmarkReenactor().render(image, face, frames[:3], track[:2]))
    with pytest.raises(BadInput, match="unknown reenactment engine"):
        engine("reenact", "first-order-motion")
    statuses = registry.statuses("reenact", models_dir=NO_MODELS_DIR, policy=EnginePolicy())
    assert [(s.name, s.available) for s in statuses] == [("landmark", True)]
