"""Viseme lip-sync on generated 720p media: follows speech, keeps identity, touches only the
tracked face, passes faceless frames through, copes with 4K, odd sizes and frame rates."""

from __future__ import annotations

import time

import numpy as np
import pytest

from likeness.errors import BadInput
from media.timed_text import PhonemeTiming
from models.face.base import Face, FaceBox
from models.face.tracking import FaceTracker, TrackedFace
from models.face.warp import crop_box, ring_points
from models.lipsync.mouth import MouthTrack
from models.lipsync.viseme import VisemeLipSync
from tests.support.engines import engine as registry_engine
from tests.support.lipsync_media import FPS, canvas, engine, frame_loudness, portrait, speech
from tests.support.synthetic_faces import drift_clip, mouth_opening


@pytest.fixture(scope="module")
def clip() -> tuple[list[np.ndarray], list[TrackedFace | None]]:
    spoken = speech()
    count = int(spoken.duration_s * FPS)
    frames = drift_clip(portrait("female01"), frame_count=count, fps=FPS, face_px=420)
    track = list(FaceTracker(engine(), fps=FPS).track(frames))
    assert all(t is not None for t in track)
    return frames, track


@pytest.fixture(scope="module")
def rendered(clip: tuple[list[np.ndarray], list[TrackedFace | None]]) -> list[np.ndarray]:
    frames, track = clip
    spoken = speech()
    lipsync = registry_engine("lipsync", "viseme")
    out = list(lipsync.render(frames, track, spoken.samples, spoken.sample_rate, fps=FPS,
                              timings=spoken.phonemes))
    assert lipsync.last_stats.changed > 0.6 * len(frames)  # type: ignore[attr-defined]
    return out


def test_mouth_follows_speech_and_identity_is_kept(
    clip: tuple[list[np.ndarray], list[TrackedFace | None]], rendered: list[np.ndarray]
) -> None:
    frames, track = clip
    spoken = speech()
    assert len(rendered) == len(frames)
    dlib = engine()
    openings = []
    for out, tracked in zip(rendered, track, strict=True):
        assert tracked is not None
        openings.append(mouth_opening(dlib.landmarks_in_box(out, tracked.face.box)))
    loud = frame_loudness(spoken.samples, spoken.sample_rate, len(frames), FPS)
    assert np.corrcoef(openings, loud)[0, 1] > 0.4
    assert max(openings) > 0.08  # the mouth visibly opens (re-measured, face units)
    for index in (10, 25, 40):
        source = dlib.embed(frames[index], track[index].face)  # type: ignore[union-attr]
        found = dlib.detect(rendered[index])
        assert len(found) == 1
        assert dlib.distance(source, dlib.embed(rendered[index], found[0])) <= 0.35


def test_pixels_outside_the_ring_are_unchanged(
    clip: tuple[list[np.ndarray], list[TrackedFace | None]], rendered: list[np.ndarray]
) -> None:
    frames, track = clip
    for index in (5, 20, 35):
        tracked = track[index]
        assert tracked is not None
        ring = ring_points(tracked.face.landmarks, kind="lower", margin=0.4)
        box = crop_box(ring, shape=frames[index].shape)
        outside = np.ones(frames[index].shape[:2], bool)
        outside[box.top:box.bottom, box.left:box.right] = False
        assert np.array_equal(rendered[index][outside], frames[index][outside])
        # and the upper face (eyes, brows) is untouched too
        eyes_bottom = int(tracked.face.landmarks[36:48, 1].min()) - 4
        assert np.array_equal(rendered[index][:eyes_bottom], frames[index][:eyes_bottom])


def test_frames_without_a_face_pass_through(
    clip: tuple[list[np.ndarray], list[TrackedFace | None]]
) -> None:
    frames, track = clip
    frames, track = frames[:20], list(track[:20])
    lost = range(8, 13)
    for index in lost:
        track[index] = None
    track[15] = TrackedFace(15, Face(FaceBox(0, 0, 4, 4, 1.0), np.zeros((68, 2))), False)
    lipsync = VisemeLipSync()
    timings = [PhonemeTiming("a", 0.0, 1.0)]
    out = list(lipsync.render(frames, track, np.zeros(16_000, np.float32) + 0.1, 16_000,
                              fps=FPS, timings=timings))
    for index in [*lost, 15]:  # lost, and a degenerate (profile-like) face
        assert out[index] is frames[index]
    assert not np.array_equal(out[3], frames[3])
    assert lipsync.last_stats.passed_through == 6 and lipsync.last_stats.frames == 20


def test_profile_or_missing_face_leaves_video_untouched() -> None:
    sideways = np.ascontiguousarray(np.rot90(portrait("male02")))
    frame = canvas(720, 1280)
    frame[200:520, 480:800] = sideways
    frames = [frame, canvas(720, 1280)]
    track = list(FaceTracker(engine(), fps=FPS).track(frames))
    assert track == [None, None]
    viseme = registry_engine("lipsync", "viseme")
    out = list(viseme.render(frames, track, np.zeros(8000, np.float32), 16_000, fps=FPS))
    assert all(o is f for o, f in zip(out, frames, strict=True))


