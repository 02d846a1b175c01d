"""Real test media made with ffmpeg and espeak-ng (nothing downloaded).

The face clip shows a fictional flare-game portrait (assets/faces, CC-BY-SA-3.0+)
moving slightly over a plain background, with espeak-ng speech as its soundtrack.
"""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

FACES = Path(__file__).resolve().parents[2] / "assets" / "faces"


def speech_wav(path: Path, text: str, *, voice: str = "en") -> Path:
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True,
                   capture_output=True)
    return path


SPOKEN = ("Hello, this is a licensed synthetic voice test. "
          "Every output carries a label and a watermark.")


def face_clip(path: Path, *, face: str = "female01.png", seconds: float = 3.0,
              size: tuple[int, int] = (640, 360), fps: int = 25, audio: bool = True,
              text: str = SPOKEN, sway_period_s: float | None = None) -> Path:
    """``sway_period_s``: the portrait's motion repeats with this period (a loopable
    reel); by default it drifts on two unrelated periods."""
    w, h = size
    face_px = int(h * 0.6)
    x_arg, y_arg = ("t*2", "t*3") if sway_period_s is None else (
        f"t*{2 * math.pi / sway_period_s:.6f}",) * 2
    x = f"{(w - face_px) // 2}+{w // 60}*sin({x_arg})"
    y = f"{(h - face_px) // 2}+{h // 90}*cos({y_arg})"
    inputs = ["-f", "lavfi", "-i", f"color=c=0x405060:s={w}x{h}:r={fps}",
              "-loop", "1", "-i", str(FACES / face)]
    filt = (f"[1:v]scale={face_px}:{face_px}[f];[0:v][f]overlay="
            f"x={x}:y={y}"
            ":shortest=1,format=yuv420p[v]")
    maps = ["-map", "[v]"]
    if audio:
        wav = speech_wav(path.with_suffix(".wav"), text)
        inputs += ["-i", str(wav)]
        maps += ["-map", "2:a", "-c:a", "aac", "-b:a", "128k"]
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *inputs, "-filter_complex", filt,
                    *maps, "-t", str(seconds), "-c:v", "libx264", "-preset", "veryfast",
                    "-crf", "18", str(path)], check=True, capture_output=True)
    return path
