"""Audio material and audio attacks for the watermark tests and benchmark.

Why here (and not in the product packages): the robustness claims must be measured on
real recordings and real codecs, and the attack code must never ship. Real speech is
the Debian pocketsphinx-testdata LibriVox excerpts (public domain, 16 kHz; 24.7 s, so
longer clips overlap) and, for a second voice and independent passages, Allison
Smith's Asterisk prompts from Debian's asterisk-core-sounds-en-g722 (CC-BY-SA-3.0,
G.722 at 16 kHz, ~21 min; read from the installed package, never copied here); music is
synthesized (notes with envelopes over a chord pad and hi-hat noise) because no
music recording is installed; every codec and filter runs through ffmpeg
(tests.support.attacks).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
import soundfile as sf

from likeness.errors import BadInput
from provenance.watermark.audio_signal import resample
from tests.support import attacks as A

LIBRIVOX_DIR = Path("/usr/share/pocketsphinx/test/data/librivox")
SPEECH_RATE_HZ = 16_000

Attack = Callable[[np.ndarray, int], tuple[np.ndarray, int]]


@cache
def _librivox_pool() -> np.ndarray:
    files = sorted(LIBRIVOX_DIR.glob("*.wav"))
    if not files:
        raise BadInput(f"no LibriVox excerpts under {LIBRIVOX_DIR}",
                       hint="apt-get install pocketsphinx-testdata")
    parts = []
    for path in files:
        data, rate = sf.read(path, dtype="float32", always_2d=True)
        parts.append(resample(data.mean(axis=1).astype(np.float64), rate, SPEECH_RATE_HZ))
    return np.concatenate(parts)


def librivox_available() -> bool:
    """Whether the real-speech excerpts are installed (tests skip without them)."""
    return any(LIBRIVOX_DIR.glob("*.wav"))


PROMPTS_DIR = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
# Prompts that are tones, not speech.
NOT_SPEECH = ("ascending-2tone", "descending-2tone", "beep", "beeperr")


@cache
def _prompt_pool() -> np.ndarray:
    """Every spoken top-level prompt, in name order, decoded by ffmpeg in one call."""
    files = [path for path in sorted(PROMPTS_DIR.glob("*.g722")) if path.stem not in NOT_SPEECH]
    if not files:
        raise BadInput(f"no Asterisk prompts under {PROMPTS_DIR}",
                       hint="apt-get install asterisk-core-sounds-en-g722")
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as listing:
        for path in files:
            quoted = str(path).replace("'", "'\\''")
            listing.write(f"file '{quoted}'\n")
        listing.flush()
        pcm = A._run(["-f", "concat", "-safe", "0", "-i", listing.name, "-f", "s16le",
                      "-ac", "1", "-ar", str(SPEECH_RATE_HZ), "-"])
    return np.frombuffer(pcm, np.int16).astype(np.float64) / 32768.0


def real_speech(*, seconds: float, start_s: float, sample_rate: int = 48_000,
                source: str = "librivox") -> np.ndarray:
    """`seconds` of real speech starting `start_s` into a source's pool (wrapping):
    "librivox" (the pocketsphinx excerpts) or "prompts" (Allison Smith's prompts)."""
    pools = {"librivox": _librivox_pool, "prompts": _prompt_pool}
    if source not in pools:
        raise ValueError(f"unknown speech source {source!r}: one of {sorted(pools)}")
    pool = pools[source]()
    n = int(seconds * SPEECH_RATE_HZ)
    if n >= pool.size:
        raise BadInput(f"only {pool.size / SPEECH_RATE_HZ:.1f} s of real speech is installed")
    start = int(start_s * SPEECH_RATE_HZ) % (pool.size - n)
    return resample(pool[start: start + n], SPEECH_RATE_HZ, sample_rate).astype(np.float32)


def synth_music(*, seconds: float, sample_rate: int = 48_000, seed: int = 0) -> np.ndarray:
    """A music-like bed: a random pentatonic melody of plucked harmonic notes over a
    sustained chord and soft hi-hat noise, at about -20 dBFS."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    out = np.zeros(n)
    root = 110.0 * 2 ** (rng.integers(0, 12) / 12)
    for ratio in (1.0, 1.25, 1.5):  # the pad
        out += 0.04 * np.sin(2 * np.pi * root * ratio * t) * (1 + 0.2 * np.sin(2 * np.pi * 0.3 * t))
    note_s = float(rng.choice([0.15, 0.2, 0.25, 0.3]))
    scale = np.array([0, 2, 4, 7, 9, 12, 14, 16])
    for start in np.arange(0.0, seconds, note_s):
        freq = root * 4 * 2 ** (float(rng.choice(scale)) / 12)
        i0, i1 = int(start * sample_rate), min(n, int((start + 4 * note_s) * sample_rate))
        tt = t[i0:i1] - start
        env = np.exp(-tt / (note_s * 1.5)) * np.minimum(1.0, tt / 0.005)
        tone = sum(np.sin(2 * np.pi * freq * k * tt) / k**1.5 for k in range(1, 6))
        out[i0:i1] += 0.08 * env * tone
        if rng.random() < 0.7:  # hi-hat
            h1 = min(n, i0 + int(0.04 * sample_rate))
            out[i0:h1] += 0.02 * rng.standard_normal(h1 - i0) * np.exp(
                -np.arange(h1 - i0) / (0.01 * sample_rate))
    return out.astype(np.float32)


def noise(kind: str, *, seconds: float, sample_rate: int = 48_000, seed: int = 0
          ) -> np.ndarray:
    """White, pink or brown noise at about -26 dBFS RMS."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sample_rate)
    white = rng.standard_normal(n)
    if kind == "white":
        shaped = white
    else:
        spectrum = np.fft.rfft(white)
        f = np.maximum(np.fft.rfftfreq(n, 1 / sample_rate), 20.0)
        spectrum /= np.sqrt(f) if kind == "pink" else f
        shaped = np.fft.irfft(spectrum, n)
    return (0.05 * shaped / np.std(shaped)).astype(np.float32)


def narrowband_phone(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """A telephone channel: 300-3400 Hz band-pass (4th-order edges), carried at 8 kHz
    and delivered at 16 kHz."""
    return A.encode_audio_roundtrip(
        samples, sample_rate, suffix=".wav", out_rate=16_000,
        codec_args=["-af", "highpass=f=300,highpass=f=300,lowpass=f=3400,lowpass=f=3400,"
                    "aresample=8000,aresample=16000", "-c:a", "pcm_f32le"])


def trim(samples: np.ndarray, sample_rate: int, *, start_s: float,
         seconds: float | None = None) -> np.ndarray:
    """Cut `start_s` off the front (and keep `seconds`, if given)."""
    first = int(start_s * sample_rate)
    last = None if seconds is None else first + int(seconds * sample_rate)
    return samples[first:last]


def attack_grid() -> dict[str, Attack]:
    """Every audio attack of issue 14, by name (what a platform or a person does)."""
    return {
        "none": lambda a, r: (a, r),
        "aac 96k": lambda a, r: (A.aac(a, r, bitrate_kbps=96), r),
        "aac 48k": lambda a, r: (A.aac(a, r, bitrate_kbps=48), r),
        "mp3 64k": lambda a, r: (A.mp3(a, r, bitrate_kbps=64), r),
        "opus 64k": lambda a, r: (A.opus(a, r, bitrate_kbps=64), r),
        "opus 32k": lambda a, r: (A.opus(a, r, bitrate_kbps=32), r),
        "opus 24k": lambda a, r: (A.opus(a, r, bitrate_kbps=24), r),
        "noise 20 dB SNR": lambda a, r: (A.add_noise(a, snr_db_target=20.0), r),
        "phone 300-3400 Hz": lambda a, r: (narrowband_phone(a, r), 16_000),
        "wideband 16 kHz": lambda a, r: (A.phone_band(a, r), 16_000),
        "trim 1.3 s": lambda a, r: (trim(a, r, start_s=1.3), r),
        "tempo 1.1x": lambda a, r: (A.tempo(a, r, factor=1.1), r),
        "tempo 0.9x": lambda a, r: (A.tempo(a, r, factor=0.9), r),
        "speed 1.1x (pitch up)": lambda a, r: (A.speed(a, r, factor=1.1), r),
        "speed 0.9x (pitch down)": lambda a, r: (A.speed(a, r, factor=0.9), r),
        "pitch +5%": lambda a, r: (A.pitch(a, r, factor=1.05), r),
        "pitch -5%": lambda a, r: (A.pitch(a, r, factor=0.95), r),
        "tempo 1.1x + aac 48k": lambda a, r: (A.aac(A.tempo(a, r, factor=1.1), r,
                                                     bitrate_kbps=48), r),
        "speed 0.9x + mp3 64k": lambda a, r: (A.mp3(A.speed(a, r, factor=0.9), r,
                                                     bitrate_kbps=64), r),
        "trim 0.7 s + opus 32k": lambda a, r: (A.opus(trim(a, r, start_s=0.7), r,
                                                      bitrate_kbps=32), r),
    }
