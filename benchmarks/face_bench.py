"""Face engine throughput on a 720p clip: tracking vs detecting on every frame.

Lip-sync and reenactment need landmarks on every frame; this measures what the
tracker buys over running the detector each time (target: >= 50 fps tracked on a
2-core CPU). Both arms run in the same process on the same generated clip, so the
ratio is meaningful even when absolute numbers move with the machine.

    .venv/bin/python benchmarks/face_bench.py [--frames 150] [--detect-every 10]

Prints a table and writes benchmarks/results/face.json.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.engines import engine as registry_engine  # noqa: E402
from benchmarks.report import write_results  # noqa: E402
from models.face import load_image  # noqa: E402
from models.face.tracking import FaceTracker  # noqa: E402

FRAME_SIZE_PX = (1280, 720)
FACE_SIZE_PX = 360
BACKGROUND_RGB = (200, 205, 210)
RESULTS = ROOT / "benchmarks" / "results" / "face.json"


def make_clip(frame_count: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A portrait drifting and rolling slightly over a flat 720p background, plus truth."""
    engine = registry_engine("face", "dlib")
    portrait = load_image(ROOT / "assets" / "faces" / "female01.png")
    source = cv2.resize(portrait, (FACE_SIZE_PX, FACE_SIZE_PX), interpolation=cv2.INTER_CUBIC)
    base = engine.detect(source)[0].landmarks
    frames, truth = [], []
    half = FACE_SIZE_PX / 2
    for i in range(frame_count):
        matrix = cv2.getRotationMatrix2D((half, half), 4 * np.sin(i / 13), 1.0)
        matrix[:, 2] += (460 + 60 * np.sin(i / 17), 180 + 30 * np.cos(i / 23))
        frame = np.empty((FRAME_SIZE_PX[1], FRAME_SIZE_PX[0], 3), dtype=np.uint8)
        frame[:] = BACKGROUND_RGB
        cv2.warpAffine(source, matrix, FRAME_SIZE_PX, dst=frame,
                       borderMode=cv2.BORDER_TRANSPARENT)
        frames.append(frame)
        truth.append(base @ matrix[:, :2].T + matrix[:, 2])
    return frames, truth


def _error_px(landmarks: list[np.ndarray | None], truth: list[np.ndarray]) -> float:
    errors = [np.linalg.norm(p - t, axis=1).mean() for p, t in zip(landmarks, truth, strict=True)
              if p is not None]
    return float(np.mean(errors)) if errors else float("nan")


def run(frame_count: int, detect_every: int) -> dict[str, object]:
    engine = registry_engine("face", "dlib")
    frames, truth = make_clip(frame_count)
    engine.detect(frames[0])  # warm caches outside the timed regions

    start = time.perf_counter()
    detected = [engine.detect(frame) for frame in frames]
    detect_s = time.perf_counter() - start
    detect_points = [faces[0].landmarks if faces else None for faces in detected]

    arms: dict[str, dict[str, float]] = {
        "detect_every_frame": {
            "fps": frame_count / detect_s,
            "ms_per_frame": 1000 * detect_s / frame_count,
            "found_fraction": sum(p is not None for p in detect_points) / frame_count,
            "landmark_error_px": _error_px(detect_points, truth),
        }
    }
    for label, refit in (("track_refit", True), ("track_flow_only", False)):
        tracker = FaceTracker(engine, detect_every=detect_every, refit_landmarks=refit)
        start = time.perf_counter()
        tracked = list(tracker.track(frames))
        track_s = time.perf_counter() - start
        points = [t.face.landmarks if t is not None else None for t in tracked]
        arms[label] = {
            "fps": frame_count / track_s,
            "ms_per_frame": 1000 * track_s / frame_count,
            "found_fraction": sum(p is not None for p in points) / frame_count,
            "landmark_error_px": _error_px(points, truth),
            "keyframes": float(tracker.keyframe_count),
        }
    baseline = arms["detect_every_frame"]["fps"]
    for arm in arms.values():
        arm["speedup_vs_detect"] = arm["fps"] / baseline
    return {
        "benchmark": "face",
        "clip": {"frames": frame_count, "width": FRAME_SIZE_PX[0], "height": FRAME_SIZE_PX[1],
                 "face_px": FACE_SIZE_PX},
        "detect_every": detect_every,
        "machine": {"python": platform.python_version(), "processor": platform.machine(),
                    "cpus": os.cpu_count()},
        "arms": arms,
        "target_fps_tracked": 50.0,
        "meets_target": arms["track_refit"]["fps"] >= 50.0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--detect-every", type=int, default=10)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    report = run(args.frames, args.detect_every)
    header = f"{'arm':<20}{'fps':>8}{'ms/frame':>10}{'x detect':>10}{'found':>8}{'err px':>8}"
    print(f"face engine, {args.frames} frames of 1280x720, detect every {args.detect_every}")
    print(header)
    print("-" * len(header))
    for name, arm in report["arms"].items():  # type: ignore[union-attr]
        print(f"{name:<20}{arm['fps']:>8.1f}{arm['ms_per_frame']:>10.2f}"
              f"{arm['speedup_vs_detect']:>10.2f}{arm['found_fraction']:>8.2f}"
              f"{arm['landmark_error_px']:>8.2f}")
    write_results(args.out, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
