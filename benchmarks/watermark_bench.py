"""Watermark benchmark: robustness, imperceptibility and speed on generated media.

For each clip (720p video from varied ffmpeg sources with grain; speech over noise
and tones at 48 or 44.1 kHz, mono or stereo) it embeds a random render id, applies
each attack with the real tools, and records raw bit accuracy (soft bits read on the
known grid vs the true codeword) and whether the exact id was recovered. Speed is
the ratio embed time / libx264 `-preset veryfast` encode time of the same frames,
both measured here in the same run. Prints a table; writes
benchmarks/results/watermark.json.

    .venv/bin/python benchmarks/watermark_bench.py --clips 20 --seconds 5
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from provenance.watermark import payload  # noqa: E402
from provenance.watermark.audio import AudioWatermarker  # noqa: E402
from provenance.watermark.keys import keyed_rng  # noqa: E402
from provenance.watermark.video import VideoWatermarker  # noqa: E402
from tests.support import attacks  # noqa: E402

FPS = 25
TRIM_S = 1.3
VIDEO_SOURCES = ("testsrc2", "mandelbrot", "smptehdbars", "gradients=speed=0.05",
                 "testsrc=decimals=2")
TEXTS = (
    "The quick brown fox jumps over the lazy dog while the studio keeps its ledger.",
    "Every output carries a visible label and an invisible mark that survives coding.",
    "She sells sea shells by the sea shore; the performer signed a limited grant.",
    "Numbers like forty two and seven hundred are spoken slowly, then quickly again.",
    "A consent gate checks the grant again at publish time, in case it was revoked.",
)


def x264_encode_seconds(frames: np.ndarray) -> float:
    """Wall time of libx264 veryfast encoding these RGB frames (piped, to /dev/null)."""
    _, height, width, _ = frames.shape
    start = time.perf_counter()
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "rawvideo", "-pix_fmt",
                    "rgb24", "-s", f"{width}x{height}", "-r", str(FPS), "-i", "-", "-c:v",
                    "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
                    "-f", "mp4", "-y", "/dev/null"], input=frames.tobytes(), check=True)
    return time.perf_counter() - start


def bit_accuracy(soft: np.ndarray, bits: np.ndarray) -> float:
    return float(np.mean((soft > 0) == (bits == 1)))


def run_video(clip: int, seconds: float, key: bytes, rng: np.random.Generator
              ) -> tuple[dict[str, tuple[float, bool]], float, float, float]:
    source = VIDEO_SOURCES[clip % len(VIDEO_SOURCES)]
    grain = int(rng.integers(4, 14))
    frames = attacks.lavfi_video(source, seconds=seconds, fps=FPS,
                                 vf=f"noise=alls={grain}:allf=t:all_seed={clip + 1}")
    render_id = int(rng.integers(0, 2**63))
    bits = payload.encode(render_id)
    wm = VideoWatermarker(key)
    start = time.perf_counter()
    marked = np.stack([wm.embed_frame(f, render_id, i) for i, f in enumerate(frames)])
    embed_s = time.perf_counter() - start
    encode_s = x264_encode_seconds(frames)
    psnr = float(np.mean([attacks.psnr_db(a, b) for a, b in zip(frames[::5], marked[::5],
                                                                strict=True)]))
    variants: dict[str, Callable[[], np.ndarray]] = {
        "none": lambda: marked,
        "h264 crf28": lambda: attacks.transcode_video(marked, fps=FPS, crf=28),
        "scale 640x360": lambda: attacks.transcode_video(
            marked, fps=FPS, vf="scale=640:360", out_size=(640, 360)),
        "brightness +10%": lambda: attacks.scale_brightness(marked, factor=1.1),
        "brightness -10%": lambda: attacks.scale_brightness(marked, factor=0.9),
        f"trim {TRIM_S}s": lambda: attacks.transcode_video(marked, fps=FPS,
                                                           trim_start_s=TRIM_S),
    }
    results = {}
    for name, make in variants.items():
        video = make()
        found = wm.detect(iter(video)).render_id == render_id
        results[name] = (bit_accuracy(wm.soft_bits(iter(video)), bits), found)
    results["unmarked (false positive)"] = (0.0, wm.detect(iter(frames)).render_id is not None)
    return results, psnr, embed_s, encode_s


def run_audio(clip: int, seconds: float, key: bytes, rng: np.random.Generator
              ) -> tuple[dict[str, tuple[float, bool]], float, float]:
    rate = (48_000, 44_100)[clip % 2]
    channels = 2 if clip % 3 == 2 else 1
    audio = attacks.speech_mix(TEXTS[clip % len(TEXTS)], seconds=seconds, sample_rate=rate,
                               seed=clip, channels=channels)
    render_id = int(rng.integers(0, 2**63))
    bits = payload.encode(render_id)
    wm = AudioWatermarker(key)
    start = time.perf_counter()
    marked = wm.embed(audio, rate, render_id)
    embed_rtf = (time.perf_counter() - start) / seconds
    snr = attacks.snr_db(audio, marked)
    cut = int(TRIM_S * rate)
    variants: dict[str, tuple[Callable[[], np.ndarray], int, float]] = {
        "none": (lambda: marked, rate, 0.0),
        "aac 96k": (lambda: attacks.aac(marked, rate, bitrate_kbps=96), rate, 0.0),
        "mp3 128k": (lambda: attacks.mp3(marked, rate, bitrate_kbps=128), rate, 0.0),
        "resample 16k": (lambda: attacks.resample(marked, rate, target_rate=16_000),
                         16_000, 0.0),
        "gain +6 dB": (lambda: marked * np.float32(2.0), rate, 0.0),
        "gain -6 dB": (lambda: marked * np.float32(0.5), rate, 0.0),
        f"cut {TRIM_S}s": (lambda: marked[cut:], rate, cut / rate),
        f"cut {TRIM_S}s + mp3": (lambda: attacks.mp3(marked[cut:], rate), rate, cut / rate),
    }
    results = {}
    for name, (make, out_rate, start_s) in variants.items():
        signal = make()
        found = wm.detect(signal, out_rate).render_id == render_id
        soft = wm.soft_bits_at(signal, out_rate, start_s=start_s)
        results[name] = (bit_accuracy(soft, bits), found)
    results["unmarked (false positive)"] = (0.0, wm.detect(audio, rate).render_id is not None)
    return results, snr, embed_rtf


def summarize(per_clip: list[dict[str, tuple[float, bool]]]) -> dict[str, dict[str, float]]:
    out = {}
    for name in per_clip[0]:
        accs = [c[name][0] for c in per_clip]
        hits = [c[name][1] for c in per_clip]
        out[name] = {"bit_accuracy_mean": float(np.mean(accs)),
                     "bit_accuracy_min": float(np.min(accs)),
                     "rate": float(np.mean(hits)), "count": len(hits)}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=5.0, help="video clip length")
    parser.add_argument("--audio-seconds", type=float, default=5.0)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/watermark.json")
    args = parser.parse_args()
    key = bytes(range(32))
    rng = keyed_rng(key, stream="benchmark")
    video_clips, audio_clips = [], []
    psnrs, snrs, embed_total, encode_total, rtfs = [], [], 0.0, 0.0, []
    for clip in range(args.clips):
        v, psnr, embed_s, encode_s = run_video(clip, args.seconds, key, rng)
        a, snr, rtf = run_audio(clip, args.audio_seconds, key, rng)
        video_clips.append(v)
        audio_clips.append(a)
        psnrs.append(psnr)
        snrs.append(snr)
        embed_total += embed_s
        encode_total += encode_s
        rtfs.append(rtf)
        print(f"clip {clip + 1}/{args.clips}: PSNR {psnr:.1f} dB, SNR {snr:.1f} dB",
              file=sys.stderr, flush=True)
    video = summarize(video_clips)
    audio = summarize(audio_clips)
    speed_ratio = embed_total / encode_total
    frames = int(round(args.seconds * FPS)) * args.clips
    result = {
        "benchmark": "watermark",
        "machine": {"cpus": __import__("os").cpu_count(), "platform": platform.platform()},
        "config": {"clips": args.clips, "video_seconds": args.seconds,
                   "audio_seconds": args.audio_seconds, "video_size": "1280x720",
                   "fps": FPS, "payload_bits": payload.CODEWORD_BITS},
        "video": {"attacks": video, "psnr_db_mean": float(np.mean(psnrs)),
                  "psnr_db_min": float(np.min(psnrs)),
                  "embed_ms_per_frame": 1e3 * embed_total / frames,
                  "x264_veryfast_ms_per_frame": 1e3 * encode_total / frames,
                  "embed_over_x264_veryfast": speed_ratio},
        "audio": {"attacks": audio, "snr_db_mean": float(np.mean(snrs)),
                  "snr_db_min": float(np.min(snrs)),
                  "embed_real_time_factor": float(np.mean(rtfs))},
    }
    print(f"\nVideo ({args.clips} clips x {args.seconds:g} s, 1280x720 @ {FPS} fps)")
    print(f"{'attack':28s} {'bit acc (mean/min)':>20s} {'exact id':>9s}")
    for name, row in video.items():
        print(f"{name:28s} {row['bit_accuracy_mean']:>11.4f}/{row['bit_accuracy_min']:.4f}"
              f" {row['rate']:>9.2f}")
    print(f"PSNR mean {np.mean(psnrs):.2f} dB (min {np.min(psnrs):.2f}); embed "
          f"{result['video']['embed_ms_per_frame']:.2f} ms/frame vs x264 veryfast "
          f"{result['video']['x264_veryfast_ms_per_frame']:.2f} ms/frame -> ratio "
          f"{speed_ratio:.3f}")
    print(f"\nAudio ({args.clips} clips x {args.audio_seconds:g} s speech over noise)")
    print(f"{'attack':28s} {'bit acc (mean/min)':>20s} {'exact id':>9s}")
    for name, row in audio.items():
        print(f"{name:28s} {row['bit_accuracy_mean']:>11.4f}/{row['bit_accuracy_min']:.4f}"
              f" {row['rate']:>9.2f}")
    print(f"SNR mean {np.mean(snrs):.2f} dB (min {np.min(snrs):.2f}); embed real-time "
          f"factor {np.mean(rtfs):.4f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
