"""Delivery loudness: -23 LUFS integrated with true peak at most -1 dBTP (EBU R128)."""

from __future__ import annotations

import numpy as np
import pytest

from media.audio import measure_loudness
from media.loudness import master, true_peak_dbtp

RATE_HZ = 48_000


def test_true_peak_sees_between_the_samples() -> None:
    """A quarter-rate sine sampled 45 degrees off its crest: samples at 0.707, true peak 1."""
    n = np.arange(RATE_HZ // 2)
    sine = np.sin(2 * np.pi * n / 4 + np.pi / 4).astype(np.float32)[:, np.newaxis]
    assert float(np.abs(sine).max()) == pytest.approx(0.7071, abs=1e-3)
    assert true_peak_dbtp(sine, RATE_HZ) == pytest.approx(0.0, abs=0.3)


def test_master_reaches_r128_under_the_true_peak_ceiling() -> None:
    """Quiet speech-like bursts with one loud click: gain alone would clip the click."""
    rng = np.random.default_rng(3)
    t = np.arange(3 * RATE_HZ) / RATE_HZ
    bursts = 0.02 * np.sin(2 * np.pi * 300 * t) * (np.sin(2 * np.pi * 2 * t) > 0)
    bursts = bursts + 0.002 * rng.standard_normal(t.shape[0])
    bursts[RATE_HZ] = 0.9  # one transient far above the programme
    stereo = np.stack([bursts, bursts * 0.7], axis=1).astype(np.float32)
    mastered = master(stereo, RATE_HZ)
    assert mastered.samples.shape == stereo.shape
    assert mastered.loudness_lufs == pytest.approx(-23.0, abs=0.5)
    assert measure_loudness(mastered.samples, RATE_HZ) == pytest.approx(mastered.loudness_lufs)
    assert mastered.true_peak_dbtp <= -1.0
    assert true_peak_dbtp(mastered.samples, RATE_HZ) == pytest.approx(mastered.true_peak_dbtp)
    assert mastered.limited_samples > 0


def test_silence_is_left_alone() -> None:
    mastered = master(np.zeros((RATE_HZ, 2), np.float32), RATE_HZ)
    assert not np.isfinite(mastered.loudness_lufs) and not mastered.samples.any()
