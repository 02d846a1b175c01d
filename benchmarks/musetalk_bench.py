"""MuseTalk 1.5 throughput on CUDA: the generator on 256x256 crops, and a lip-synced clip.

With the official checkpoints placed under ``--models-dir`` (``<dir>/musetalk/...``)
they are loaded strictly; otherwise the FULL-SIZE networks run with RANDOM weights:
speed does not depend on the values, only the pictures would. Two measurements, in
one process on the same device:

* network: 256x256 faces per second through the generator (two VAE encodes, one UNet
  step, one VAE decode; uint8 crops in and out, host<->device copies included) at
  batch 8/32/64, fp16 on CUDA, relative to the first batch size;
* end to end: a generated clip of a fictional portrait (assets/faces) at --size,
  tracked with dlib (`FaceTracker`: detection on key frames, optical flow between)
  and lip-synced by `MuseTalkEngine.render` (whisper features included).

    .venv/bin/python benchmarks/musetalk_bench.py [--seconds 4] [--size 720p] [--models-dir D]

Without CUDA it prints a skip line and exits 0 (``--cpu --reduced`` runs the same
code on narrow random networks, to check the script itself). Writes
benchmarks/results/musetalk.json.
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

from benchmarks.report import write_results  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "musetalk.json"
FPS = 25.0
SAMPLE_RATE_HZ = 16_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="clip length (s)")
    parser.add_argument("--size", choices=("1080p", "720p", "480p"), default="720p")
    parser.add_argument("--batches", default="8,32,64", help="network batch sizes")
    parser.add_argument("--batch-size", type=int, default=32, help="end-to-end engine batch")
    parser.add_argument("--repeats", type=int, default=5, help="timed network runs per batch")
    parser.add_argument("--models-dir", type=Path, default=None,
                        help="studio models dir holding musetalk/ (official weights)")
    parser.add_argument("--cpu", action="store_true", help="run on the CPU (script check)")
    parser.add_argument("--reduced", action="store_true",
                        help="narrow random networks (with --cpu: seconds, not hours)")
    args = parser.parse_args(argv)

    import torch

    if not args.cpu and not torch.cuda.is_available():
        print("musetalk benchmark skipped: no CUDA device (it measures GPU throughput; "
              "--cpu --reduced checks the script)")
        return 0
    from benchmarks.wav2lip_bench import SIZES_PX, device_name, make_clip, speech_like, sync
    from models.lipsync.musetalk.config import PUBLISHED, Architecture
    from models.lipsync.musetalk.engine import MuseTalkEngine
    from models.lipsync.musetalk.layout import find_placement
    from models.lipsync.musetalk.loading import load_networks
    from models.lipsync.musetalk.networks import MuseTalkNetworks

    device = torch.device("cpu" if args.cpu else "cuda")
    architecture = Architecture.reduced() if args.reduced else PUBLISHED
    placement = None if args.models_dir is None or args.reduced else find_placement(
        args.models_dir)[0]
    start = time.perf_counter()
    if placement is not None:
        networks, loaded = load_networks(placement)
        weights = "official checkpoints (" + ", ".join(
            f"{name} sha256 {digest[:12]}" for name, digest in loaded.digests.items()) + ")"
    else:
        torch.manual_seed(0)
        with torch.device(device):
            networks = MuseTalkNetworks(architecture)
        weights = ("random, " + ("reduced widths" if args.reduced else "full size")
                   + " (speed only: the values do not change the work)")
    engine = MuseTalkEngine(networks, device=str(device), batch_size=args.batch_size)
    load_s = time.perf_counter() - start

    rng = np.random.default_rng(0)
    tokens = architecture.audio_tokens
    width = int(architecture.unet["cross_attention_dim"])
    batches = [int(b) for b in args.batches.split(",") if b.strip()]
    network: dict[str, dict[str, float]] = {}
    for batch in batches:
        crops = rng.integers(0, 256, size=(batch, 256, 256, 3), dtype=np.uint8)
        prompts = rng.standard_normal((batch, tokens, width)).astype(np.float32)
        engine.generate(crops, prompts)  # cuDNN autotune and allocator warm-up
        sync(engine.device)
        start = time.perf_counter()
        for _ in range(args.repeats):
            engine.generate(crops, prompts)
        sync(engine.device)
        elapsed = time.perf_counter() - start
        network[str(batch)] = {"faces_per_s": batch * args.repeats / elapsed,
                               "ms_per_batch": 1000 * elapsed / args.repeats}
    base = network[str(batches[0])]["faces_per_s"]
    for row in network.values():
        row["ratio_vs_first_batch"] = row["faces_per_s"] / base

    from benchmarks.engines import engine as registry_engine
    from models.face.tracking import FaceTracker

    frame_count = max(1, round(args.seconds * FPS))
    frames = make_clip(SIZES_PX[args.size], frame_count)
    audio = speech_like(args.seconds)
    start = time.perf_counter()
    track = list(FaceTracker(registry_engine("face", "dlib"), fps=FPS).track(frames))
    track_s = time.perf_counter() - start
    start = time.perf_counter()
    produced = sum(1 for _ in engine.render(iter(frames), iter(track), audio, SAMPLE_RATE_HZ,
                                            fps=FPS))
    sync(engine.device)
    render_s = time.perf_counter() - start
    clip_s = frame_count / FPS
    end_to_end = {
        "size": args.size, "frames": produced, "faces_found": sum(t is not None for t in track),
        "clip_s": clip_s, "track_s": track_s, "render_s": render_s,
        "track_fps": frame_count / track_s, "render_fps": frame_count / render_s,
        "end_to_end_fps": frame_count / (track_s + render_s),
        "render_time_over_clip": render_s / clip_s, "batch_size": engine.batch_size,
    }
    result = {
        "benchmark": "musetalk",
        "weights": weights,
        "architecture": "reduced" if args.reduced else "published (MuseTalk 1.5)",
        "device": str(engine.device), "device_name": device_name(engine.device),
        "dtype": str(engine.dtype).replace("torch.", ""), "torch": torch.__version__,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "load_s": load_s,
        "network": {"repeats": args.repeats, "batches": network},
        "end_to_end": end_to_end,
        "goal": "issue 11: >= 100 fps end to end at 720p on one H100/H200 (fp16, batched)",
    }
    write_results(RESULTS, result)
    print(f"MuseTalk benchmark: {weights}; {result['device_name']} ({result['dtype']})")
    print(f"{'network batch':>14} {'faces/s':>10} {'ms/batch':>10} {'vs first':>9}")
    for batch, row in network.items():
        print(f"{batch:>14} {row['faces_per_s']:>10.1f} {row['ms_per_batch']:>10.1f} "
              f"{row['ratio_vs_first_batch']:>8.2f}x")
    print(f"\nend to end, {args.size}, {produced} frames ({clip_s:.1f} s), batch "
          f"{engine.batch_size}, faces found {end_to_end['faces_found']}/{produced}")
    print(f"{'track (dlib)':>16} {end_to_end['track_fps']:>8.1f} fps")
    print(f"{'musetalk render':>16} {end_to_end['render_fps']:>8.1f} fps")
    print(f"{'end to end':>16} {end_to_end['end_to_end_fps']:>8.1f} fps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
