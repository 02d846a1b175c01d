"""`--fit video`: the picture slows around a long line, and frames and sound follow one map.

The checks that matter to a viewer: the plan slows only lines that would otherwise be
sped up, never beyond its cap; the output has the mapped length; and a moment that is
both seen and heard in the source (a flash with a click) is still seen and heard at the
same instant after the slow-down (A/V offset <= 40 ms at every cue boundary).
"""

from __future__ import annotations

import numpy as np
import pytest

from likeness.errors import BadInput
from media.cue_timing import LINE_GAP_S, MAX_PICTURE_STRETCH, on_output, picture_plan, place_lines
from media.slow_motion import slowed_audio, slowed_frames
from media.time_map import Stretch, TimeMap
from media.timed_text import Cue

FPS = 25.0
RATE_HZ = 16_000


def _cues(*spans: tuple[float, float]) -> tuple[Cue, ...]:
    return tuple(Cue(i, start, end, f"line {i}") for i, (start, end) in enumerate(spans, 1))


def test_the_map_stretches_only_its_spans_and_inverts() -> None:
    timemap = TimeMap(duration_s=10.0, stretches=(Stretch(2.0, 4.0, 1.25), Stretch(6.0, 7.0, 1.1)))
    assert timemap.to_output(1.0) == pytest.approx(1.0)
    assert timemap.to_output(4.0) == pytest.approx(4.5)
    assert timemap.to_output(6.5) == pytest.approx(7.05)
    assert timemap.output_duration_s == pytest.approx(10.6)
    for t in (0.0, 2.7, 4.0, 6.3, 9.9, 10.4):
        assert timemap.to_source(timemap.to_output(t)) == pytest.approx(t)
    assert [round(f, 2) for *_, f in timemap.pieces()] == [1.0, 1.25, 1.0, 1.1, 1.0]
    assert timemap.map_spans([(2.0, 4.0)])[0] == pytest.approx((2.0, 4.5))
    with pytest.raises(BadInput):
        TimeMap(duration_s=5.0, stretches=(Stretch(1.0, 2.0, 0.8),))  # speeding the picture


def test_plan_slows_only_lines_that_would_be_sped_and_caps_it() -> None:
    cues = _cues((0.0, 1.0), (2.0, 3.0), (4.0, 5.0), (6.0, 7.0))
    # fits | extended into its pause | needs 1.125x | needs 1.5x, more than the cap
    lengths = [0.8, 1.5, 2.2, 4.5]
    assert picture_plan(cues, lengths, mode="speech", duration_s=9.0).identity
    video = picture_plan(cues, lengths, mode="video", duration_s=9.0)
    assert [(s.start_s, s.end_s) for s in video.stretches] == [(4.0, 6.0), (6.0, 9.0)]
    middle, last = video.stretches
    assert middle.factor == pytest.approx((2.2 + LINE_GAP_S) / 2.0)
    assert last.factor == MAX_PICTURE_STRETCH  # 4.5 s in a 3 s span: capped
    assert video.output_duration_s == pytest.approx(9.0 + 2.0 * 0.125 + 3.0 * 0.25)
    both = picture_plan(cues, lengths, mode="both", duration_s=9.0)
    assert [s.factor for s in both.stretches] == pytest.approx([1.125 ** 0.5, 1.5 ** 0.5],
                                                               abs=0.02)
    placed = place_lines(on_output(cues, video), lengths, duration_s=video.output_duration_s,
                         max_tempo=1.35)
    assert placed[2].tempo == 1.0  # slowed picture: natural pace
    assert placed[3].tempo == pytest.approx(4.5 / 3.75)  # the rest is sped, under the cap
    assert placed[3].end_s <= video.output_duration_s + 1e-9
    with pytest.raises(BadInput):
        picture_plan(cues, lengths, mode="video", duration_s=9.0, max_stretch=0.9)


