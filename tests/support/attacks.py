"""Everyday transformations a marked file meets, applied with the real tools.

Why in the package: the robustness claims (tests, benchmark, a future self-check in
`likeness verify --selftest`) must be measured against real codecs, so every attack
pipes raw samples through the Debian ffmpeg (libx264, AAC, libmp3lame, swscale,
swresample) and reads raw samples back. Nothing is written to disk except a
temporary compressed file that lives inside a TemporaryDirectory.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from likeness.errors import BadInput, InternalError

_FFMPEG_TIMEOUT_S = 600


def _ffmpeg() -> str:
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise BadInput("ffmpeg is not installed", hint="apt-get install ffmpeg")
    return exe


def _run(args: list[str], stdin: bytes | None = None) -> bytes:
    proc = subprocess.run([_ffmpeg(), "-nostdin", "-v", "error", *args], input=stdin,
                          capture_output=True, timeout=_FFMPEG_TIMEOUT_S, check=False)
    if proc.returncode != 0:
        raise InternalError(f"ffmpeg failed: {proc.stderr.decode(errors='replace')[-400:]}")
    return proc.stdout


def _frames_from_raw(raw: bytes, width: int, height: int) -> np.ndarray:
    frame_bytes = width * height * 3
    count = len(raw) // frame_bytes
    return np.frombuffer(raw[: count * frame_bytes], dtype=np.uint8).reshape(
        count, height, width, 3)


def lavfi_video(source: str, *, seconds: float, width: int = 1280, height: int = 720,
                fps: int = 25, vf: str | None = None) -> np.ndarray:
    """Frames (N, H, W, 3) from an ffmpeg lavfi source expression such as
    ``testsrc2`` or ``mandelbrot``; `source` may carry options (``cellauto=rule=30``),
    `vf` adds a filter chain (e.g. ``noise=alls=10:allf=t`` for film grain)."""
    spec = f"{source}{':' if '=' in source else '='}size={width}x{height}:rate={fps}"
    filters = ["-vf", vf] if vf else []
    raw = _run(["-f", "lavfi", "-i", spec, "-t", f"{seconds}", *filters, "-pix_fmt", "rgb24",
                "-f", "rawvideo", "-"])
    return _frames_from_raw(raw, width, height)


def transcode_video(frames: np.ndarray, *, fps: int = 25, crf: int = 28,
                    preset: str = "veryfast", vf: str | None = None,
                    out_size: tuple[int, int] | None = None, trim_start_s: float = 0.0
                    ) -> np.ndarray:
    """Encode with libx264 (yuv420p) then decode back to RGB frames.

    `vf` is an ffmpeg filter applied at encode time (e.g. ``scale=640:360``),
    `out_size` the (width, height) it produces, `trim_start_s` cuts the start on
    decode (as an editor would).
    """
    count, height, width, _ = frames.shape
    out_w, out_h = out_size or (width, height)
    with tempfile.TemporaryDirectory(prefix="likeness-wm-") as tmp:
        path = Path(tmp) / "clip.mp4"
        filters = ["-vf", vf] if vf else []
        _run(["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r",
              str(fps), "-i", "-", *filters, "-c:v", "libx264", "-preset", preset, "-crf",
              str(crf), "-pix_fmt", "yuv420p", "-y", str(path)],
             stdin=np.ascontiguousarray(frames).tobytes())
        trim = ["-ss", f"{trim_start_s}"] if trim_start_s > 0 else []
        raw = _run([*trim, "-i", str(path), "-pix_fmt", "rgb24", "-f", "rawvideo", "-"])
    return _frames_from_raw(raw, out_w, out_h)


def scale_brightness(frames: np.ndarray, *, factor: float) -> np.ndarray:
    """Multiply every channel by `factor` (e.g. 0.9 or 1.1) with clipping."""
    return np.clip(frames.astype(np.float32) * factor + 0.5, 0, 255).astype(np.uint8)


def encode_audio_roundtrip(samples: np.ndarray, sample_rate: int, *, codec_args: list[str],
                           suffix: str, out_rate: int | None = None) -> np.ndarray:
    """Encode float32 audio with `codec_args` into a `suffix` file, decode to float32.

    Returns mono or multichannel like the input, at `out_rate` (default: input rate).
    """
    data = np.asarray(samples, dtype=np.float32)
    channels = 1 if data.ndim == 1 else data.shape[1]
    rate_out = out_rate or sample_rate
    with tempfile.TemporaryDirectory(prefix="likeness-wm-") as tmp:
        path = Path(tmp) / f"clip{suffix}"
        _run(["-f", "f32le", "-ar", str(sample_rate), "-ac", str(channels), "-i", "-",
              *codec_args, "-y", str(path)], stdin=data.tobytes())
        raw = _run(["-i", str(path), "-f", "f32le", "-ar", str(rate_out), "-ac",
                    str(channels), "-"])
    out = np.frombuffer(raw, dtype=np.float32)
    return out.copy() if channels == 1 else out.reshape(-1, channels).copy()


def aac(samples: np.ndarray, sample_rate: int, *, bitrate_kbps: int = 96) -> np.ndarray:
    """Round trip through ffmpeg's AAC encoder in an .m4a (edit list trims priming)."""
    return encode_audio_roundtrip(samples, sample_rate, suffix=".m4a",
                                  codec_args=["-c:a", "aac", "-b:a", f"{bitrate_kbps}k"])


