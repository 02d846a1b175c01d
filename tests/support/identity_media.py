"""Clips for identity-binding tests: several faces at once, and splices of people.

Made with ffmpeg from still faces (the fictional assets/faces portraits, or the real
photographs of tests/support/real_faces.py cropped to the face), drifting slightly
over a plain background and encoded as H.264, as footage would be.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np

from models.face import load_image
from tests.support.engines import engine as face_engine_of

FPS = 25
SIZE_PX = (640, 360)


def face_still(photo: Path, out: Path) -> Path:
    """The photograph's largest face with a margin of half a face width, as a PNG."""
    image = load_image(photo)
    box = face_engine_of("face", "dlib").detect(image)[0].box
    pad = box.width // 2
    crop = image[max(0, box.top - pad):box.bottom + pad, max(0, box.left - pad):box.right + pad]
    cv2.imwrite(str(out), cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2BGR))
    return out


def faces_clip(out: Path, faces: list[Path], *, seconds: float = 2.0,
               face_px: int = 260) -> Path:
    """The faces side by side (the first on the left), each drifting a little."""
    w, h = SIZE_PX
    inputs = ["-f", "lavfi", "-i", f"color=c=0x405060:s={w}x{h}:r={FPS}"]
    chain, last = [], "0:v"
    slot = w // len(faces)
    for i, face in enumerate(faces, start=1):
        inputs += ["-loop", "1", "-i", str(face)]
        x = slot * (i - 1) + (slot - face_px) // 2
        chain.append(f"[{i}:v]scale={face_px}:{face_px}[f{i}]")
        chain.append(f"[{last}][f{i}]overlay=x={x}+4*sin(t*2):y={(h - face_px) // 2}"
                     f"+3*cos(t*3):shortest=1[o{i}]")
        last = f"o{i}"
    chain.append(f"[{last}]format=yuv420p[v]")
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *inputs, "-filter_complex",
                    ";".join(chain), "-map", "[v]", "-t", str(seconds), "-c:v", "libx264",
                    "-preset", "veryfast", "-crf", "23", str(out)], check=True,
                   capture_output=True)
    return out


def splice(out: Path, parts: list[Path], *, audio: bool = False) -> Path:
    """The clips one after another (hard cuts), optionally with a sine soundtrack."""
    inputs: list[str] = []
    for part in parts:
        inputs += ["-i", str(part)]
    streams = "".join(f"[{i}:v]" for i in range(len(parts)))
    filt = f"{streams}concat=n={len(parts)}:v=1:a=0,format=yuv420p[v]"
    extra: list[str] = []
    if audio:
        inputs += ["-f", "lavfi", "-i", "sine=frequency=220:sample_rate=48000"]
        extra = ["-map", f"{len(parts)}:a", "-c:a", "aac", "-shortest"]
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *inputs, "-filter_complex", filt,
                    "-map", "[v]", *extra, "-c:v", "libx264", "-preset", "veryfast", "-crf",
                    "23", str(out)], check=True, capture_output=True)
    return out
