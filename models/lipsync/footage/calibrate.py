"""Measure, once per render, how far a pasted mouth's lip gap lands from the one asked for.

A bank mouth pasted back into its own frame reads back (re-detected landmarks) at the
gap it was stored with. Pasted into another frame it reads wider: the landmark model
judges the lips with the whole face as context, and the context around the patch (the
host's cheeks and its warped jaw) is not the one the mouth was filmed with. On real
footage of a laughing woman an open mouth pasted onto a closed frame read 0.02 eye
distances wider than asked, and the residual warp towards an exact gap moved the
read-back lips by only about two thirds of the asked change. Both vary with the face
and the footage, so they are measured here on the render's own first frames: a few bank
mouths are pasted at a spread of openings and residuals, read back with the face
engine's landmark fit, and a linear model of the error is fitted,

    read-back - asked = offset + slope * (asked - host gap) + residual_gain * residual,

which `GapCorrection` inverts: selection looks for the stored gap that reads back as the
target, and the synthesis asks for the gap that reads back as the target. Without a
landmark refiner (or too few usable samples) the correction is the identity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from likeness.errors import BadInput
from models.face.base import LandmarkRefiner
from models.face.mouth_interior import mouth_gap_iod
from models.face.tracking import TrackedFace
from models.face.warp import face_frame, untangle_mouth
from models.lipsync.footage.bank import MouthBank
from models.lipsync.footage.synth import FootageSynth

PROBES = 24  # frames of the render's first window, each pasted with its chosen entry
PROBE_RESIDUALS_IOD = (0.0, 0.03, -0.03)
MIN_ASKED_GAP_IOD = 0.04  # nearly closed lips read back clamped at 0: not informative
MIN_SAMPLES = 10
MIN_SLOPE_SPREAD_IOD = 0.05
# Bounds on the fit: with (-0.03, 0.03) and (-0.5, 0.3) the real dub's fit sat at the
# edges and overshot (r with the speech 0.60, identity max 0.401; now 0.63 and 0.394).
OFFSET_RANGE_IOD = (-0.02, 0.02)
SLOPE_RANGE = (-0.2, 0.2)
RESIDUAL_GAIN_RANGE = (-0.35, 0.3)


@dataclass(frozen=True)
class GapCorrection:
    """The fitted read-back error model (see the module doc); zeros: no correction."""

    offset: float = 0.0
    slope: float = 0.0
    residual_gain: float = 0.0
    samples: int = 0

    def selection_gap(self, target: np.ndarray, host: np.ndarray) -> np.ndarray:
        """The stored gap that, pasted without a residual, reads back as `target`."""
        return (target - self.offset + self.slope * host) / (1.0 + self.slope)

    def asked_gap(self, target: float, host: float, stored: float) -> float:
        """The gap to ask the synthesis for, from an entry stored at `stored`.

        Never below a closed mouth (or the entry's own gap, if it reads below that):
        inverting a fit with a positive offset asked closed targets for negative gaps,
        and the residual then pushed the lower lip up through the upper one (PsychoPy's
        talker: closed frames read back at -0.05 eye distances, lips crossed)."""
        asked = ((target - self.offset + self.slope * host + self.residual_gain * stored)
                 / (1.0 + self.slope + self.residual_gain))
        return at_least_closed(asked, stored)


def at_least_closed(asked: float, stored: float) -> float:
    """`asked`, raised to a closed mouth (0), or to the entry's `stored` gap where that
    reads below 0: a paste is never asked to push one lip through the other."""
    return max(asked, min(stored, 0.0))


def gap_of(landmarks: np.ndarray) -> float | None:
    """Inner-lip gap in face units of 68 image landmarks (None: no usable face frame)."""
    try:
        axes = face_frame(landmarks)
    except BadInput:
        return None
    return max(mouth_gap_iod(axes.to_local(untangle_mouth(landmarks, frame=axes))), 0.0)


Row = tuple[float, float, float, float]  # read-back error, asked - host, residual, 1


def probe_pastes(bank: MouthBank, probes: Sequence[tuple[np.ndarray, TrackedFace, int]], *,
          refiner: LandmarkRefiner, synth: FootageSynth, count: int) -> list[Row]:
    """Paste `count` of `probes` (frame, its face, the entry selection chose for it) at
    a spread of residuals and read their lips back: the rows `fit` takes.

    `synth` is a spare synthesiser (its colour state is reset around every probe)."""
    if bank.size == 0 or not probes or count < 1:
        return []
    picks = np.linspace(0, len(probes) - 1, min(count, len(probes))).round().astype(int)
    rows: list[Row] = []
    for n, pick in enumerate(picks):
        frame, tracked, entry = probes[pick]
        host = gap_of(tracked.face.landmarks)
        if host is None:
            continue
        residual = PROBE_RESIDUALS_IOD[n % len(PROBE_RESIDUALS_IOD)]
        asked = float(bank.gap[entry]) + residual
        if asked < MIN_ASKED_GAP_IOD:
            continue
        synth.reset()
        out = synth.bank_frame(frame, tracked.face.landmarks, entry, target_gap=asked,
                               jumped=False)
        if out is None:
            continue
        read = gap_of(np.asarray(refiner.landmarks_in_box(out, tracked.face.box)))
        if read is not None:
            rows.append((read - asked, asked - host, residual, 1.0))
    synth.reset()
    return rows


def fit(rows: Sequence[Row]) -> GapCorrection:
    """The least-squares `GapCorrection` of probe rows (identity when too few)."""
    if len(rows) < MIN_SAMPLES:
        return GapCorrection()
    data = np.array(rows, np.float64)
    # The slope on (asked - host) is fitted only where the probes' hosts and mouths
    # differ enough to tell it from the offset (a render of one steady shot often not).
    spread = float(data[:, 1].std()) >= MIN_SLOPE_SPREAD_IOD
    columns = [3, 1, 2] if spread else [3, 2]
    coeffs, *_ = np.linalg.lstsq(data[:, columns], data[:, 0], rcond=None)
    slope = float(coeffs[1]) if spread else 0.0
    return GapCorrection(offset=float(np.clip(coeffs[0], *OFFSET_RANGE_IOD)),
                         slope=float(np.clip(slope, *SLOPE_RANGE)),
                         residual_gain=float(np.clip(coeffs[-1], *RESIDUAL_GAIN_RANGE)),
                         samples=len(rows))
