"""Viseme lip-sync on a generated 720p talking-head clip: speed, sync, locality, identity.

The clip is a still portrait with small head motion (drift and roll) and espeak-ng
(or Piper) speech. We track the face, render, then re-measure the mouth on every
output frame with dlib's landmarks and compare it with the speech envelope. Every
figure comes from the same run, so ratios hold even when the machine is busy.

Targets (issue 6): render >= 25 fps at 720p; Pearson r(mouth, envelope) >= 0.5;
PSNR outside the face region >= 45 dB; dlib identity distance to the source <= 0.35.

    .venv/bin/python benchmarks/lipsync_bench.py [--seconds 20] [--tts espeak-ng|piper]

Prints a table and writes benchmarks/results/lipsync.json.
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
from models.face.warp import crop_box, ring_points  # noqa: E402
from tests.support.synthetic_faces import drift_clip, mouth_opening  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "lipsync.json"
FPS = 25.0
TEXT = (
    "Welcome to the studio. Today we will show how a licensed face can speak new words. "
    "Every render needs a signed grant from the performer, and every output carries a label, "
    "a watermark and a manifest. Thank you for watching, and see you again soon. "
    "Good morning, good evening, and a very good night to all of you out there."
)
IDENTITY_EVERY = 25


def _loudness(samples: np.ndarray, rate: int, count: int) -> np.ndarray:
    hop = rate / FPS
    return np.array([
        float(np.sqrt(np.mean(samples[int(i * hop):int((i + 1) * hop)].astype(np.float64) ** 2)))
        if int(i * hop) < len(samples) else 0.0
        for i in range(count)
    ])


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)) if a.size else 0.0
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def run(seconds: float, tts: str) -> dict[str, object]:
    engine = registry_engine("face", "dlib")
    speech = registry_engine("tts", tts).synthesize(TEXT, language="en")
    samples = speech.samples[: int(seconds * speech.sample_rate)]
    count = int(len(samples) / speech.sample_rate * FPS)
    timings = [p for p in speech.phonemes if p.end_s <= len(samples) / speech.sample_rate]
    frames = drift_clip(load_image(ROOT / "assets" / "faces" / "female01.png"),
                        frame_count=count, fps=FPS, face_px=420)

    start = time.perf_counter()
    track = list(FaceTracker(engine, fps=FPS).track(frames))
    track_s = time.perf_counter() - start

    arms: dict[str, dict[str, float]] = {}
    outputs: dict[str, list[np.ndarray]] = {}
    for mode, use_timings in (("timings", timings), ("audio_only", None)):
        lipsync = registry_engine("lipsync", "viseme")
        start = time.perf_counter()
        outputs[mode] = list(lipsync.render(frames, track, samples, speech.sample_rate, fps=FPS,
                                            timings=use_timings))
        render_s = time.perf_counter() - start
        arms[mode] = {"render_fps": count / render_s, "ms_per_frame": 1000 * render_s / count,
                      "end_to_end_fps": count / (render_s + track_s)}

    loud = _loudness(samples, speech.sample_rate, count)
    reference = [engine.embed(frames[i], t.face) if t is not None else None
                 for i, t in enumerate(track)]
    for mode, outs in outputs.items():
        openings, psnr_outside, distances = [], [], []
        for index, (out, tracked) in enumerate(zip(outs, track, strict=True)):
            if tracked is None:
                openings.append(np.nan)
                continue
            openings.append(mouth_opening(engine.landmarks_in_box(out, tracked.face.box)))
            ring = ring_points(tracked.face.landmarks, kind="lower", margin=0.4)
            box = crop_box(ring, shape=out.shape)
            outside = np.ones(out.shape[:2], bool)
            outside[box.top:box.bottom, box.left:box.right] = False
            psnr_outside.append(_psnr(out[outside], frames[index][outside]))
            if index % IDENTITY_EVERY == 0:
                found = engine.detect(out)
                if found and reference[index] is not None:
                    distances.append(engine.distance(reference[index], engine.embed(out, found[0])))
        valid = ~np.isnan(openings)
        r = float(np.corrcoef(np.asarray(openings)[valid], loud[valid])[0, 1])
        arms[mode].update({
            "mouth_envelope_r": r,
            "psnr_outside_face_db": float(min(psnr_outside)) if psnr_outside else float("nan"),
            "identity_distance_max": float(max(distances)) if distances else float("nan"),
            "identity_distance_mean": float(np.mean(distances)) if distances else float("nan"),
        })
        arm = arms[mode]
        arm["realtime_ratio"] = arm["render_fps"] / FPS
        arm["render_vs_tracking"] = (1000 * track_s / count) / arm["ms_per_frame"]
    best = arms["timings"]
    return {
        "benchmark": "lipsync",
        "clip": {"seconds": count / FPS, "frames": count, "fps": FPS, "width": 1280,
                 "height": 720, "tts": tts, "face_px": 420},
        "tracking_fps": count / track_s,
        "machine": {"python": platform.python_version(), "processor": platform.machine(),
                    "cpus": os.cpu_count()},
        "arms": arms,
        "targets": {"render_fps": 25.0, "mouth_envelope_r": 0.5, "psnr_outside_face_db": 45.0,
                    "identity_distance_max": 0.35},
        "meets_targets": bool(best["render_fps"] >= 25.0 and best["mouth_envelope_r"] >= 0.5
                              and best["psnr_outside_face_db"] >= 45.0
                              and best["identity_distance_max"] <= 0.35),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--tts", default="espeak-ng", choices=["espeak-ng", "piper"])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    report = run(args.seconds, args.tts)
    clip = report["clip"]
    print(f"viseme lip-sync, {clip['frames']} frames of 1280x720 at {FPS:g} fps "  # type: ignore[index]
          f"({args.tts}); tracking {report['tracking_fps']:.1f} fps")
    header = (f"{'arm':<12}{'fps':>8}{'x real':>8}{'e2e fps':>9}{'x track':>9}{'r env':>8}"
              f"{'PSNR out':>10}{'id max':>8}")
    print(header)
    print("-" * len(header))
    for name, arm in report["arms"].items():  # type: ignore[union-attr]
        print(f"{name:<12}{arm['render_fps']:>8.1f}{arm['realtime_ratio']:>8.2f}"
              f"{arm['end_to_end_fps']:>9.1f}{arm['render_vs_tracking']:>9.2f}"
              f"{arm['mouth_envelope_r']:>8.2f}{arm['psnr_outside_face_db']:>10.1f}"
              f"{arm['identity_distance_max']:>8.3f}")
    print(f"meets targets: {report['meets_targets']}")
    write_results(args.out, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
