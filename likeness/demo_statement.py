"""The demo's stand-in for a performer filming their own consent statement.

A real performer records the statement with a camera. The demo's performer is a
fictional painted portrait, so it "records" by animating the portrait with our own
viseme engine to Piper speech of the words. The clip is evidence, not a render: it
goes to a temporary folder, is checked by `likeness consent evidence`, and is kept
only as the studio's 0600 evidence copy. It is never delivered as an output.
Tests use the same recorder, with the options that fake the failures the checks
must catch (another face, a still, no sound, a replayed soundtrack).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from likeness.errors import BadInput
from media.audio import AudioTrack
from media.encode import VideoWriter
from models import registry
from models.face import load_image
from models.face.tracking import FaceTracker
from models.registry import EnginePolicy

FPS = 25
FACE_PX = 300
FRAME_H, FRAME_W = 360, 640
# The flare-game portraits' own background colour, so the pasted edges vanish.
BACKGROUND_RGB = (200, 205, 210)


def _frames(face: Path, count: int) -> list[np.ndarray]:
    import cv2

    portrait = cv2.resize(load_image(face), (FACE_PX, FACE_PX), interpolation=cv2.INTER_AREA)
    frames = []
    for i in range(count):
        frame = np.empty((FRAME_H, FRAME_W, 3), dtype=np.uint8)
        frame[:] = BACKGROUND_RGB
        x = (FRAME_W - FACE_PX) // 2 + int(4 * np.sin(i / 12))  # a little head sway
        y = (FRAME_H - FACE_PX) // 2
        frame[y:y + FACE_PX, x:x + FACE_PX] = portrait
        frames.append(frame)
    return frames


def record_statement(out: Path, *, text: str, face: Path, models_dir: Path,
                     policy: EnginePolicy | None = None, audio_text: str | None = None,
                     still: bool = False, silent: bool = False) -> Path:
    """``face`` saying ``text`` in English. ``audio_text`` swaps the soundtrack for other
    speech (a replay over another recording), ``still`` keeps the mouth closed,
    ``silent`` drops the sound."""
    if not Path(out).resolve().is_relative_to(Path(tempfile.gettempdir()).resolve()):
        raise BadInput(f"a demo statement goes into a temporary folder, not {out}",
                       hint="it is evidence input, never a render output")
    policy = policy or EnginePolicy()

    def speak(words: str) -> tuple[np.ndarray, int, tuple]:
        spoken = registry.get("tts", "piper", models_dir=models_dir, policy=policy
                              ).synthesize(words, language="en", voice=None)
        return spoken.samples, spoken.sample_rate, spoken.phonemes

    samples, rate, phonemes = speak(text)
    frames = _frames(face, int(np.ceil(samples.shape[0] / rate * FPS)) + FPS // 2)
    if not still:
        tracker = FaceTracker(registry.get("face", "dlib", models_dir=models_dir,
                                           policy=policy), fps=FPS)
        track = list(tracker.track(frames))
        viseme = registry.get("lipsync", "viseme", models_dir=models_dir, policy=policy)
        frames = list(viseme.render(frames, track, samples, rate, fps=FPS, timings=phonemes))
    audio = None
    if not silent:
        heard = samples if audio_text is None else speak(audio_text)[0]
        audio = AudioTrack(heard.reshape(-1, 1).astype(np.float32), rate)
    with VideoWriter(out, fps=FPS, audio=audio) as writer:
        for frame in frames:
            writer.write(frame)
    return out
