"""Watermark benchmark: robustness, invisibility, false positives and cost.

Video clips (720p, 25 fps, 5 s by default; real uploads are longer still): presenter
shots built from the six portraits in assets/faces on flat studio backdrops
(tests.support.attacks.studio_clip) and ffmpeg lavfi patterns with grain. Each clip
gets a random render id; every attack of the grid is applied with the real tools
(libx264, libx265, libvpx-vp9, swscale, OpenCV) and scored by exact 64-bit id
recovery with the detector `likeness verify` uses. Each video scheme is an *arm*
(``likeness-dct-ss/1`` and ``/3`` by default; ``--algorithms`` can add ``/2``): every
arm marks the same clips with the same ids and meets the same attacks in the same
run, so the table compares them directly. Invisibility is whole-frame PSNR, PSNR
over flat 16x16 blocks and a JND map (tests/support/jnd.py: Chou and Li 1995, Yang
et al. 2005): per clip the share of pixels, of flat-block pixels and of flat blocks
where the mark's luma change exceeds one JND; a PNG sheet shows a 4x crop of a flat
area before/after (of the last arm), the difference x16 and the pixels above one
JND. False positives are checked on unmarked variants of every clip and on clips
marked under another key.
Cost: embedding time (RGB frames, and the stamp path's I420 luma planes) / x264
veryfast encode of the same frames (same run), and the detection time of a 10 s
720p clip, marked and unmarked. Audio: speech over noise and tones through the
codec and time/pitch grid. Combined: video and audio of each clip marked as publish
marks them, each medium attacked as a platform would, traced when either decodes.
Writes benchmarks/results/watermark.json and benchmarks/results/watermark_flat.png.

    .venv/bin/python -m benchmarks watermark      (or python benchmarks/watermark_bench.py)
    python benchmarks/watermark_bench.py --clips 4 --attacks crf --no-audio   (a subset)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from likeness.errors import InternalError  # noqa: E402
from media.ffmpeg import ffmpeg_path  # noqa: E402
from provenance.watermark import payload  # noqa: E402
from provenance.watermark.audio import ALGORITHM as AUDIO_ALGORITHM  # noqa: E402
from provenance.watermark.audio import AudioWatermarker  # noqa: E402
from provenance.watermark.keys import keyed_rng, new_watermark_key  # noqa: E402
from provenance.watermark.video import ALGORITHM as PUBLISHED_VIDEO_ALGORITHM  # noqa: E402
from provenance.watermark.video import VideoWatermarker  # noqa: E402
from provenance.watermark.video_v1 import ALGORITHM as V1_ALGORITHM  # noqa: E402
from provenance.watermark.video_v3 import ALGORITHM as V3_ALGORITHM  # noqa: E402
from tests.support import attacks as A  # noqa: E402
from tests.support import audio_attacks as AA  # noqa: E402
from tests.support import jnd  # noqa: E402

FPS = 25
FACES = ("female01.png", "female02.png", "female03.png", "male01.png", "male02.png",
         "male04.png")
BACKDROPS = ((118, 124, 132), (40, 44, 52), (200, 196, 188))
LAVFI = ("testsrc2", "mandelbrot", "smptehdbars", "gradients=speed=0.05",
         "cellauto=rule=110", "life=mold=10:ratio=0.3", "testsrc=decimals=2", "rgbtestsrc")
TEXTS = (
    "The quick brown fox jumps over the lazy dog while the studio keeps its ledger.",
    "Every output carries a visible label and an invisible mark that survives coding.",
    "She sells sea shells by the sea shore; the performer signed a limited grant.",
    "Numbers like forty two and seven hundred are spoken slowly, then quickly again.",
    "A consent gate checks the grant again at publish time, in case it was revoked.",
)
CRF = 28


def make_clip(index: int, seconds: float) -> tuple[str, np.ndarray]:
    if index % 5 < 3:  # three presenter shots for every two patterns
        n = index - 2 * (index // 5)
        face, backdrop = FACES[n % len(FACES)], BACKDROPS[n % len(BACKDROPS)]
        return (f"studio {face} {backdrop}", A.studio_clip(seconds=seconds, face=face,
                                                           backdrop=backdrop, seed=index))
    source = LAVFI[(index // 5 * 2 + index % 5 - 3) % len(LAVFI)]
    return source, A.lavfi_video(source, seconds=seconds, fps=FPS,
                                 vf=f"noise=alls=3:allf=t:all_seed={index + 1}")


def video_attacks(anchor: tuple[float, float]
                  ) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """Re-encodes and downscales that v1 already survived, then the issue's geometric
    and temporal grid; geometric edits are re-encoded at CRF 28."""
    def crf(v: np.ndarray) -> np.ndarray:
        return A.transcode_video(v, fps=FPS, crf=CRF)

    return {
        "none": lambda v: v,
        "h264 crf28": crf,
        "h264 crf35": lambda v: A.transcode_video(v, fps=FPS, crf=35),
        "hevc crf30": lambda v: A.transcode_video(v, fps=FPS, crf=30, codec="hevc"),
        "vp9 crf40": lambda v: A.transcode_video(v, fps=FPS, crf=40, codec="vp9"),
        "25->30 fps": lambda v: A.retime_video(v, fps=FPS, out_fps=30),
        "480p blur+noise crf28": lambda v: A.transcode_video(
            v, fps=FPS, crf=CRF, vf="scale=854:480,gblur=sigma=1,noise=alls=6:allf=t",
            out_size=(854, 480)),
        "scale 640x360 +crf28": lambda v: crf(A.resize(v, width=640, height=360)),
        "360p crf35": lambda v: A.transcode_video(v, fps=FPS, crf=35, vf="scale=640:360",
                                                  out_size=(640, 360)),
        "crop 10% +crf28": lambda v: crf(A.crop_fraction(v, fraction=0.1, anchor=anchor)),
        "crop 20% +crf28": lambda v: crf(A.crop_fraction(v, fraction=0.2, anchor=anchor)),
        "crop 20%": lambda v: A.crop_fraction(v, fraction=0.2, anchor=anchor),
        "crop 9:16 +crf28": lambda v: crf(A.crop_aspect(v, aspect_w=9, aspect_h=16,
                                                        anchor=anchor[0])),
        "crop 9:16": lambda v: A.crop_aspect(v, aspect_w=9, aspect_h=16, anchor=anchor[0]),
        "crop 1:1 +crf28": lambda v: crf(A.crop_aspect(v, aspect_w=1, aspect_h=1,
                                                       anchor=anchor[0])),
        "crop 1:1": lambda v: A.crop_aspect(v, aspect_w=1, aspect_h=1, anchor=anchor[0]),
        "letterbox 4:3 +crf28": lambda v: crf(A.letterbox(v, width=960, height=720)),
        "letterbox 9:16": lambda v: A.letterbox(v, width=720, height=1280),
        "hflip +crf28": lambda v: crf(A.hflip(v)),
        "rotate +3deg +crf28": lambda v: crf(A.rotate(v, degrees=3.0)),
        "rotate -2deg +crf28": lambda v: crf(A.rotate(v, degrees=-2.0)),
        "perspective 2% +crf28": lambda v: crf(A.perspective(v, strength=0.02)),
        "speed 1.1x 30fps": lambda v: A.retime_video(v, fps=FPS, speed=1.1, out_fps=30),
        "speed 0.9x 24fps": lambda v: A.retime_video(v, fps=FPS, speed=0.9, out_fps=24),
        "trim 1 s": lambda v: A.transcode_video(v, fps=FPS, trim_start_s=1.0),
    }


def unmarked_variants(frames: np.ndarray) -> list[np.ndarray]:
    """Ten unmarked versions of one clip (for the false-positive count)."""
    short = frames[:12]
    return [short, A.hflip(short), A.crop_fraction(short, fraction=0.2, anchor=(0, 0)),
            A.crop_aspect(short, aspect_w=9, aspect_h=16), A.resize(short, width=640,
                                                                    height=360),
            A.rotate(short, degrees=2.0), A.letterbox(short, width=720, height=720),
            A.scale_brightness(short, factor=0.9), frames[-12:], frames[::4]]


def run_false_positives(count: int, key: bytes, algorithm: str) -> dict[str, object]:
    """`count` distinct unmarked clips (0.5 s, every source and variant of the grid in
    turn) and as many marked under another studio's key, each checked by the
    front-door detector (every version) under `key`: any id found is a false positive."""
    detector = VideoWatermarker(key)
    unmarked_hits = foreign_hits = 0
    for index in range(count):
        name, frames = make_clip(index, 0.5)
        variant = unmarked_variants(frames)[index % 10]
        unmarked_hits += detector.detect(iter(variant)).render_id is not None
        foreign = VideoWatermarker(new_watermark_key(), algorithm=algorithm)
        marked = np.stack([foreign.embed_frame(f, index + 1, i) for i, f in enumerate(frames)])
        foreign_hits += detector.detect(iter(marked)).render_id is not None
        print(f"false positives {index + 1}/{count} ({name}): unmarked {unmarked_hits}, "
              f"foreign key {foreign_hits}", file=sys.stderr, flush=True)
    return {"unmarked_clips": count, "unmarked_hits": unmarked_hits,
            "foreign_key_clips": count, "foreign_key_hits": foreign_hits,
            "foreign_algorithm": algorithm}


def x264_encode_seconds(frames: np.ndarray) -> float:
    """Wall time of libx264 veryfast encoding these RGB frames (piped, to /dev/null)."""
    _, height, width, _ = frames.shape
    start = time.perf_counter()
    subprocess.run([str(ffmpeg_path()), "-nostdin", "-v", "error", "-f", "rawvideo",
                    "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", str(FPS), "-i",
                    "-", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt",
                    "yuv420p", "-f", "mp4", "-y", "/dev/null"], input=frames.tobytes(),
                   check=True)
    return time.perf_counter() - start


def flat_sheet(frames: np.ndarray, marked: np.ndarray, out: Path) -> None:
    """Original | marked | difference x16 | pixels above one JND (white), each a 4x
    nearest-neighbour crop of the flattest 96x64 region of the first frame."""
    gray = cv2.cvtColor(frames[0], cv2.COLOR_RGB2GRAY).astype(np.float32)
    mean = cv2.boxFilter(gray, -1, (96, 64))
    sd = np.sqrt(np.maximum(cv2.boxFilter(gray * gray, -1, (96, 64)) - mean * mean, 0))
    sd[:40, :] = sd[-40:, :] = sd[:, :56] = sd[:, -56:] = np.inf
    cy, cx = np.unravel_index(int(np.argmin(sd)), sd.shape)
    y0, x0 = cy - 32, cx - 48
    before = frames[0, y0:y0 + 64, x0:x0 + 96]
    after = marked[0, y0:y0 + 64, x0:x0 + 96]
    diff = np.clip(128 + 16 * (after.astype(np.int16) - before), 0, 255).astype(np.uint8)
    change = np.abs(jnd.luma(marked[0]) - jnd.luma(frames[0]))
    above = (change > jnd.jnd_map(jnd.luma(frames[0])))[y0:y0 + 64, x0:x0 + 96]
    seen = np.repeat((above * 255).astype(np.uint8)[:, :, None], 3, axis=2)
    tiles = [cv2.resize(t, (384, 256), interpolation=cv2.INTER_NEAREST)
             for t in (before, after, diff, seen)]
    sheet = np.concatenate([np.concatenate([t, np.full((256, 8, 3), 255, np.uint8)], axis=1)
                            for t in tiles], axis=1)
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))


class _Arm:
    """One embedded scheme's tallies over the clips."""

    def __init__(self, key: bytes, algorithm: str) -> None:
        self.algorithm = algorithm
        self.wm = VideoWatermarker(key, algorithm=algorithm)
        self.other = VideoWatermarker(new_watermark_key(), algorithm=algorithm)
        self.hits: dict[str, list[bool]] = {}
        self.psnrs: list[float] = []
        self.flats: list[float] = []
        self.embed_s = 0.0
        self.embed_luma_s: float | None = 0.0
        self.wrong_key_fp = 0
        self.seen: list[dict[str, object]] = []

    def measure_visibility(self, name: str, frames: np.ndarray, marked: np.ndarray) -> None:
        """JND figures of the first and the middle frame (the worse of the two)."""
        views = [jnd.visibility(frames[i], marked[i]) for i in (0, len(frames) // 2)]
        flat_db, blocks = A.flat_block_psnr_db(frames[0], marked[0])
        self.seen.append({
            "clip": name,
            "visible_pixel_share": max(v.visible_pixel_share for v in views),
            "flat_visible_pixel_share": max(v.flat_visible_pixel_share for v in views),
            "flat_visible_block_share": max(v.flat_visible_block_share for v in views),
            "p999_change_over_jnd": max(v.p999_ratio for v in views),
            "flat_blocks": blocks, "flat_block_psnr_db": flat_db})

    def time_luma(self, frames: np.ndarray, render_id: int) -> None:
        """Add the stamp path's cost: marking the I420 luma planes of these frames."""
        if self.embed_luma_s is None:
            return
        planes = [np.ascontiguousarray(cv2.cvtColor(f, cv2.COLOR_RGB2YUV_I420)[:f.shape[0]])
                  for f in frames]
        try:
            start = time.perf_counter()
            for index, y in enumerate(planes):
                self.wm.embed_luma(y, render_id, index)
            self.embed_luma_s += time.perf_counter() - start
        except InternalError:  # a scheme without a luma path (v2)
            self.embed_luma_s = None

    def summary(self, clips: int, encode_s: float, frames_total: int, ten_s: np.ndarray
                ) -> dict[str, object]:
        marked_10 = np.stack([self.wm.embed_frame(f, 1, i) for i, f in enumerate(ten_s)])
        start = time.perf_counter()
        self.wm.detect(iter(marked_10), max_frames=len(marked_10))
        detect_all_s = time.perf_counter() - start
        start = time.perf_counter()
        self.wm.detect(iter(marked_10))
        detect_default_s = time.perf_counter() - start
        flats = self.flats
        seen = self.seen

        def worst(field: str) -> float:
            return float(max(float(v[field]) for v in seen))  # type: ignore[arg-type]

        def mean(field: str) -> float:
            return float(np.mean([float(v[field]) for v in seen]))  # type: ignore[arg-type]

        return {
            "algorithm": self.algorithm,
            "attacks": {k: {"rate": float(np.mean(v)), "count": len(v)}
                        for k, v in self.hits.items()},
            "psnr_db_mean": float(np.mean(self.psnrs)), "psnr_db_min": float(np.min(self.psnrs)),
            "flat_block_psnr_db_mean": float(np.mean(flats)) if flats else None,
            "flat_block_psnr_db_min": float(np.min(flats)) if flats else None,
            "clips_with_flat_blocks": len(flats),
            "wrong_key_checks": clips, "wrong_key_hits": self.wrong_key_fp,
            "jnd": {"visible_pixel_share_mean": mean("visible_pixel_share"),
                    "visible_pixel_share_max": worst("visible_pixel_share"),
                    "flat_visible_pixel_share_mean": mean("flat_visible_pixel_share"),
                    "flat_visible_pixel_share_max": worst("flat_visible_pixel_share"),
                    "flat_visible_block_share_max": worst("flat_visible_block_share"),
                    "p999_change_over_jnd_max": worst("p999_change_over_jnd"),
                    "per_clip": seen},
            "embed_ms_per_frame": 1e3 * self.embed_s / frames_total,
            "embed_over_x264_veryfast": self.embed_s / encode_s,
            "embed_luma_ms_per_frame": (None if self.embed_luma_s is None
                                        else 1e3 * self.embed_luma_s / frames_total),
            "embed_luma_over_x264_veryfast": (None if self.embed_luma_s is None
                                              else self.embed_luma_s / encode_s),
            "detect_10s_720p_all_250_frames_s": detect_all_s,
            "detect_10s_720p_default_150_frames_s": detect_default_s,
        }


def run_video(clips: int, seconds: float, key: bytes, rng: np.random.Generator,
              sheet: Path, algorithms: list[str], only: list[str], skip: int = 0
              ) -> dict[str, object]:
    arms = [_Arm(key, algorithm) for algorithm in algorithms]
    detector = VideoWatermarker(key)
    encode_s, frames_total, false_pos, checks = 0.0, 0, 0, 0
    for clip in range(clips):
        render_id = int(rng.integers(0, 2**63))
        anchor = (float(rng.random()), float(rng.random()))
        if clip < skip:  # another process runs these (same ids: the draws are made)
            continue
        name, frames = make_clip(clip, seconds)
        encode_s += x264_encode_seconds(frames)
        frames_total += len(frames)
        attacks = {k: f for k, f in video_attacks(anchor).items()
                   if not only or any(word in k for word in only)}
        for arm in arms:
            start = time.perf_counter()
            marked = np.stack([arm.wm.embed_frame(f, render_id, i)
                               for i, f in enumerate(frames)])
            arm.embed_s += time.perf_counter() - start
            arm.time_luma(frames, render_id)
            arm.measure_visibility(name, frames, marked)
            arm.psnrs.append(float(np.mean([A.psnr_db(a, b) for a, b in
                                            zip(frames[::5], marked[::5], strict=True)])))
            flat_db, blocks = A.flat_block_psnr_db(frames[0], marked[0])
            if blocks >= 50:
                arm.flats.append(flat_db)
            if clip == skip and arm.algorithm == algorithms[-1]:
                flat_sheet(frames, marked, sheet)
            for attack, apply in attacks.items():
                arm.hits.setdefault(attack, []).append(
                    detector.detect(iter(apply(marked))).render_id == render_id)
            arm.wrong_key_fp += arm.other.detect(iter(marked)).render_id is not None
            print(f"video clip {clip + 1}/{clips} ({name}) {arm.algorithm}: PSNR "
                  f"{arm.psnrs[-1]:.1f} dB, misses: "
                  f"{[a for a, h in arm.hits.items() if not h[-1]]}", file=sys.stderr,
                  flush=True)
            del marked
        for variant in unmarked_variants(frames):
            false_pos += detector.detect(iter(variant)).render_id is not None
            checks += 1
    ten_s = np.concatenate([make_clip(0, seconds)[1]] * int(np.ceil(10 / seconds)))[:10 * FPS]
    start = time.perf_counter()
    detector.detect(iter(ten_s))
    unmarked_10s = time.perf_counter() - start
    return {
        "detect_10s_720p_unmarked_150_frames_s": unmarked_10s,
        "published_algorithm": PUBLISHED_VIDEO_ALGORITHM,
        "arms": {arm.algorithm: arm.summary(clips - skip, encode_s, frames_total, ten_s)
                 for arm in arms},
        "false_positives": {"unmarked_checks": checks, "unmarked_hits": false_pos},
        "x264_veryfast_ms_per_frame": 1e3 * encode_s / frames_total,
    }


def audio_attacks() -> dict[str, Callable[[np.ndarray, int], tuple[np.ndarray, int]]]:
    return {
        "none": lambda a, r: (a, r),
        "aac 96k": lambda a, r: (A.aac(a, r, bitrate_kbps=96), r),
        "aac 48k": lambda a, r: (A.aac(a, r, bitrate_kbps=48), r),
        "mp3 64k": lambda a, r: (A.mp3(a, r, bitrate_kbps=64), r),
        "opus 64k": lambda a, r: (A.opus(a, r, bitrate_kbps=64), r),
        "opus 24k": lambda a, r: (A.opus(a, r, bitrate_kbps=24), r),
        "noise 20 dB SNR": lambda a, r: (A.add_noise(a, snr_db_target=20.0), r),
        "phone band 16 kHz": lambda a, r: (A.phone_band(a, r), 16_000),
        "cut 1.3 s": lambda a, r: (a[int(1.3 * r):], r),
        "tempo 1.1x": lambda a, r: (A.tempo(a, r, factor=1.1), r),
        "tempo 0.9x": lambda a, r: (A.tempo(a, r, factor=0.9), r),
        "speed 1.1x (pitch up)": lambda a, r: (A.speed(a, r, factor=1.1), r),
        "pitch +5%": lambda a, r: (A.pitch(a, r, factor=1.05), r),
        "pitch -5%": lambda a, r: (A.pitch(a, r, factor=0.95), r),
    }


def run_audio(clips: int, seconds: float, key: bytes, rng: np.random.Generator
              ) -> dict[str, object]:
    wm = AudioWatermarker(key)
    hits: dict[str, list[bool]] = {}
    snrs, false_pos = [], 0
    for clip in range(clips):
        rate = (48_000, 44_100)[clip % 2]
        audio = A.speech_mix(TEXTS[clip % len(TEXTS)], seconds=seconds, sample_rate=rate,
                             seed=clip)
        render_id = int(rng.integers(0, 2**63))
        marked = wm.embed(audio, rate, render_id)
        snrs.append(A.snr_db(audio, marked))
        for attack, apply in audio_attacks().items():
            signal, out_rate = apply(marked, rate)
            hits.setdefault(attack, []).append(
                wm.detect(signal, out_rate).render_id == render_id)
        false_pos += wm.detect(audio, rate).render_id is not None
        print(f"audio clip {clip + 1}/{clips}: SNR {snrs[-1]:.1f} dB, misses: "
              f"{[a for a, h in hits.items() if not h[-1]]}", file=sys.stderr, flush=True)
    return {"algorithm": AUDIO_ALGORITHM,
            "attacks": {k: {"rate": float(np.mean(v)), "count": len(v)} for k, v in hits.items()},
            "snr_db_mean": float(np.mean(snrs)), "snr_db_min": float(np.min(snrs)),
            "false_positives": {"unmarked_checks": clips, "unmarked_hits": false_pos}}


def combined_attacks() -> dict[str, tuple[Callable[[np.ndarray], np.ndarray],
                                           Callable[[np.ndarray, int], np.ndarray]]]:
    """What a platform does to both media at once: (video edit, audio edit)."""
    def crf(v: np.ndarray) -> np.ndarray:
        return A.transcode_video(v, fps=FPS, crf=CRF)

    return {
        "crop 9:16 +crf28 / opus 24k": (
            lambda v: crf(A.crop_aspect(v, aspect_w=9, aspect_h=16, anchor=0.4)),
            lambda a, r: A.opus(a, r, bitrate_kbps=24)),
        "crop 1:1 +crf28 / aac 48k": (
            lambda v: crf(A.crop_aspect(v, aspect_w=1, aspect_h=1, anchor=0.6)),
            lambda a, r: A.aac(a, r, bitrate_kbps=48)),
        "speed 1.1x + letterbox 9:16 / tempo 1.1x": (
            lambda v: crf(A.letterbox(A.retime_video(v, fps=FPS, speed=1.1, out_fps=30),
                                      width=720, height=1280)),
            lambda a, r: A.tempo(a, r, factor=1.1)),
        "360p crf35 / aac 48k": (
            lambda v: A.transcode_video(v, fps=FPS, crf=35, vf="scale=640:360",
                                        out_size=(640, 360)),
            lambda a, r: A.aac(a, r, bitrate_kbps=48)),
        "hevc crf30 / opus 32k": (
            lambda v: A.transcode_video(v, fps=FPS, crf=30, codec="hevc"),
            lambda a, r: A.opus(a, r, bitrate_kbps=32)),
        "hflip +crf28 / mp3 64k": (lambda v: crf(A.hflip(v)),
                                   lambda a, r: A.mp3(a, r, bitrate_kbps=64)),
    }


def run_combined(clips: int, seconds: float, key: bytes, rng: np.random.Generator, *,
                 speech_seconds: float | None = None) -> dict[str, object]:
    """Each clip's video and audio marked as publish marks them (the published video
    scheme; the audio through `embed_checked`, v2 or v1 where v2 does not read back),
    each medium edited as the pair says; `traced` = either mark gives the render id,
    which is what `verify` reports as derived."""
    video_wm, audio_wm = VideoWatermarker(key), AudioWatermarker(key)
    rows: dict[str, dict[str, list[bool]]] = {}
    audio_seconds = speech_seconds or max(seconds, 4.0)
    for clip in range(clips):
        name, frames = make_clip(clip, seconds)
        render_id = int(rng.integers(0, 2**63))
        rate = 48_000
        if speech_seconds:  # a dub's track: real speech, the two installed voices in turn
            audio = AA.real_speech(seconds=audio_seconds, start_s=clip * 61.0 / 2,
                                   sample_rate=rate,
                                   source=("librivox", "prompts")[clip % 2])
        else:
            audio = A.speech_mix(TEXTS[clip % len(TEXTS)], seconds=audio_seconds,
                                 sample_rate=rate, seed=100 + clip)
        marked = np.stack([video_wm.embed_frame(f, render_id, i) for i, f in enumerate(frames)])
        marked_audio, _ = audio_wm.embed_checked(audio, rate, render_id)  # publish's choice
        for attack, (edit_video, edit_audio) in combined_attacks().items():
            video_ok = video_wm.detect(iter(edit_video(marked))).render_id == render_id
            audio_ok = audio_wm.detect(edit_audio(marked_audio, rate), rate
                                       ).render_id == render_id
            row = rows.setdefault(attack, {"video": [], "audio": [], "traced": []})
            row["video"].append(video_ok)
            row["audio"].append(audio_ok)
            row["traced"].append(video_ok or audio_ok)
        print(f"combined clip {clip + 1}/{clips} ({name}): untraced: "
              f"{[a for a, r in rows.items() if not r['traced'][-1]]}", file=sys.stderr,
              flush=True)
    return {"video_algorithm": PUBLISHED_VIDEO_ALGORITHM, "audio_algorithm": AUDIO_ALGORITHM,
            "clips": clips, "audio_seconds": audio_seconds,
            "audio_content": "real speech" if speech_seconds else "espeak mix",
            "attacks": {a: {k: float(np.mean(v)) for k, v in r.items()}
                        for a, r in rows.items()}}


def print_video(video: dict[str, object], clips: int) -> None:
    arms = video["arms"]
    names = list(arms)
    print(f"\nvideo ({clips} clips): exact 64-bit id rate per embedded scheme "
          f"(publish embeds {video['published_algorithm']})")
    print(f"  {'attack':28s} " + " ".join(f"{n:>18s}" for n in names))
    for attack in arms[names[0]]["attacks"]:
        print(f"  {attack:28s} " + " ".join(f"{arms[n]['attacks'][attack]['rate']:18.2f}"
                                            for n in names))
    for n in names:
        a = arms[n]
        print(f"{n}: PSNR mean {a['psnr_db_mean']:.2f} dB (min {a['psnr_db_min']:.2f}); flat "
              f"16x16 blocks mean {a['flat_block_psnr_db_mean']:.2f} dB (min "
              f"{a['flat_block_psnr_db_min']:.2f}) over {a['clips_with_flat_blocks']} clips; "
              f"wrong-key hits {a['wrong_key_hits']}/{a['wrong_key_checks']}; embed "
              f"{a['embed_ms_per_frame']:.2f} ms/frame = {a['embed_over_x264_veryfast']:.3f}x "
              f"x264 veryfast; detect 10 s 720p "
              f"{a['detect_10s_720p_default_150_frames_s']:.2f} s (150 frames), "
              f"{a['detect_10s_720p_all_250_frames_s']:.2f} s (250)")
        j = a["jnd"]
        luma = a["embed_luma_over_x264_veryfast"]
        print(f"  JND: pixels above 1 JND mean {100 * j['visible_pixel_share_mean']:.3f} % "
              f"(worst clip {100 * j['visible_pixel_share_max']:.3f} %), flat-block pixels "
              f"mean {100 * j['flat_visible_pixel_share_mean']:.3f} % (worst "
              f"{100 * j['flat_visible_pixel_share_max']:.3f} %), flat blocks with any "
              f"(worst) {100 * j['flat_visible_block_share_max']:.2f} %, 99.9th percentile "
              f"change/JND (worst) {j['p999_change_over_jnd_max']:.2f}; stamp path (luma) "
              + ("n/a" if luma is None else
                 f"{a['embed_luma_ms_per_frame']:.2f} ms/frame = {luma:.3f}x x264 veryfast"))
        for clip in j["per_clip"]:
            print(f"    {clip['clip'][:40]:40s} above 1 JND {100 * clip['visible_pixel_share']:.3f}"
                  f" % (flat pixels {100 * clip['flat_visible_pixel_share']:.3f} %, flat blocks "
                  f"{100 * clip['flat_visible_block_share']:.2f} %), flat 16x16 "
                  f"{clip['flat_block_psnr_db']:.1f} dB over {clip['flat_blocks']} blocks")
    print(f"detect 10 s 720p unmarked (every detector): "
          f"{video['detect_10s_720p_unmarked_150_frames_s']:.2f} s")
    print(f"video false positives on unmarked clips: {video['false_positives']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=5.0, help="video clip length")
    parser.add_argument("--audio-seconds", type=float, default=6.0)
    parser.add_argument("--algorithms", nargs="+", default=[V1_ALGORITHM, V3_ALGORITHM],
                        help="video schemes to embed, one arm each")
    parser.add_argument("--attacks", nargs="*", default=[],
                        help="only video attacks whose name contains one of these words")
    parser.add_argument("--skip-clips", type=int, default=0, metavar="N",
                        help="leave out the first N video clips (same ids for the rest), "
                             "to split a grid over processes")
    parser.add_argument("--no-audio", action="store_true")
    parser.add_argument("--no-combined", action="store_true",
                        help="skip the combined (video + audio) grid")
    parser.add_argument("--only-combined", action="store_true",
                        help="run only the combined (video + audio) grid")
    parser.add_argument("--combined-speech-seconds", type=float, default=None, metavar="S",
                        help="combined grid audio: S seconds of real speech (LibriVox and "
                             "Asterisk's prompts in turn) instead of espeak mixes")
    parser.add_argument("--false-positives", type=int, default=0, metavar="N",
                        help="only count false positives on N unmarked and N foreign-key clips")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/watermark.json")
    parser.add_argument("--sheet", type=Path,
                        default=ROOT / "benchmarks/results/watermark_flat.png")
    args = parser.parse_args()
    key = bytes(range(32))
    rng = keyed_rng(key, stream="benchmark")
    started = time.perf_counter()
    if args.only_combined:
        combined = run_combined(args.clips, args.seconds, key, rng,
                                speech_seconds=args.combined_speech_seconds)
        for name, row in combined["attacks"].items():
            print(f"  {name:44s} {row['video']:5.2f} {row['audio']:5.2f} {row['traced']:5.2f}")
        args.out.write_text(json.dumps({
            "benchmark": "watermark combined",
            "command": shlex.join(["python", "benchmarks/watermark_bench.py", *sys.argv[1:]]),
            "load_average_at_end": os.getloadavg(), "combined": combined,
            "wall_s": time.perf_counter() - started}, indent=2) + "\n")
        return 0
    if args.false_positives:
        found = run_false_positives(args.false_positives, key, args.algorithms[-1])
        print(f"video false positives: {found}")
        args.out.write_text(json.dumps({
            "benchmark": "watermark false positives",
            "command": shlex.join(["python", "benchmarks/watermark_bench.py", *sys.argv[1:]]),
            "result": found, "wall_s": time.perf_counter() - started}, indent=2) + "\n")
        return 0
    video = run_video(args.clips, args.seconds, key, rng, args.sheet, args.algorithms,
                      args.attacks, args.skip_clips)
    audio = None if args.no_audio else run_audio(args.clips, args.audio_seconds, key, rng)
    combined = (None if args.no_audio or args.no_combined
                else run_combined(args.clips, args.seconds, key, rng))
    result = {"benchmark": "watermark",
              "command": shlex.join(["python", "benchmarks/watermark_bench.py", *sys.argv[1:]]),
              "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
              "config": {"clips": args.clips, "video_seconds": args.seconds,
                         "audio_seconds": args.audio_seconds, "video_size": "1280x720",
                         "fps": FPS, "payload_bits": payload.CODEWORD_BITS},
              "load_average_at_end": os.getloadavg(),
              "video": video, "audio": audio, "combined": combined,
              "wall_s": time.perf_counter() - started}
    print_video(video, args.clips)
    if audio is not None:
        print(f"\naudio ({audio['algorithm']}, {args.clips} clips): exact 64-bit id rate")
        for name, row in audio["attacks"].items():
            print(f"  {name:28s} {row['rate']:6.2f}")
        print(f"audio SNR mean {audio['snr_db_mean']:.2f} dB (min {audio['snr_db_min']:.2f}); "
              f"false positives {audio['false_positives']}")
    if combined is not None:
        print(f"\ncombined ({combined['video_algorithm']} + {combined['audio_algorithm']}, "
              f"{args.clips} clips): rate of exact id (video / audio / traced by either)")
        for name, row in combined["attacks"].items():
            print(f"  {name:44s} {row['video']:5.2f} {row['audio']:5.2f} {row['traced']:5.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {args.out} and {args.sheet}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
