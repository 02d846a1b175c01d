"""Identity binding: is every face a render alters the performer's face?

The source is searched over its whole length and the faces found are grouped into
tracks (flows/faces.py); each track brings a few well-spaced, sharp, frontal
embeddings. Here, on the trusted side of the gate, each track is judged on a robust
aggregate: the median of its best ``BEST_K`` distances to the nearest reference. One
frame turned away or blurred cannot refuse the performer, and one lucky frame cannot
admit another person (the median of three needs two close frames).

Which tracks must be the performer's depends on the render: a render that publishes
or alters every face (``stamp``) is refused when any track is someone else's; a
render that alters one face (lip-sync, reenactment) goes ahead on the performer's
tracks and leaves the others untouched, and the decision names them. A source in
which the performer never appears is refused either way.

Thresholds are per engine (the metric differs) and must sit inside a documented
range (docs/identity-threshold.md): a threshold of 1.5 would call anyone "the
performer", so it is refused rather than obeyed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from likeness.errors import BadInput

FaceScope = Literal["every_face", "one_face"]

# dlib 128-D, Euclidean distance. Real photographs of one person across sessions measure
# 0.25-0.50, of different people >= 0.68; see docs/identity-threshold.md for FAR/FRR.
DEFAULT_IDENTITY_THRESHOLD = 0.44
# insightface ArcFace (buffalo_l / w600k_r50), cosine distance 1 - cos.
INSIGHTFACE_IDENTITY_THRESHOLD = 0.6

DEFAULT_THRESHOLDS: dict[str, float] = {
    "dlib": DEFAULT_IDENTITY_THRESHOLD,
    "insightface": INSIGHTFACE_IDENTITY_THRESHOLD,
}
# (lowest, highest) accepted threshold per engine. Below the low end a performer's own
# footage is refused too often to be usable; above the high end different people are
# accepted (dlib: LFW's 0.6 operating point already errs on 0.62 % of pairs).
SANE_THRESHOLD_RANGES: dict[str, tuple[float, float]] = {
    "dlib": (0.25, 0.6),
    "insightface": (0.3, 0.75),
}
BEST_K = 3  # the aggregate is the median of a track's BEST_K closest frames


def _euclidean(refs: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.linalg.norm(refs - v, axis=1)


def _cosine(refs: np.ndarray, v: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(refs, axis=1) * max(float(np.linalg.norm(v)), 1e-12)
    return 1.0 - (refs @ v) / np.maximum(norms, 1e-12)


METRICS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "dlib": _euclidean,
    "insightface": _cosine,
}


def default_threshold(engine: str) -> float:
    return DEFAULT_THRESHOLDS.get(engine, DEFAULT_IDENTITY_THRESHOLD)


def check_threshold(engine: str, threshold: float) -> float:
    """Refuse a threshold outside the engine's documented range (BadInput, exit 2)."""
    if engine not in SANE_THRESHOLD_RANGES:
        raise BadInput(f"no identity threshold range is documented for face engine {engine!r}",
                       hint="see docs/identity-threshold.md")
    low, high = SANE_THRESHOLD_RANGES[engine]
    if not low <= threshold <= high:
        raise BadInput(f"identity_threshold {threshold} is outside the range {low}-{high} "
                       f"documented for the {engine} face engine",
                       hint="see docs/identity-threshold.md for what each value accepts")
    return threshold


@dataclass(frozen=True)
class TrackJudgement:
    track_id: int
    start_s: float
    end_s: float
    distance: float  # the track's aggregate distance to the performer's nearest reference
    performer: bool


@dataclass(frozen=True)
class IdentityMatch:
    matched: bool
    best_distance: float | None
    reason: str | None
    tracks: tuple[TrackJudgement, ...] = ()

    @property
    def others(self) -> tuple[TrackJudgement, ...]:
        return tuple(t for t in self.tracks if not t.performer)


class TrackLike(Protocol):
    """What the gate reads of a face track (consent.models.FaceTrackEvidence)."""

    @property
    def track_id(self) -> int: ...
    @property
    def start_s(self) -> float: ...
    @property
    def end_s(self) -> float: ...
    @property
    def embeddings(self) -> tuple[tuple[float, ...], ...]: ...


def track_distance(embeddings: Sequence[Sequence[float]], refs: np.ndarray, *,
                   metric: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> float:
    """Median of the ``BEST_K`` smallest nearest-reference distances of one track."""
    nearest = sorted(float(np.min(metric(refs, np.asarray(v, dtype=np.float32))))
                     for v in embeddings)
    return float(np.median(nearest[:BEST_K]))


def _span(t: TrackJudgement) -> str:
    return f"face track {t.track_id} ({t.start_s:.2f}-{t.end_s:.2f} s)"


def match_identity(tracks: Sequence[TrackLike], references: Sequence[np.ndarray], *,
                   threshold: float, engine: str = "dlib",
                   scope: FaceScope = "every_face") -> IdentityMatch:
    """Judge every face track against the performer's references (see the module doc)."""
    if not tracks:
        return IdentityMatch(True, None, None)
    if not references:
        return IdentityMatch(False, None, "performer has no reference face to match against")
    metric = METRICS.get(engine, _euclidean)
    refs = np.stack([np.asarray(r, dtype=np.float32) for r in references])
    judged: list[TrackJudgement] = []
    for track in tracks:
        if not track.embeddings:
            return IdentityMatch(False, None, f"face track {track.track_id} has no embedding")
        width = {len(v) for v in track.embeddings}
        if width != {refs.shape[1]}:
            return IdentityMatch(False, None,
                                 f"face embedding has {sorted(width)[0]} dimensions, "
                                 f"references have {refs.shape[1]}")
        d = track_distance(track.embeddings, refs, metric=metric)
        judged.append(TrackJudgement(track.track_id, track.start_s, track.end_s, round(d, 4),
                                     performer=d <= threshold))
    mine = [t for t in judged if t.performer]
    others = [t for t in judged if not t.performer]
    if not mine:
        nearest = min(judged, key=lambda t: t.distance)
        return IdentityMatch(False, nearest.distance,
                             f"identity mismatch: the performer does not appear in the source "
                             f"({len(judged)} face track(s); nearest face distance "
                             f"{nearest.distance:.3f} exceeds threshold {threshold:.3f})",
                             tuple(judged))
    worst_mine = max(t.distance for t in mine)
    if others and scope == "every_face":
        listed = "; ".join(f"{_span(t)} distance {t.distance:.3f}" for t in others)
        return IdentityMatch(False, min(t.distance for t in others),
                             f"identity mismatch: face distance exceeds threshold "
                             f"{threshold:.3f} for a face that is not the performer's and "
                             f"would be published under their consent: {listed}",
                             tuple(judged))
    return IdentityMatch(True, worst_mine, None, tuple(judged))
