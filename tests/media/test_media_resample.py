"""media.resample is scipy's `resample_poly` (the reference here) without importing
`scipy.signal` on the paths that only resample."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy.signal import resample_poly as scipy_resample_poly

from media.resample import resample_poly


@pytest.mark.parametrize(("up", "down", "length"), [
    (1, 3, 48_000),  # 48 kHz -> the watermark's 16 kHz
    (160, 441, 44_100),  # 44.1 kHz -> 16 kHz
    (441, 160, 4_000),
    (3, 1, 1_000),
    (4, 1, 777),  # the true-peak meter's 4x oversampling
    (2, 3, 17),
    (5, 7, 3),
    (1, 2, 1),
    (3, 1, 1),
    (6, 9, 100),  # not in lowest terms
    (1, 3, 0),  # nothing in, nothing out
    (441, 160, 0),
])
def test_equal_to_scipy_for_every_ratio_and_length(up: int, down: int, length: int) -> None:
    x = np.random.default_rng(up * 1000 + down).standard_normal(length)
    ours, theirs = resample_poly(x, up, down), scipy_resample_poly(x, up, down)
    assert ours.shape == theirs.shape
    assert np.allclose(ours, theirs, rtol=0.0, atol=1e-12)


def test_channels_on_either_axis_and_the_dtype_kept() -> None:
    rng = np.random.default_rng(7)
    frames = rng.standard_normal((4410, 2)).astype(np.float32)
    ours = resample_poly(frames, 160, 441, axis=0)
    assert ours.dtype == np.float32 and ours.shape == (1600, 2)
    assert np.max(np.abs(ours - scipy_resample_poly(frames, 160, 441, axis=0))) < 1e-5
    rows = rng.standard_normal((3, 500))
    assert np.max(np.abs(resample_poly(rows, 4, 1, axis=1)
                         - scipy_resample_poly(rows, 4, 1, axis=1))) < 1e-12
    ints = np.arange(30, dtype=np.int16)
    assert resample_poly(ints, 2, 1).dtype == np.float64
    assert np.array_equal(resample_poly(ints, 3, 3), ints.astype(np.float64))


def test_bad_factors_are_refused() -> None:
    with pytest.raises(ValueError):
        resample_poly(np.zeros(10), 0, 1)


def test_audio_marking_and_detection_never_import_scipy_signal() -> None:
    """Its import (~0.6 s of CPU holding the GIL) was a quarter of `verify`'s time."""
    code = (
        "import sys, numpy as np\n"
        "from provenance.watermark.audio import AudioWatermarker\n"
        "from media.loudness import true_peak_dbtp\n"
        "rate = 44_100\n"
        "t = np.arange(rate * 4) / rate\n"
        "audio = (0.1 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t)))\n"
        "audio = audio.astype(np.float32)\n"
        "marks = AudioWatermarker(b'k' * 32)\n"
        "marked = marks.embed(audio, rate, 0x00112233AABBCCDD)\n"
        "marks.detect(marked, rate)\n"
        "true_peak_dbtp(marked, rate)\n"
        "print('scipy.signal' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
