"""Re-timing a performer's reel under speech of another length, without a visible jump.

A reel is shorter or longer than the speech it is to carry. Shorter reels loop: the
footage plays forward to a *loop end* ``e`` and continues at an earlier *loop start*
``j`` chosen so that frame ``j`` looks like the frame that would have followed ``e``
(``e + 1``) while both are in a still moment (low motion), so the cut reads as one more
ordinary frame step. The choice is made on small grey thumbnails (one decode of the reel
at 64 px wide) with one matrix product, so a 3-minute reel costs about a second.

When no loop point is that good (the reel never comes back to where it was), the footage
*ping-pongs* instead: it plays to the end, then back and forth over its last 3 s. The
motion reverses at each bounce, but no frame step is larger than the reel's own.

Loop frames are decoded run by run, forward only (each run re-opens the reel and skips
to its start): only thumbnails are held in memory, whatever the reel's length or
resolution; a ping-pong keeps its 3-s window (75 frames) while it bounces.
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
MAX_CUT_JUMP = 1.5  # mean frame steps; a worse loop point would show, so ping-pong instead
PING_PONG_FRAMES = 75  # 3 s at 25 fps: what a ping-pong keeps in memory


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
    """Which reel frames make the output: runs ``(start, stop, step)`` as `range` takes
    them, in order. Backward runs (step -1) only occur in a ping-pong, whose frames all
    lie at or after ``bounce_from`` (they are kept in memory while the first run plays)."""

    runs: tuple[tuple[int, int, int], ...]
    cuts: tuple[Cut, ...]
    reel_frames: int
    bounce_from: int | None = None

    @property
    def frames(self) -> int:
        return sum(len(range(*run)) for run in self.runs)

    @property
    def bounces(self) -> int:
        return len(self.runs) - 1 if self.bounce_from is not None else 0

    def indices(self) -> list[int]:
        return [i for run in self.runs for i in range(*run)]


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
        return ReelPlan(runs=((0, frames_needed, 1),), cuts=(), reel_frames=n)
    step = motion(thumbs)
    # the mean, not the median: decoded footage often moves in whole-pixel steps, so
    # most frame steps can be ~0 with a few large ones between them
    typical = float(np.mean(step[1:])) if n > 2 else 0.0
    scale = max(typical, MIN_TYPICAL_STEP)
    start, end, jump = _loop_points(thumbs, step / scale, scale=scale)
    if jump > MAX_CUT_JUMP:
        return _ping_pong(n, frames_needed)
    runs: list[tuple[int, int, int]] = [(0, end + 1, 1)]
    cuts: list[Cut] = []
    filled = end + 1
    while filled < frames_needed:
        stop = min(end + 1, start + frames_needed - filled)
        cuts.append(Cut(at=filled, after=end, to=start, jump=round(jump, 3)))
        runs.append((start, stop, 1))
        filled += stop - start
    return ReelPlan(runs=tuple(runs), cuts=tuple(cuts), reel_frames=n)


def _ping_pong(n: int, frames_needed: int) -> ReelPlan:
    """No loop point looks like an ordinary step: play the reel, then bounce back and
    forth over its last `PING_PONG_FRAMES` (motion reverses, nothing jumps)."""
    low = max(0, n - PING_PONG_FRAMES)
    runs: list[tuple[int, int, int]] = [(0, n, 1)]
    filled, at_end = n, True
    while filled < frames_needed and n > 1:
        room = frames_needed - filled
        if at_end:  # n-2 down to low
            count = min(room, n - 1 - low)
            runs.append((n - 2, n - 2 - count, -1))
        else:  # low+1 up to n-1
            count = min(room, n - 1 - low)
            runs.append((low + 1, low + 1 + count, 1))
        filled += count
        at_end = not at_end
    if filled < frames_needed:  # a one-frame reel: hold it
        runs.extend((0, 1, 1) for _ in range(frames_needed - filled))
    return ReelPlan(runs=tuple(runs), cuts=(), reel_frames=n, bounce_from=low)


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
    """The planned frames, RGB uint8 (each the consumer's own), at ``fps``: forward runs
    decoded as they play; a ping-pong's window kept from the first run and replayed."""
    media_info = info if info is not None else probe(path)
    if reel_plan.bounce_from is None:
        for start, stop, _step in reel_plan.runs:
            for frame in iter_frames(path, info=media_info, cfr_fps=fps):
                if frame.index >= stop:
                    break
                if frame.index >= start:
                    yield frame.rgb
        return
    first, *rest = reel_plan.runs
    kept: dict[int, np.ndarray] = {}
    for frame in iter_frames(path, info=media_info, cfr_fps=fps):
        if frame.index >= first[1]:
            break
        if frame.index >= reel_plan.bounce_from:
            kept[frame.index] = frame.rgb.copy()
        yield frame.rgb
    for run in rest:
        for index in range(*run):
            yield kept[index].copy()
