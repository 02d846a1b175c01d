"""Landmark reenactment on generated 720p media: speed, expression transfer, identity.

The driver is a different portrait whose own landmarks we warp on a known program
(syllable-like mouth motion, blinks, slow roll), so the truth is known on every
frame. We track the driver, drive the target image, re-detect the target's
landmarks on each output frame and correlate its mouth opening and eye aperture
with the program. All figures come from the same run.

Targets (issue 6): >= 20 fps at 720p; r(mouth) and r(eyes) >= 0.6; identity distance
to the target <= 0.35.

    .venv/bin/python benchmarks/reenact_bench.py [--seconds 10]

Prints a table and writes benchmarks/results/reenact.json.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.engines import engine as registry_engine  # noqa: E402
from benchmarks.report import write_results  # noqa: E402
from models.face import load_image  # noqa: E402
from models.face.tracking import FaceTracker  # noqa: E402
from tests.support.synthetic_faces import (  # noqa: E402
    drift_clip,
    expression_clip,
    expression_program,
    eye_aperture,
    mouth_opening,
)

RESULTS = ROOT / "benchmarks" / "results" / "reenact.json"
FPS = 25.0
FACES = ROOT / "assets" / "faces"
IDENTITY_EVERY = 10


def run(seconds: float, driver_name: str, target_name: str) -> dict[str, object]:
    engine = registry_engine("face", "dlib")
    count = int(seconds * FPS)
    driver_image = load_image(FACES / f"{driver_name}.png")
    program = expression_program(count, fps=FPS, seed=11)
    frames, _ = expression_clip(driver_image, engine.detect(driver_image)[0].landmarks, program)

    start = time.perf_counter()
    driver_track = list(FaceTracker(engine, fps=FPS).track(frames))
    track_s = time.perf_counter() - start

    target = drift_clip(load_image(FACES / f"{target_name}.png"), frame_count=1, fps=FPS)[0]
    target_face = engine.detect(target)[0]
    reenactor = registry_engine("reenact")
    start = time.perf_counter()
    outputs = list(reenactor.render(target, target_face, frames, driver_track, fps=FPS))
    render_s = time.perf_counter() - start

    def measure(images: list[np.ndarray]) -> tuple[list[float], list[float]]:
        mouth, eyes = [], []
        for image in images:
            found = engine.detect(image)
            mouth.append(mouth_opening(found[0].landmarks) if found else np.nan)
            eyes.append(eye_aperture(found[0].landmarks) if found else np.nan)
        return mouth, eyes

    def corr(truth: np.ndarray, measured: list[float]) -> float:
        values = np.asarray(measured)
        ok = ~np.isnan(values)
        return float(np.corrcoef(truth[ok], values[ok])[0, 1])

    out_mouth, out_eyes = measure(outputs)
    drv_mouth = [mouth_opening(t.face.landmarks) if t else np.nan for t in driver_track]
    drv_eyes = [eye_aperture(t.face.landmarks) if t else np.nan for t in driver_track]
    reference = engine.embed(target, target_face)
    distances = []
    for index in range(0, count, IDENTITY_EVERY):
        found = engine.detect(outputs[index])
        if found:
            distances.append(engine.distance(reference, engine.embed(outputs[index], found[0])))
    arms = {
        "driver_redetected": {"mouth_r": corr(program.mouth, drv_mouth),
                              "eyes_r": corr(-program.eyes_closed, drv_eyes)},
        "output_redetected": {"mouth_r": corr(program.mouth, out_mouth),
                              "eyes_r": corr(-program.eyes_closed, out_eyes)},
    }
    render_fps = count / render_s
    return {
        "benchmark": "reenact",
        "clip": {"seconds": seconds, "frames": count, "fps": FPS, "width": 1280, "height": 720,
                 "driver": driver_name, "target": target_name},
        "machine": {"python": platform.python_version(), "processor": platform.machine(),
                    "cpus": os.cpu_count()},
        "render_fps": render_fps,
        "driver_tracking_fps": count / track_s,
        "end_to_end_fps": count / (render_s + track_s),
        "realtime_ratio": render_fps / FPS,
        "render_vs_tracking": (track_s / count) / (render_s / count),
        "arms": arms,
        "transfer_ratio_mouth": arms["output_redetected"]["mouth_r"]
        / arms["driver_redetected"]["mouth_r"],
        "transfer_ratio_eyes": arms["output_redetected"]["eyes_r"]
        / arms["driver_redetected"]["eyes_r"],
        "identity_distance_max": float(max(distances)) if distances else float("nan"),
        "identity_distance_mean": float(np.mean(distances)) if distances else float("nan"),
        "targets": {"render_fps": 20.0, "mouth_r": 0.6, "eyes_r": 0.6,
                    "identity_distance_max": 0.35},
        "meets_targets": bool(render_fps >= 20.0
                              and arms["output_redetected"]["mouth_r"] >= 0.6
                              and arms["output_redetected"]["eyes_r"] >= 0.6
                              and distances and max(distances) <= 0.35),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--driver", default="male01")
    parser.add_argument("--target", default="female01")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    report = run(args.seconds, args.driver, args.target)
    print(f"landmark reenactment, {report['clip']['frames']} frames of 1280x720 "  # type: ignore[index]
          f"({args.driver} drives {args.target})")
    print(f"render {report['render_fps']:.1f} fps ({report['realtime_ratio']:.2f}x real time, "
          f"{report['render_vs_tracking']:.2f}x driver tracking cost); "
          f"end to end {report['end_to_end_fps']:.1f} fps")
    header = f"{'re-detected on':<20}{'r mouth':>9}{'r eyes':>9}"
    print(header)
    print("-" * len(header))
    for name, arm in report["arms"].items():  # type: ignore[union-attr]
        print(f"{name:<20}{arm['mouth_r']:>9.2f}{arm['eyes_r']:>9.2f}")
    print(f"output/driver r ratio: mouth {report['transfer_ratio_mouth']:.2f}, "
          f"eyes {report['transfer_ratio_eyes']:.2f}; identity distance max "
          f"{report['identity_distance_max']:.3f}")
    print(f"meets targets: {report['meets_targets']}")
    write_results(args.out, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
