"""Re-timing a performer's reel under speech of another length, without a visible jump.

A reel is shorter or longer than the speech it is to carry. Shorter reels loop: the
footage plays forward to a *loop end* ``e`` and continues at an earlier *loop start*
``j`` chosen so that frame ``j`` looks like the frame that would have followed ``e``
(``e + 1``) while both are in a still moment (low motion), so the cut reads as one more
ordinary frame step. The choice is made on small grey thumbnails (one decode of the reel
at 64 px wide) with one matrix product, so a 3-minute reel costs about a second.

The frames themselves are then decoded run by run, forward only (each run re-opens the
reel and skips to its start): nothing but thumbnails is held in memory, whatever the
reel's length or resolution.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from likeness.errors import BadInput
from media.decode import iter_frames
from media.probe import MediaInfo, probe

THUMB_WIDTH_PX = 64
MIN_LOOP_SHARE = 0.5  # a loop replays at least half the reel (repeats stay far apart)
MIN_TYPICAL_STEP = 1e-4  # grey levels 0..1: below this the reel is a still
MOTION_WEIGHT = 1.0  # how much stillness around a cut counts against likeness of frames


@dataclass(frozen=True)
class Cut:
    """One place the re-timed footage jumps back: output frame ``at`` shows reel frame
    ``to`` where the reel would have shown ``after + 1``. ``jump`` is that step's size
    in units of the reel's mean frame-to-frame motion (1.0 = an ordinary step)."""

    at: int
    after: int
    to: int
    jump: float


@dataclass(frozen=True)
class ReelPlan:
    """Which reel frames make the output: forward runs ``[start, stop)`` in order."""

    runs: tuple[tuple[int, int], ...]
    cuts: tuple[Cut, ...]
    reel_frames: int

    @property
    def frames(self) -> int:
        return sum(stop - start for start, stop in self.runs)

    def indices(self) -> list[int]:
        return [i for start, stop in self.runs for i in range(start, stop)]


def thumbnails(path: Path, *, fps: float, info: MediaInfo | None = None) -> np.ndarray:
    """The reel at ``fps`` as (n, h, w) float32 grey thumbnails, 0..1."""
    media_info = info if info is not None else probe(path)
    video = media_info.require_video()
    width, height = video.display_size
    thumb_h = max(2, round(THUMB_WIDTH_PX * height / max(1, width)))
    grey = [f.rgb.astype(np.float32).mean(axis=2) / 255.0
            for f in iter_frames(path, info=media_info, cfr_fps=fps,
                                 size=(THUMB_WIDTH_PX, thumb_h))]
    if not grey:
        raise BadInput(f"reel {path.name} has no frames")
    return np.stack(grey)


def motion(thumbs: np.ndarray) -> np.ndarray:
    """Per frame, the RMS change from the previous frame (the first gets the second's)."""
    flat = thumbs.reshape(thumbs.shape[0], -1)
    steps = np.sqrt(np.mean(np.diff(flat, axis=0) ** 2, axis=1))
    if steps.size == 0:
        return np.zeros(flat.shape[0], dtype=np.float32)
    return np.concatenate([steps[:1], steps]).astype(np.float32)


def plan(thumbs: np.ndarray, frames_needed: int) -> ReelPlan:
    """The runs that fill ``frames_needed`` output frames from this reel (see the module)."""
    n = int(thumbs.shape[0])
    if frames_needed <= 0:
        raise BadInput("nothing to render: the speech has no length")
    if frames_needed <= n:
        return ReelPlan(runs=((0, frames_needed),), cuts=(), reel_frames=n)
    step = motion(thumbs)
    # the mean, not the median: decoded footage often moves in whole-pixel steps, so
    # most frame steps can be ~0 with a few large ones between them
    typical = float(np.mean(step[1:])) if n > 2 else 0.0
    scale = max(typical, MIN_TYPICAL_STEP)
    start, end, jump = _loop_points(thumbs, step / scale, scale=scale)
    runs: list[tuple[int, int]] = [(0, end + 1)]
    cuts: list[Cut] = []
    filled = end + 1
    while filled < frames_needed:
        stop = min(end + 1, start + frames_needed - filled)
        cuts.append(Cut(at=filled, after=end, to=start, jump=round(jump, 3)))
        runs.append((start, stop))
        filled += stop - start
    return ReelPlan(runs=tuple(runs), cuts=tuple(cuts), reel_frames=n)


def _loop_points(thumbs: np.ndarray, stillness: np.ndarray, *,
                 scale: float) -> tuple[int, int, float]:
    """(loop start j, loop end e, jump) minimizing the step e -> j against the step
    e -> e + 1, plus the motion at both ends; the loop spans at least half the reel."""
    n = thumbs.shape[0]
    flat = thumbs.reshape(n, -1).astype(np.float64)
    if n < 3:
        return 0, n - 1, float(np.sqrt(np.mean((flat[-1] - flat[0]) ** 2)) / scale)
    squares = np.sum(flat ** 2, axis=1)
    # distance between "the frame after e" (rows e + 1) and a candidate start j (columns)
    after = slice(1, n)
    d2 = squares[after, None] + squares[None, :] - 2.0 * flat[after] @ flat.T
    distance = np.sqrt(np.maximum(d2, 0.0) / flat.shape[1]) / scale  # rows: e = 0..n-2
    ends = np.arange(n - 1)[:, None]
    starts = np.arange(n)[None, :]
    min_span = max(1, int(np.ceil(MIN_LOOP_SHARE * n)))
    allowed = (ends - starts + 1) >= min_span
    cost = distance + MOTION_WEIGHT * (stillness[:n - 1, None] + stillness[None, :])
    cost = np.where(allowed, cost, np.inf)
    e, j = np.unravel_index(int(np.argmin(cost)), cost.shape)
    return int(j), int(e), float(distance[e, j])


def frames(path: Path, reel_plan: ReelPlan, *, fps: float,
           info: MediaInfo | None = None) -> Iterator[np.ndarray]:
    """The planned frames, RGB uint8, decoded forward run by run at ``fps``."""
    media_info = info if info is not None else probe(path)
    for start, stop in reel_plan.runs:
        for frame in iter_frames(path, info=media_info, cfr_fps=fps):
            if frame.index >= stop:
                break
            if frame.index >= start:
                yield frame.rgb
