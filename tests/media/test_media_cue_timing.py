"""Placing dubbed lines: natural pace first, sped up only to the cap, never cut, never
overlapping; a too-long line moves the next ones (and back from the video's end)."""

from __future__ import annotations

import pytest

from likeness.errors import BadInput
from media.cue_timing import LINE_GAP_S, place_lines
from media.timed_text import Cue

CAP = 1.35


def _cues(*spans: tuple[float, float]) -> tuple[Cue, ...]:
    return tuple(Cue(i, start, end, f"line {i}") for i, (start, end) in enumerate(spans, 1))


def test_each_rule_in_turn() -> None:
    cues = _cues((0.0, 1.0), (2.0, 3.0), (4.0, 5.0), (6.0, 7.0))
    placed = place_lines(cues, [0.8, 1.5, 2.2, 1.0], duration_s=10.0, max_tempo=CAP)
    fits, extended, sped, after = placed
    assert (fits.action, fits.tempo, fits.end_s) == ("fits", 1.0, pytest.approx(0.8))
    assert extended.action == "extended" and extended.tempo == 1.0  # into the pause
    assert extended.end_s == pytest.approx(3.5)
    assert sped.action == "sped" and 1.0 < sped.tempo <= CAP
    assert sped.end_s == pytest.approx(6.0 - LINE_GAP_S)  # ends before the next line
    assert after.start_s == 6.0 and after.action == "fits"


def test_a_line_too_long_at_the_cap_moves_the_next_one() -> None:
    cues = _cues((0.0, 1.0), (1.5, 2.5))
    first, second = place_lines(cues, [3.0, 1.0], duration_s=10.0, max_tempo=CAP)
    assert first.action == "shifted" and first.tempo == CAP
    assert first.end_s == pytest.approx(3.0 / CAP)  # every word kept
    assert second.start_s == pytest.approx(first.end_s + LINE_GAP_S)
    assert second.action == "shifted" and second.tempo == 1.0


def test_lines_past_the_end_are_pulled_back_or_cut_there() -> None:
    cues = _cues((0.0, 1.0), (3.0, 4.0))
    first, last = place_lines(cues, [1.0, 2.0], duration_s=4.2, max_tempo=CAP)
    assert (last.action, last.tempo) == ("shifted", CAP)  # 2 s into 1.2 s: too long at the cap
    assert last.end_s == pytest.approx(4.2)  # ends with the video instead of past it
    assert last.start_s == pytest.approx(4.2 - 2.0 / CAP)  # so it starts earlier
    assert last.start_s >= first.end_s + LINE_GAP_S - 1e-9
    # no room at natural pace: every line longer than its slot goes at the cap
    tight = place_lines(cues, [2.5, 2.0], duration_s=4.0, max_tempo=CAP)
    assert [p.tempo for p in tight] == [CAP, CAP]
    assert tight[1].end_s == pytest.approx(4.0)
    assert tight[1].start_s >= tight[0].end_s + LINE_GAP_S - 1e-9
    # longer than the video even at the cap: cut at its end, the loss reported
    first, last = place_lines(cues, [4.0, 4.0], duration_s=4.2, max_tempo=CAP)
    assert first.action == "shifted" and first.cut_s == 0.0
    assert last.action == "cut" and last.end_s == 4.2
    assert last.start_s == pytest.approx(4.0 / CAP + LINE_GAP_S)
    assert last.cut_s == pytest.approx(last.start_s + 4.0 / CAP - 4.2)
    with pytest.raises(BadInput, match="cap"):
        place_lines(cues, [1.0, 1.0], duration_s=4.2, max_tempo=0.9)


def test_no_overlap_and_no_tempo_beyond_the_cap_on_a_crowded_script() -> None:
    cues = _cues(*[(i * 1.0, i * 1.0 + 0.9) for i in range(12)])
    lengths = [0.5 + (i % 4) * 0.6 for i in range(12)]
    placed = place_lines(cues, lengths, duration_s=20.0, max_tempo=CAP)
    for before, after in zip(placed, placed[1:], strict=False):
        assert after.start_s >= before.end_s + LINE_GAP_S - 1e-9
    for placement, natural in zip(placed, lengths, strict=True):
        assert placement.tempo <= CAP
        assert placement.end_s - placement.start_s == pytest.approx(natural / placement.tempo)
