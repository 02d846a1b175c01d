"""The footage engine's paste read-back correction: the fit and its inverse (the probes
themselves run in test_footage_engine.py, on its fictional talking face)."""

from __future__ import annotations

import numpy as np
import pytest

from models.lipsync.footage.calibrate import GapCorrection, fit


def _rows(offset: float, slope: float, gain: float, count: int = 30) -> list[tuple[float, ...]]:
    rng = np.random.default_rng(3)
    rows = []
    for _ in range(count):
        lead, residual = float(rng.uniform(-0.1, 0.25)), float(rng.choice([0.0, 0.03, -0.03]))
        rows.append((offset + slope * lead + gain * residual, lead, residual, 1.0))
    return rows


def test_the_fit_recovers_the_error_and_its_inverse_reads_back_as_the_target() -> None:
    correction = fit(_rows(0.012, 0.08, -0.3))
    assert correction.offset == pytest.approx(0.012, abs=1e-6)
    assert correction.slope == pytest.approx(0.08, abs=1e-6)
    assert correction.residual_gain == pytest.approx(-0.3, abs=1e-6)
    target, host, stored = 0.2, 0.03, 0.21
    asked = correction.asked_gap(target, host, stored)
    read = asked + 0.012 + 0.08 * (asked - host) - 0.3 * (asked - stored)
    assert read == pytest.approx(target, abs=1e-9)
    chosen = float(correction.selection_gap(np.array([target]), np.array([host]))[0])
    assert chosen + 0.012 + 0.08 * (chosen - host) == pytest.approx(target, abs=1e-9)


def test_too_few_probes_or_no_spread_correct_nothing_rashly() -> None:
    assert fit(_rows(0.01, 0.0, 0.0, count=4)) == GapCorrection()
    identity = GapCorrection()
    assert identity.asked_gap(0.2, 0.0, 0.15) == pytest.approx(0.2)
    steady = _rows(0.01, 0.0, -0.2)
    steady = [(err, 0.2, residual, one) for err, _, residual, one in steady]  # one host gap
    flat = fit(steady)
    assert flat.slope == 0.0 and flat.offset == pytest.approx(0.01, abs=1e-6)
    assert flat.residual_gain == pytest.approx(-0.2, abs=1e-6)
