"""Consent statement videos made in the test: a fictional portrait (assets/faces)
lip-synced by our own viseme engine to Piper speech of the given text."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from media.audio import AudioTrack
from media.encode import VideoWriter
from models.face import load_image
from models.face.tracking import FaceTracker
from tests.support.cli import FACES
from tests.support.engines import engine as face_engine_of
from tests.support.faces import canvas

FPS = 25
FACE_PX = 300


def _frames(face: str, count: int) -> list[np.ndarray]:
    portrait = load_image(FACES / face)
    import cv2

    portrait = cv2.resize(portrait, (FACE_PX, FACE_PX), interpolation=cv2.INTER_AREA)
    frames = []
    for i in range(count):
        frame = canvas(360, 640)
        x = (640 - FACE_PX) // 2 + int(4 * np.sin(i / 12))
        y = (360 - FACE_PX) // 2
        frame[y:y + FACE_PX, x:x + FACE_PX] = portrait
        frames.append(frame)
    return frames


def speech(text: str) -> tuple[np.ndarray, int, tuple]:
    spoken = face_engine_of("tts", "piper").synthesize(text, language="en", voice=None)
    return spoken.samples, spoken.sample_rate, spoken.phonemes


def statement_video(out: Path, *, text: str, face: str = "female01.png",
                    audio_text: str | None = None, still: bool = False,
                    silent: bool = False) -> Path:
    """The face saying ``text``; ``audio_text`` replaces the soundtrack with other speech
    (a replay over another recording), ``still`` leaves the mouth closed, ``silent``
    drops the sound."""
    samples, rate, phonemes = speech(text)
    count = int(np.ceil(samples.shape[0] / rate * FPS)) + FPS // 2
    frames = _frames(face, count)
    if not still:
        engine = face_engine_of("face", "dlib")
        track = list(FaceTracker(engine, fps=FPS).track(frames))
        viseme = face_engine_of("lipsync", "viseme")
        frames = list(viseme.render(frames, track, samples, rate, fps=FPS, timings=phonemes))
    audio = None
    if not silent:
        heard = samples if audio_text is None else speech(audio_text)[0]
        audio = AudioTrack(heard.reshape(-1, 1).astype(np.float32), rate)
    with VideoWriter(out, fps=FPS, audio=audio) as writer:
        for frame in frames:
            writer.write(frame)
    return out
