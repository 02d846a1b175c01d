"""Media pipeline throughput: our decode -> numpy -> encode vs a plain ffmpeg transcode.

Every render decodes the source to numpy RGB frames (so faces can be edited)
and encodes them again. The reference is the best any Python-free pipeline
could do on the same machine: ``ffmpeg -i in -c:v libx264 -preset veryfast``
on the same clip, same CRF. The ratio (ours / ffmpeg) is what matters; the
absolute numbers depend on the machine and its load. Both are measured in
the same run.

Usage: .venv/bin/python benchmarks/media_bench.py [--seconds 4] [--repeats 1]
Writes benchmarks/results/media.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from media.decode import iter_frames  # noqa: E402
from media.encode import DEFAULT_CRF, DEFAULT_PRESET, VideoWriter  # noqa: E402
from media.ffmpeg import ffmpeg_path  # noqa: E402
from media.probe import probe  # noqa: E402

RESULTS_PATH = ROOT / "benchmarks" / "results" / "media.json"
CLIP_WIDTH, CLIP_HEIGHT, CLIP_FPS = 1280, 720, 30


def make_clip(path: Path, *, seconds: float) -> None:
    """A 720p test pattern with motion (testsrc2), encoded once as the source."""
    subprocess.run(
        [str(ffmpeg_path()), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
         "-f", "lavfi", "-i",
         f"testsrc2=size={CLIP_WIDTH}x{CLIP_HEIGHT}:rate={CLIP_FPS}:duration={seconds}",
         "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p",
         str(path)],
        check=True,
    )


def decode_only(source: Path, _out: Path) -> int:
    return sum(1 for _ in iter_frames(source))


def ours(source: Path, out: Path) -> int:
    info = probe(source)
    with VideoWriter(out, fps=info.require_video().avg_rate) as writer:
        for frame in iter_frames(source, info=info):
            writer.write(frame.rgb)
    return writer.frames_written


def ffmpeg_cli(source: Path, out: Path) -> int:
    """The reference; returns the source's frame count (checked after timing)."""
    subprocess.run(
        [str(ffmpeg_path()), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
         "-i", str(source), "-c:v", "libx264", "-preset", DEFAULT_PRESET,
         "-crf", str(DEFAULT_CRF), "-pix_fmt", "yuv420p", str(out)],
        check=True,
    )
    return probe(source).require_video().frame_count


def best_fps(run: Callable[[Path, Path], int], source: Path, out: Path, repeats: int) -> float:
    """Best of ``repeats`` (the least disturbed by other load on a shared machine)."""
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        frames = run(source, out)
        best = max(best, frames / (time.perf_counter() - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="clip length")
    parser.add_argument("--repeats", type=int, default=1, help="runs per variant (best kept)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="likeness-media-bench-") as tmp:
        tmp_dir = Path(tmp)
        source = tmp_dir / "source.mp4"
        make_clip(source, seconds=args.seconds)
        frames = probe(source).require_video().frame_count
        fps = {
            "decode_only": best_fps(decode_only, source, tmp_dir / "unused.mp4", args.repeats),
            "ours_decode_numpy_encode": best_fps(ours, source, tmp_dir / "ours.mp4",
                                                 args.repeats),
            "ffmpeg_cli_transcode": best_fps(ffmpeg_cli, source, tmp_dir / "cli.mp4",
                                             args.repeats),
        }
        for name in ("ours.mp4", "cli.mp4"):
            written = probe(tmp_dir / name).require_video().frame_count
            if written != frames:
                raise SystemExit(f"{name} has {written} frames, expected {frames}")
    ratio = fps["ours_decode_numpy_encode"] / fps["ffmpeg_cli_transcode"]

    print(f"{CLIP_WIDTH}x{CLIP_HEIGHT} @ {CLIP_FPS} fps, {frames} frames, libx264 "
          f"{DEFAULT_PRESET} crf {DEFAULT_CRF}, {os.cpu_count()} CPUs")
    print(f"{'variant':<28}{'fps':>10}")
    for name, value in fps.items():
        print(f"{name:<28}{value:>10.1f}")
    print(f"{'ratio ours / ffmpeg CLI':<28}{ratio:>10.2f}")

    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_PATH.write_text(json.dumps({
        "benchmark": "media",
        "clip": {"width": CLIP_WIDTH, "height": CLIP_HEIGHT, "fps": CLIP_FPS,
                 "frames": frames},
        "encoder": {"codec": "libx264", "preset": DEFAULT_PRESET, "crf": DEFAULT_CRF},
        "fps": {name: round(value, 2) for name, value in fps.items()},
        "ratio_ours_to_ffmpeg_cli": round(ratio, 3),
        "repeats": args.repeats,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "pyav": av.__version__, "pyav_ffmpeg": av.ffmpeg_version_info,
                    "ffmpeg_cli": str(ffmpeg_path())},
    }, indent=2) + "\n")
    print(f"wrote {RESULTS_PATH.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
