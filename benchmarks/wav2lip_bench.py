"""Wav2Lip throughput: the generator alone at several batch sizes, and a lip-synced clip.

The official weights cannot be shipped, so the generator runs with RANDOM weights:
speed does not depend on the values, only the pictures would. Two measurements,
in one process on the same device:

* network: 96x96 faces per second through the generator at batch 16/64/128
  (fp16 + channels-last on CUDA, fp32 on CPU), relative to batch 16;
* end to end: a generated clip of a fictional portrait (assets/faces) at --size,
  tracked with dlib (`FaceTracker`) and lip-synced by `Wav2LipEngine.render`;
  reported as fps and as real-time factors (seconds of work per second of video).

    .venv/bin/python benchmarks/wav2lip_bench.py [--seconds 2] [--device auto] [--size 720p]

Prints a table and writes benchmarks/results/wav2lip.json. Runs unchanged on a GPU.
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

import torch  # noqa: E402

from benchmarks.engines import engine as registry_engine  # noqa: E402
from benchmarks.report import write_results  # noqa: E402
from models.face import load_image  # noqa: E402
from models.face.tracking import FaceTracker  # noqa: E402
from models.lipsync.wav2lip.engine import Wav2LipEngine  # noqa: E402
from models.lipsync.wav2lip.model import Wav2Lip  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "wav2lip.json"
SIZES_PX = {"1080p": (1920, 1080), "720p": (1280, 720), "480p": (854, 480)}
FACE_HEIGHT_FRACTION = 0.45  # the portrait's side as a fraction of the frame height
BACKGROUND_RGB = (200, 205, 210)
FPS = 25.0
SAMPLE_RATE_HZ = 16_000


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench_network(engine: Wav2LipEngine, batches: list[int], repeats: int) -> dict[str, dict]:
    """Faces per second through `predict` (includes host<->device copies and conversions)."""
    rng = np.random.default_rng(0)
    results: dict[str, dict] = {}
    for batch in batches:
        crops = rng.integers(0, 256, size=(batch, 96, 96, 3), dtype=np.uint8)
        mels = rng.uniform(-4, 4, size=(batch, 80, 16)).astype(np.float32)
        warm = batch if engine.device.type == "cuda" else min(batch, 2)
        engine.predict(crops[:warm], mels[:warm])  # cuDNN autotune / allocator warm-up
        sync(engine.device)
        start = time.perf_counter()
        for _ in range(repeats):
            engine.predict(crops, mels)
        sync(engine.device)
        elapsed = time.perf_counter() - start
        results[str(batch)] = {"faces_per_s": batch * repeats / elapsed,
                               "ms_per_batch": 1000 * elapsed / repeats}
    base = results[str(batches[0])]["faces_per_s"]
    for row in results.values():
        row["ratio_vs_first_batch"] = row["faces_per_s"] / base
    return results


def make_clip(size: tuple[int, int], frame_count: int) -> list[np.ndarray]:
    """female01 drifting slowly over a flat background (so tracking follows it)."""
    width, height = size
    side = int(height * FACE_HEIGHT_FRACTION)
    portrait = cv2.resize(load_image(ROOT / "assets" / "faces" / "female01.png"), (side, side),
                          interpolation=cv2.INTER_CUBIC)
    frames = []
    for i in range(frame_count):
        frame = np.empty((height, width, 3), dtype=np.uint8)
        frame[:] = BACKGROUND_RGB
        x = int(width / 2 - side / 2 + 0.05 * width * np.sin(i / 15))
        y = int(height / 2 - side / 2 + 0.03 * height * np.cos(i / 19))
        frame[y:y + side, x:x + side] = portrait
        frames.append(frame)
    return frames


def speech_like(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ
    envelope = 0.5 * (1 + np.sin(2 * np.pi * 4 * t))
    voice = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 8))
    return (0.2 * envelope * voice).astype(np.float32)


def bench_end_to_end(engine: Wav2LipEngine, size: tuple[int, int], seconds: float) -> dict:
    frame_count = max(1, round(seconds * FPS))
    frames = make_clip(size, frame_count)
    audio = speech_like(seconds)
    start = time.perf_counter()
    track = list(FaceTracker(registry_engine("face", "dlib"), fps=FPS).track(frames))
    track_s = time.perf_counter() - start
    start = time.perf_counter()
    produced = sum(1 for _ in engine.render(iter(frames), iter(track), audio, SAMPLE_RATE_HZ,
                                            fps=FPS))
    sync(engine.device)
    render_s = time.perf_counter() - start
    duration_s = frame_count / FPS
    return {
        "frames": produced,
        "faces_found": sum(t is not None for t in track),
        "clip_s": duration_s,
        "track_s": track_s,
        "render_s": render_s,
        "track_fps": frame_count / track_s,
        "render_fps": frame_count / render_s,
        "end_to_end_fps": frame_count / (track_s + render_s),
        "render_time_over_clip": render_s / duration_s,
        "end_to_end_time_over_clip": (track_s + render_s) / duration_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="clip length (s)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    parser.add_argument("--size", choices=sorted(SIZES_PX), default="720p")
    parser.add_argument("--batches", default="16,64,128", help="network batch sizes")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="end-to-end engine batch (default 128 on CUDA, 16 on CPU)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed network runs per batch size (default 5 on CUDA, 1 on CPU)")
    args = parser.parse_args()

    torch.manual_seed(0)
    engine = Wav2LipEngine.from_network(Wav2Lip(), device=args.device)
    on_cuda = engine.device.type == "cuda"
    batches = [int(b) for b in args.batches.split(",") if b.strip()]
    repeats = args.repeats or (5 if on_cuda else 1)
    network = bench_network(engine, batches, repeats)

    engine.batch_size = args.batch_size or (128 if on_cuda else 16)
    end_to_end = bench_end_to_end(engine, SIZES_PX[args.size], args.seconds)

    result = {
        "benchmark": "wav2lip",
        "weights": "random (official checkpoints are not installable; speed only)",
        "device": str(engine.device),
        "device_name": device_name(engine.device),
        "dtype": str(engine.dtype).replace("torch.", ""),
        "torch": torch.__version__,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "network": {"repeats": repeats, "batches": network},
        "end_to_end": {"size": args.size, "fps": FPS, "batch_size": engine.batch_size,
                       **end_to_end},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    write_results(RESULTS, result)

    print(f"Wav2Lip benchmark: RANDOM weights, {result['device_name']} ({result['dtype']})")
    print(f"{'network batch':>14} {'faces/s':>10} {'ms/batch':>10} {'vs first':>9}")
    for batch, row in network.items():
        print(f"{batch:>14} {row['faces_per_s']:>10.1f} {row['ms_per_batch']:>10.1f} "
              f"{row['ratio_vs_first_batch']:>8.2f}x")
    e2e = result["end_to_end"]
    print(f"\nend to end, {args.size}, {e2e['frames']} frames ({e2e['clip_s']:.1f} s), "
          f"batch {engine.batch_size}, faces found {e2e['faces_found']}/{e2e['frames']}")
    print(f"{'stage':>14} {'fps':>10} {'time/clip':>10}")
    print(f"{'track (dlib)':>14} {e2e['track_fps']:>10.1f} "
          f"{e2e['track_s'] / e2e['clip_s']:>9.2f}x")
    print(f"{'wav2lip render':>14} {e2e['render_fps']:>10.1f} "
          f"{e2e['render_time_over_clip']:>9.2f}x")
    print(f"{'end to end':>14} {e2e['end_to_end_fps']:>10.1f} "
          f"{e2e['end_to_end_time_over_clip']:>9.2f}x")
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
