"""Choose a bank entry for every output frame: unit selection solved with Viterbi.

As in concatenative speech synthesis, each frame has a target (the mouth shape the
new speech asks for) and each candidate a cost: how far its lips are from the target
(gap and width), how well its head pose and brightness suit the frame it will be
pasted into, and, between neighbours, whether it continues the previous choice. The
footage frame that really followed the previous one costs nothing, holding a frame
costs a little, and any other jump costs a constant plus how different the two
mouths look, so the path prefers real runs of consecutive footage (natural motion)
and jumps only where the shape demands it. The path is solved over a window of
frames at once; the last choice of a window seeds the next.

Targets come in as `MouthShape` tracks (from phoneme timings or the audio, see
`models.lipsync.mouth`) and are placed on this performer's own range of openings,
so "wide open" means as wide as this person opens in the footage.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.lipsync.footage.bank import MouthBank

CANDIDATES = 24  # per frame, by target cost, plus the successors of the last ones
GAP_SCALE_IOD = 0.02
WIDTH_SCALE_IOD = 0.05
POSE_SCALE_IOD = 0.06
BRIGHTNESS_SCALE = 25.0
POSE_WEIGHT = 0.5
BRIGHTNESS_WEIGHT = 0.3
TEETH_WEIGHT = 0.6  # open targets prefer showing teeth where the footage shows them
TEETH_OPENING = 0.45
# Open targets avoid entries whose interior is flatter than the footage's real open
# mouths (the bar: at least half their colour variance). Pasting resamples the
# crop twice and softens it, so the entries asked for keep a margin above that half;
# below `FLAT_SHARE` the cost grows to `FLAT_WEIGHT` over `FLAT_RAMP`. On the Pexels dub
# teeth-only interiors (a smile with the lips just parted, 0.41-0.49 of the open
# mouths' variance) were chosen for 36 of 143 open frames and read back at 0.29-0.47.
FLAT_SHARE = 0.65
FLAT_RAMP = 0.25
FLAT_WEIGHT = 8.0
HOLD_COST = 0.4
JUMP_COST = 0.6
JUMP_SHAPE_SCALE_IOD = 0.04
FALLBACK_GAP_IOD = 0.07  # the bank's nearest opening is this far off: synthesize instead
WIDTH_GAIN = 0.16  # as the viseme engine: width 0/1 narrows/spreads the rest width by this
ROUNDING_NARROWING = 0.2
SOURCE_WIDTH_SHARE = 0.5


@dataclass(frozen=True)
class Targets:
    """What frames t0..t1 ask for: lip gap and width (face units), teeth wanted."""

    gap: np.ndarray
    width: np.ndarray
    teeth: np.ndarray
    open: np.ndarray | None = None  # open targets: their interior must not be flat


@dataclass(frozen=True)
class Range:
    """This performer's openings as the bank holds them."""

    closed_gap: float
    open_gap: float
    rest_width: float
    has_teeth: bool

    @classmethod
    def of(cls, bank: MouthBank) -> Range:
        closed = float(np.percentile(bank.gap, 3))
        wide = float(np.percentile(bank.gap, 98))
        near_closed = bank.gap <= closed + 0.25 * max(wide - closed, 1e-3)
        rest = float(np.median(bank.width[near_closed] if near_closed.any() else bank.width))
        return cls(closed, wide, rest, bool(bank.teeth.any()))

    @property
    def span(self) -> float:
        return self.open_gap - self.closed_gap


def targets_for(shapes: np.ndarray, extent: Range, *,
                source_width: np.ndarray | None = None,
                open_floor: float | None = None) -> Targets:
    """Mouth-shape rows (opening, width, rounding) placed on the performer's range.

    With `source_width` (the frame's own mouth width, face units), the width the speech
    asks for is taken partly from the frame instead of the rest width, so a smile in
    the source survives the new speech (`SOURCE_WIDTH_SHARE`). With `open_floor` (see
    `textured_gap`), open rows ask for at least that gap."""
    values = np.asarray(shapes, np.float64).reshape(-1, 3)
    gap = extent.closed_gap + values[:, 0] * extent.span
    scale = 1.0 + WIDTH_GAIN * (values[:, 1] - 0.5) * 2.0 - ROUNDING_NARROWING * values[:, 2]
    base = np.full(len(values), extent.rest_width)
    if source_width is not None and SOURCE_WIDTH_SHARE > 0:
        own = np.asarray(source_width, np.float64).reshape(-1)
        own = np.where(np.isfinite(own), own, extent.rest_width)
        base = (1 - SOURCE_WIDTH_SHARE) * base + SOURCE_WIDTH_SHARE * own
    width = base * np.clip(scale, 0.6, 1.3)
    opened = values[:, 0] >= TEETH_OPENING
    if open_floor is not None:
        gap = np.where(opened, np.maximum(gap, open_floor), gap)
    return Targets(gap.astype(np.float32), width.astype(np.float32), opened & extent.has_teeth,
                   opened)


def textured_gap(bank: MouthBank) -> float | None:
    """The opening from which this performer's real mouths show a textured interior
    (teeth and the dark behind them, not only teeth): the 10th percentile gap of the
    open entries without an `interior_shortfall`; None when the bank has none.

    Speech-driven shapes are approximate (a viseme, not a measured lip), so an open one
    asks for at least this gap: on the Pexels dub a viseme at half the performer's range
    asked for 0.12-0.16 eye distances, where her real mouths show only the upper teeth
    (0.40-0.49 of her open mouths' variance)."""
    if bank.size == 0:
        return None
    extent = Range.of(bank)
    rich = (interior_shortfall(bank) == 0) & (bank.gap >= extent.closed_gap
                                              + TEETH_OPENING * extent.span)
    return float(np.percentile(bank.gap[rich], 10)) if rich.any() else None


