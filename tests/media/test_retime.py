"""Re-timing a reel: loops cut where the next frame looks like an ordinary step."""

from __future__ import annotations

import numpy as np
import pytest

from likeness.errors import BadInput
from media.retime import motion, plan

PERIOD = 40  # frames of one back-and-forth sway


def swaying(frames: int, *, period: int = PERIOD) -> np.ndarray:
    """Thumbnails of a bright blob swaying left and right (a reel's idle motion)."""
    x = np.arange(64)[None, :]
    y = np.arange(36)[:, None]
    out = []
    for i in range(frames):
        cx = 32 + 12 * np.sin(2 * np.pi * i / period)
        out.append(np.exp(-((x - cx) ** 2 + (y - 18) ** 2) / 60.0).astype(np.float32))
    return np.stack(out)


def test_a_reel_longer_than_the_speech_plays_straight() -> None:
    reel_plan = plan(swaying(100), 60)
    assert reel_plan.runs == ((0, 60),) and reel_plan.cuts == ()


def test_a_short_reel_loops_without_a_jump_bigger_than_a_frame_step() -> None:
    thumbs = swaying(int(PERIOD * 1.6))
    reel_plan = plan(thumbs, 300)
    assert reel_plan.frames == 300
    assert len(reel_plan.cuts) >= 2
    indices = reel_plan.indices()
    step = motion(thumbs)
    typical = float(np.mean(step[1:]))
    jumps = [float(np.sqrt(np.mean((thumbs[indices[c.at]] - thumbs[indices[c.at - 1]]) ** 2)))
             for c in reel_plan.cuts]
    naive = float(np.sqrt(np.mean((thumbs[0] - thumbs[-1]) ** 2)))  # "start over" loop
    assert max(jumps) <= 1.5 * typical, (jumps, typical)
    assert naive > 3 * typical  # the test reel would jump if looped naively
    assert all(c.jump <= 1.5 for c in reel_plan.cuts)
    # every run plays forward; each loop replays at least half the reel
    assert all(stop - start >= len(thumbs) // 2 for start, stop in reel_plan.runs[:-1])


def test_no_speech_is_refused() -> None:
    with pytest.raises(BadInput):
        plan(swaying(10), 0)