def mp3(samples: np.ndarray, sample_rate: int, *, bitrate_kbps: int = 128) -> np.ndarray:
    """Round trip through libmp3lame CBR."""
    return encode_audio_roundtrip(samples, sample_rate, suffix=".mp3",
                                  codec_args=["-c:a", "libmp3lame", "-b:a",
                                              f"{bitrate_kbps}k"])


def resample(samples: np.ndarray, sample_rate: int, *, target_rate: int) -> np.ndarray:
    """Resample with ffmpeg's swresample (what a user's tool would do)."""
    return encode_audio_roundtrip(samples, sample_rate, suffix=".wav",
                                  codec_args=["-c:a", "pcm_f32le"], out_rate=target_rate)


def psnr_db(reference: np.ndarray, test: np.ndarray) -> float:
    """Peak signal-to-noise ratio of 8-bit images, in dB."""
    err = np.mean((reference.astype(np.float64) - test.astype(np.float64)) ** 2)
    return float("inf") if err == 0 else float(10 * np.log10(255.0**2 / err))


def snr_db(reference: np.ndarray, test: np.ndarray) -> float:
    """Signal-to-noise ratio of `test` against `reference`, in dB."""
    ref = np.asarray(reference, dtype=np.float64)
    noise = np.sum((np.asarray(test, dtype=np.float64) - ref) ** 2)
    return float("inf") if noise == 0 else float(10 * np.log10(np.sum(ref**2) / noise))


def speech_mix(text: str, *, seconds: float, sample_rate: int = 48000, seed: int = 0,
               voice: str = "en", channels: int = 1) -> np.ndarray:
    """Realistic test audio: espeak-ng speech over pink noise and a soft two-tone bed.

    Speech is what the studio renders most; the noise and tones stand in for room tone
    and music so the carrier is not tested on silence between words.
    """
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise BadInput("espeak-ng is not installed", hint="apt-get install espeak-ng")
    rng = np.random.default_rng(seed)
    tone_a_hz, tone_b_hz = (int(v) for v in rng.integers(110, 440, size=2))
    with tempfile.TemporaryDirectory(prefix="likeness-wm-") as tmp:
        wav = Path(tmp) / "speech.wav"
        proc = subprocess.run([espeak, "-v", voice, "-s", str(int(rng.integers(140, 190))),
                               "-w", str(wav), text], capture_output=True, check=False,
                              timeout=_FFMPEG_TIMEOUT_S)
        if proc.returncode != 0:
            raise InternalError(f"espeak-ng failed: {proc.stderr.decode(errors='replace')}")
        graph = (f"[0:a]aresample={sample_rate},apad,atrim=0:{seconds}[s];"
                 f"anoisesrc=color=pink:amplitude=0.03:seed={seed}:r={sample_rate}[n];"
                 f"sine=frequency={tone_a_hz}:r={sample_rate},volume=0.05[a];"
                 f"sine=frequency={tone_b_hz}:r={sample_rate},volume=0.04[b];"
                 f"[s][n][a][b]amix=inputs=4:duration=first:normalize=0[m]")
        raw = _run(["-i", str(wav), "-filter_complex", graph, "-map", "[m]", "-t",
                    f"{seconds}", "-ac", str(channels), "-f", "f32le", "-ar",
                    str(sample_rate), "-"])
    out = np.frombuffer(raw, dtype=np.float32).copy()
    return out if channels == 1 else out.reshape(-1, channels)