def test_a_line_that_needs_a_small_slow_down_plays_at_its_natural_pace() -> None:
    cues = _cues((0.0, 1.0), (2.0, 3.0))
    lengths = [2.2, 0.5]  # 2.2 s in a 2 s span: needs 1.125x
    video = picture_plan(cues, lengths, mode="video", duration_s=4.0)
    (stretch,) = video.stretches
    assert stretch.factor == pytest.approx((2.2 + LINE_GAP_S) / 2.0)
    first, second = place_lines(on_output(cues, video), lengths,
                                duration_s=video.output_duration_s, max_tempo=1.35)
    assert first.tempo == 1.0 and first.action == "extended"
    assert second.start_s == pytest.approx(video.to_output(2.0))
    assert second.start_s - first.end_s == pytest.approx(LINE_GAP_S)


def _flash_and_click(seconds: float, events: list[float]) -> tuple[list[np.ndarray], np.ndarray]:
    """Dark frames with one bright frame per event, and silence with one beep per event
    (50 ms of 1 kHz: a click would be smeared by the time-stretch filter)."""
    frames = [np.zeros((8, 8, 3), dtype=np.uint8) for _ in range(int(seconds * FPS))]
    audio = np.zeros((int(seconds * RATE_HZ), 2), dtype=np.float32)
    beep = 0.9 * np.sin(2 * np.pi * 1000.0 * np.arange(int(0.05 * RATE_HZ)) / RATE_HZ)
    for t in events:
        frames[int(round(t * FPS))][:] = 255
        at = int(round(t * RATE_HZ))
        audio[at:at + beep.shape[0]] = beep[:, np.newaxis]
    return frames, audio


def test_picture_and_sound_stay_in_sync_at_every_boundary() -> None:
    cues = _cues((0.4, 1.6), (2.0, 3.2), (4.0, 5.2))
    events = [c.start_s for c in cues] + [5.6]
    frames, audio = _flash_and_click(6.0, events)
    timemap = picture_plan(cues, [2.5, 2.0, 1.0], mode="video", duration_s=6.0)
    assert len(timemap.stretches) == 2 and not timemap.identity

    out_frames = list(slowed_frames(iter(frames), timemap, fps=FPS))
    out_audio = slowed_audio(audio, RATE_HZ, timemap)
    expected_s = timemap.output_duration_s
    assert out_audio.shape == (int(round(expected_s * RATE_HZ)), 2)  # stereo, mapped length
    assert len(out_frames) == pytest.approx(expected_s * FPS, abs=1)
    assert abs(len(out_frames) / FPS - out_audio.shape[0] / RATE_HZ) <= 1 / FPS

    brightness = np.array([float(f.mean()) for f in out_frames])
    for t in events:
        where = timemap.to_output(t)
        window = slice(int(where * FPS) - 2, int(where * FPS) + 3)
        seen = (window.start + int(np.argmax(brightness[window]))) / FPS
        near = out_audio[int((where - 0.1) * RATE_HZ):int((where + 0.1) * RATE_HZ), 0]
        assert float(np.abs(near).max()) > 0.3  # the beep is there
        heard = where - 0.1 + int(np.argmax(np.abs(near) > 0.1)) / RATE_HZ
        assert abs(seen - heard) <= 0.040, (t, seen, heard)  # A/V offset at the boundary
        assert abs(heard - where) <= 0.040


def test_slowed_frames_blend_between_neighbours_and_leave_the_rest_alone() -> None:
    frames = [np.full((2, 2, 3), 10 * i, dtype=np.uint8) for i in range(10)]
    timemap = TimeMap(duration_s=10 / FPS, stretches=(Stretch(2 / FPS, 4 / FPS, 1.5),))
    out = [int(f[0, 0, 0]) for f in slowed_frames(iter(frames), timemap, fps=FPS)]
    assert out[:3] == [0, 10, 20]  # before the span: the source frames
    assert out[3] == pytest.approx(27, abs=1)  # two thirds of the way from 20 to 30: blended
    assert out[-3:] == [70, 80, 90]  # after it: the source frames again
    assert len(out) == 11
    identity = TimeMap(duration_s=10 / FPS)
    assert [int(f[0, 0, 0]) for f in slowed_frames(iter(frames), identity, fps=FPS)] == \
        [10 * i for i in range(10)]