def interior_shortfall(bank: MouthBank) -> np.ndarray:
    """(N,) 0..1: how far each entry's interior variance falls below `FLAT_SHARE` of the
    bank's real open mouths' (the median of its most open quarter)."""
    if bank.size == 0:
        return np.zeros(0, np.float32)
    reference = float(np.median(bank.interior_var[bank.gap >= np.percentile(bank.gap, 75)]))
    share = bank.interior_var / max(reference, 1e-6)
    return np.clip((FLAT_SHARE - share) / FLAT_RAMP, 0.0, 1.0).astype(np.float32)


def _centred(mouths: np.ndarray) -> np.ndarray:
    return mouths - mouths.mean(axis=1, keepdims=True)


def target_costs(bank: MouthBank, targets: Targets, *, yaw: np.ndarray | None = None,
                 pitch: np.ndarray | None = None,
                 brightness: np.ndarray | None = None) -> np.ndarray:
    """(T, N) cost of bank entry n on frame t: shape, then pose and light where known."""
    cost = ((bank.gap[None, :] - targets.gap[:, None]) / GAP_SCALE_IOD) ** 2
    cost += ((bank.width[None, :] - targets.width[:, None]) / WIDTH_SCALE_IOD) ** 2
    cost += TEETH_WEIGHT * (targets.teeth[:, None] & ~bank.teeth[None, :])
    if targets.open is not None:
        cost += FLAT_WEIGHT * (targets.open[:, None] * interior_shortfall(bank)[None, :])
    for wanted, held, scale, weight in ((yaw, bank.yaw, POSE_SCALE_IOD, POSE_WEIGHT),
                                        (pitch, bank.pitch, POSE_SCALE_IOD, POSE_WEIGHT),
                                        (brightness, bank.brightness, BRIGHTNESS_SCALE,
                                         BRIGHTNESS_WEIGHT)):
        if wanted is None:
            continue
        diff = (held[None, :] - np.asarray(wanted, np.float32)[:, None]) / scale
        cost += weight * np.nan_to_num(diff, nan=0.0) ** 2
    return cost.astype(np.float32)


def shape_distances(bank: MouthBank) -> np.ndarray:
    """(N, N) RMS distance between the centred lip shapes of every two entries (face units).

    Computed once per bank from Gram matrices, so a transition costs a lookup."""
    flat = _centred(bank.mouths.astype(np.float64)).reshape(bank.size, -1)
    squared = (flat**2).sum(axis=1)
    gram = squared[:, None] + squared[None, :] - 2.0 * flat @ flat.T
    points = bank.mouths.shape[1]
    return np.sqrt(np.maximum(gram, 0.0) / points).astype(np.float32)


def _transition(bank: MouthBank, distances: np.ndarray, previous: np.ndarray,
                current: np.ndarray) -> np.ndarray:
    """(P, C) cost of going from entries `previous` to entries `current`."""
    shape = distances[np.ix_(previous, current)]
    cost = JUMP_COST + shape / JUMP_SHAPE_SCALE_IOD
    cost = np.where(previous[:, None] == current[None, :], HOLD_COST, cost)
    follows = bank.follows(previous[:, None], current[None, :])
    return np.where(follows, 0.0, cost).astype(np.float32)


def viterbi(bank: MouthBank, costs: np.ndarray, *, start: int | None = None,
            distances: np.ndarray | None = None) -> np.ndarray:
    """The cheapest entry path through the (T, N) target costs (entry indices, length T).

    `distances` is `shape_distances(bank)`, passed in when solving many windows."""
    frames, entries = costs.shape
    if frames == 0:
        return np.zeros(0, np.int64)
    centred = shape_distances(bank) if distances is None else distances
    keep = min(CANDIDATES, entries)
    successor = _successors(bank)
    sets: list[np.ndarray] = []
    scores: list[np.ndarray] = []
    back: list[np.ndarray] = []
    previous = None if start is None else np.array([start])
    previous_score = None if start is None else np.zeros(1, np.float32)
    for t in range(frames):
        best = np.argpartition(costs[t], keep - 1)[:keep]
        if previous is not None:
            follow = successor[previous]
            best = np.unique(np.concatenate([best, previous, follow[follow >= 0]]))
        unary = costs[t, best]
        if previous is None or previous_score is None:
            score = unary
            pointer = np.zeros(len(best), np.int64)
        else:
            total = previous_score[:, None] + _transition(bank, centred, previous, best)
            pointer = np.argmin(total, axis=0)
            score = total[pointer, np.arange(len(best))] + unary
        sets.append(best)
        scores.append(score)
        back.append(pointer)
        previous, previous_score = best, score
    path = np.zeros(frames, np.int64)
    position = int(np.argmin(scores[-1]))
    for t in range(frames - 1, -1, -1):
        path[t] = sets[t][position]
        position = int(back[t][position]) if t > 0 else position
    return path


def _successors(bank: MouthBank) -> np.ndarray:
    """Per entry, the entry of the next footage frame, or -1."""
    following = np.full(bank.size, -1, np.int64)
    if bank.size > 1:
        nxt = np.arange(1, bank.size)
        linked = bank.follows(nxt - 1, nxt)
        following[:-1][linked] = nxt[linked]
    return following


def needs_fallback(bank: MouthBank, path: np.ndarray, targets: Targets) -> np.ndarray:
    """Frames whose chosen entry is still too far from the asked-for opening."""
    return np.abs(bank.gap[path] - targets.gap) > FALLBACK_GAP_IOD
