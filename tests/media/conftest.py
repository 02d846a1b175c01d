"""Media fixtures generated with ffmpeg's lavfi sources (and espeak-ng), never downloaded.

Everything is session-scoped and tiny (160x120, about 2 s) so the whole media
suite stays fast on two cores.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from media.ffmpeg import ffmpeg_path

CLIP_SECONDS = 2
CLIP_FPS = 25
CLIP_SIZE = "160x120"
MARKER_SIZE = "64x48"  # red 16x16 block in the top-left corner marks "up"
AUDIO_RATE_HZ = 48_000


def run_ffmpeg_cli(*args: str) -> None:
    """Run the real ffmpeg CLI (fixture generation must not depend on code under test)."""
    subprocess.run([str(ffmpeg_path()), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
                    *args], check=True)


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


def _testsrc(seconds: float = CLIP_SECONDS) -> list[str]:
    return ["-f", "lavfi", "-i",
            f"testsrc2=size={CLIP_SIZE}:rate={CLIP_FPS}:duration={seconds}"]


@pytest.fixture(scope="session")
def cfr_clip(media_dir: Path) -> Path:
    """160x120, 25 fps, 2 s, with stereo AAC at 48 kHz."""
    out = media_dir / "cfr.mp4"
    run_ffmpeg_cli(*_testsrc(), "-f", "lavfi", "-i",
                   f"sine=frequency=440:sample_rate={AUDIO_RATE_HZ}:duration={CLIP_SECONDS}",
                   "-ac", "2", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                   "-c:a", "aac", "-shortest", str(out))
    return out


@pytest.fixture(scope="session")
def silent_clip(media_dir: Path) -> Path:
    """A video with no audio track."""
    out = media_dir / "silent.mp4"
    run_ffmpeg_cli(*_testsrc(), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt",
                   "yuv420p", str(out))
    return out


@pytest.fixture(scope="session")
def vfr_clip(media_dir: Path) -> Path:
    """25 fps source with frames 10-19 dropped and timestamps kept (a 0.44 s gap)."""
    out = media_dir / "vfr.mp4"
    run_ffmpeg_cli(*_testsrc(), "-vf", "select='not(between(n,10,19))'", "-fps_mode", "vfr",
                   "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(out))
    return out


@pytest.fixture(scope="session")
def marker_clip(media_dir: Path) -> Path:
    """64x48 black frames with a red block at the top-left, no rotation."""
    out = media_dir / "marker.mp4"
    run_ffmpeg_cli("-f", "lavfi", "-i", f"color=black:size={MARKER_SIZE}:rate=10:duration=0.5",
                   "-vf", "drawbox=x=0:y=0:w=16:h=16:color=red:t=fill",
                   "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(out))
    return out


@pytest.fixture(scope="session")
def rotated_clips(media_dir: Path, marker_clip: Path) -> dict[int, Path]:
    """The marker clip with a phone-style rotate tag (stream copy writes a display matrix)."""
    clips: dict[int, Path] = {}
    for degrees in (90, 180, 270):
        out = media_dir / f"rotate{degrees}.mp4"
        run_ffmpeg_cli("-i", str(marker_clip), "-c", "copy", "-metadata:s:v:0",
                       f"rotate={degrees}", str(out))
        clips[degrees] = out
    return clips


@pytest.fixture(scope="session")
def autorotated_first_frame() -> Callable[[Path], np.ndarray]:
    """What the ffmpeg CLI shows (autorotate on): the reference for our decoder."""
    return _autorotated_first_frame


def _autorotated_first_frame(path: Path) -> np.ndarray:
    completed = subprocess.run(
        [str(ffmpeg_path()), "-hide_banner", "-loglevel", "error", "-i", str(path),
         "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
        check=True, capture_output=True)
    return np.frombuffer(completed.stdout, dtype=np.uint8)


@pytest.fixture(scope="session")
def audio_files(media_dir: Path) -> dict[str, Path]:
    """1 s tones: mono WAV 16 kHz, stereo WAV 44.1 kHz, 5.1 AAC 48 kHz (distinct channels)."""
    mono = media_dir / "mono.wav"
    run_ffmpeg_cli("-f", "lavfi", "-i", "sine=frequency=300:sample_rate=16000:duration=1",
                   str(mono))
    stereo = media_dir / "stereo.wav"
    run_ffmpeg_cli("-f", "lavfi", "-i",
                   "aevalsrc=0.5*sin(440*2*PI*t)|0.25*sin(660*2*PI*t):s=44100:d=1:c=stereo",
                   str(stereo))
    surround = media_dir / "surround.m4a"
    channels = "|".join(f"0.2*sin({freq}*2*PI*t)" for freq in (220, 330, 440, 55, 550, 660))
    run_ffmpeg_cli("-f", "lavfi", "-i", f"aevalsrc={channels}:s={AUDIO_RATE_HZ}:d=1:c=5.1",
                   "-c:a", "aac", str(surround))
    return {"mono": mono, "stereo": stereo, "surround": surround}


@pytest.fixture(scope="session")
def speech_wav(media_dir: Path) -> Path:
    """About 2.5 s of synthetic English speech from espeak-ng."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    out = media_dir / "speech.wav"
    subprocess.run(["espeak-ng", "-w", str(out), "Hello there. This sentence is the new line "
                    "for the dubbing test."], check=True, capture_output=True)
    return out


@pytest.fixture(scope="session")
def bad_media(media_dir: Path, silent_clip: Path) -> dict[str, Path]:
    """Files that must be refused: empty, random bytes, text named .mp4, two truncations."""
    rng = np.random.default_rng(7)
    empty = media_dir / "empty.mp4"
    empty.write_bytes(b"")
    noise = media_dir / "noise.mp4"
    noise.write_bytes(rng.integers(0, 256, size=4096, dtype=np.uint8).tobytes())
    text = media_dir / "notes.mp4"
    text.write_text("This is a shopping list, not a video.\nmilk\neggs\n")
    data = silent_clip.read_bytes()
    truncated = media_dir / "truncated.mp4"  # moov atom at the end: cut off entirely
    truncated.write_bytes(data[: len(data) // 2])
    faststart = media_dir / "faststart.mp4"
    run_ffmpeg_cli("-i", str(silent_clip), "-c", "copy", "-movflags", "+faststart",
                   str(faststart))
    fast_data = faststart.read_bytes()
    truncated_data = media_dir / "truncated_data.mp4"  # index intact, frames missing
    truncated_data.write_bytes(fast_data[: len(fast_data) // 2])
    return {"empty": empty, "noise": noise, "text": text, "truncated": truncated,
            "truncated_data": truncated_data}