def test_only_the_tracked_speaker_changes() -> None:
    import cv2

    frame = canvas(720, 1280)
    speaker = cv2.resize(portrait("female02"), (420, 420))
    other = cv2.resize(portrait("male01"), (300, 300))
    frame[150:570, 80:500] = speaker
    frame[200:500, 850:1150] = other
    faces = engine().detect(frame)
    assert len(faces) == 2
    speaker_face, other_face = sorted(faces, key=lambda f: f.box.left)
    tracked = TrackedFace(0, speaker_face, True)  # the tracker's choice: the left face
    track = MouthTrack(np.tile([[0.9, 0.6, 0.0]], (10, 1)).astype(np.float32))
    out = next(VisemeLipSync().render_track([frame], [tracked], track, fps=FPS))
    other_box = other_face.box
    region = (slice(other_box.top - 30, other_box.bottom + 30),
              slice(other_box.left - 30, other_box.right + 30))
    assert np.array_equal(out[region], frame[region])
    assert np.abs(out.astype(int) - frame.astype(int))[:, :640].sum() > 0


def test_4k_is_processed_at_crop_scale() -> None:
    import cv2

    frame = np.empty((2160, 3840, 3), np.uint8)
    frame[:] = (200, 205, 210)
    face_img = cv2.resize(portrait("female01"), (900, 900))
    frame[600:1500, 1500:2400] = face_img
    face = engine().detect(frame)[0]
    track = MouthTrack(np.tile([[0.9, 0.6, 0.0]], (10, 1)).astype(np.float32))
    lipsync = VisemeLipSync()
    list(lipsync.render_track([frame], [TrackedFace(0, face, True)], track, fps=FPS))  # warm
    start = time.perf_counter()
    out = list(lipsync.render_track([frame] * 3, [TrackedFace(i, face, True) for i in range(3)],
                                    track, fps=FPS))
    per_frame_s = (time.perf_counter() - start) / 3
    changed = np.argwhere((out[0] != frame).any(axis=2))
    height = np.ptp(changed[:, 0]) + 1
    width = np.ptp(changed[:, 1]) + 1
    assert height * width < 0.05 * frame.shape[0] * frame.shape[1]
    assert per_frame_s < 0.5  # generous on a shared 2-core CI box; ~0.05 s measured


@pytest.mark.parametrize("size", [(719, 1279), (361, 641)])
def test_odd_frame_sizes_and_faces_at_the_edge(size: tuple[int, int]) -> None:
    import cv2

    height, width = size
    frame = canvas(height, width)
    face_px = min(height, 420)
    face_img = cv2.resize(portrait("male02"), (face_px, face_px))
    left = width - face_px + face_px // 5  # partly outside the right edge
    visible = width - left
    frame[0:face_px, left:width] = face_img[:, :visible]
    full = canvas(height, width + face_px)
    full[0:face_px, left:left + face_px] = face_img
    face = engine().detect(full)[0]  # landmarks reach past the frame's edge
    track = MouthTrack(np.tile([[0.8, 0.5, 0.0]], (10, 1)).astype(np.float32))
    out = next(VisemeLipSync().render_track([frame], [TrackedFace(0, face, True)], track,
                                            fps=29.97))
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert not np.array_equal(out, frame)


@pytest.mark.parametrize("fps", [23.976, 29.97, 60.0])
def test_mouth_timing_follows_fps(fps: float) -> None:
    import cv2

    frame = canvas(360, 640)
    frame[20:340, 160:480] = cv2.resize(portrait("male01"), (320, 320))
    face = engine().detect(frame)[0]
    count = int(2.0 * fps)
    timings = [PhonemeTiming("a", 1.0, 1.5)]
    audio = np.full(int(2.0 * 16_000), 0.2, np.float32)
    out = list(registry_engine("lipsync", "viseme").render(
        [frame] * count, [TrackedFace(i, face, True) for i in range(count)], audio, 16_000,
        fps=fps, timings=timings))
    change = np.array([np.abs(o.astype(int) - frame.astype(int)).mean() for o in out])
    rest = change[: int(0.6 * fps)].max()  # closing the source's own slight gap
    assert np.allclose(change[: int(0.6 * fps)], rest)  # steady before the word
    moving = np.nonzero(change > rest + 0.05 * (change.max() - rest))[0] / fps
    assert 0.85 <= moving[0] <= 1.05 and 1.45 <= moving[-1] <= 1.65
    assert 1.1 <= int(np.argmax(change)) / fps <= 1.4


def test_streams_must_have_equal_length() -> None:
    frame = canvas(64, 64)
    with pytest.raises(BadInput, match="differ in length"):
        list(VisemeLipSync().render([frame] * 3, [None] * 2, np.zeros(100, np.float32), 8000,
                                    fps=FPS))
    with pytest.raises(BadInput):
        list(VisemeLipSync().render([frame], [None], np.zeros(100, np.float32), 8000, fps=0))
