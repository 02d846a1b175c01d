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
    assert reel_plan.runs == ((0, 60, 1),) and reel_plan.cuts == ()


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
    assert reel_plan.bounce_from is None
    assert all(step == 1 and stop - start >= len(thumbs) // 2
               for start, stop, step in reel_plan.runs[:-1])


def drifting(frames: int) -> np.ndarray:
    """A blob that drifts one way and never comes back: no loop point would hide."""
    x = np.arange(64)[None, :]
    y = np.arange(36)[:, None]
    return np.stack([np.exp(-((x - 10 - 0.5 * i) ** 2 + (y - 18) ** 2) / 60.0)
                     for i in range(frames)]).astype(np.float32)


def test_a_reel_that_never_returns_ping_pongs_without_a_jump() -> None:
    from media.retime import PING_PONG_FRAMES

    thumbs = drifting(90)
    reel_plan = plan(thumbs, 400)
    indices = reel_plan.indices()
    assert reel_plan.frames == len(indices) == 400
    assert reel_plan.cuts == () and reel_plan.bounces >= 4
    steps = np.abs(np.diff(indices))
    assert set(steps.tolist()) == {1}  # every step is to a neighbouring frame
    assert min(indices[90:]) == reel_plan.bounce_from == 90 - PING_PONG_FRAMES


def test_no_speech_is_refused() -> None:
    with pytest.raises(BadInput):
        plan(swaying(10), 0)


def test_planned_frames_are_decoded_in_plan_order(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from media.decode import iter_frames
    from media.retime import frames, thumbnails
    from tests.support.media import face_clip

    reel = face_clip(tmp_path / "reel.mp4", seconds=1.0, size=(160, 90), audio=False)
    decoded = [f.rgb for f in iter_frames(reel, cfr_fps=25)]
    reel_plan = plan(thumbnails(reel, fps=25), 70)
    out = list(frames(reel, reel_plan, fps=25))
    assert len(out) == 70
    assert all(np.array_equal(frame, decoded[i])
               for frame, i in zip(out, reel_plan.indices(), strict=True))
    out[0][:] = 0  # the consumer owns each frame: a later repeat is untouched
    assert len({id(f) for f in out}) == len(out)
