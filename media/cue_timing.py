"""Where each dubbed line is spoken, and how fast: timing without chipmunk speech.

Translated lines rarely last as long as the originals. Speeding speech up to its slot
is what viewers of synthetic dubs complain about most, and cutting it at the next cue
loses words, so a line is placed by these rules, in order:

1. it fits its slot at its natural pace (``fits``);
2. it runs on, at its natural pace, into the pause before the next cue (``extended``);
3. it is sped up to end before the next cue, never beyond the cap (``sped``);
4. at the cap it is still too long: it keeps every word and the following lines move
   later to make room (``shifted``); the next line's own shift is reported on it.

A chain of shifts that would run past the end of the video is pulled back into the
free time before it. When even that is not enough, the lines are placed once more with
every line longer than its slot at the cap (natural pace gives way to room). When that
fails too, the script is longer than the video even at the cap: with the picture kept
as it is (``--fit speech``), the speech that would run past the video's last frame is
cut there with a short fade (``cut``, with the seconds lost reported) -- the one place
a word can be lost, since no later line exists to move and the picture is not slowed.

With ``--fit video`` the picture gives instead: a line that would have to be sped up
(longer than its slot and the pause after it) slows the source from its cue to the
next cue, by at most ``MAX_PICTURE_STRETCH``, until it fits at its natural pace
(`picture_plan`; `media.slow_motion` slows frames and sound alike); only what is still
too long is then sped up by the rules above, on the slowed timeline. ``--fit both``
splits the need evenly (the same factor on the picture as on the speech, each capped).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from likeness.errors import BadInput
from media.time_map import Stretch, TimeMap
from media.timed_text import Cue

FitAction = Literal["fits", "extended", "sped", "shifted", "cut"]
FitMode = Literal["speech", "video", "both"]  # what gives when a line is longer than its room
LINE_GAP_S = 0.05  # a breath between two lines: they never touch
TEMPO_EPSILON = 1e-3
MAX_PICTURE_STRETCH = 1.25  # slower than this and the slow motion shows


@dataclass(frozen=True)
class Placement:
    """One line on the timeline: when it starts and ends, its tempo and why."""

    start_s: float
    end_s: float
    tempo: float  # 1.0 natural, 1.2 = 20 % faster
    action: FitAction
    cut_s: float = 0.0  # speech lost at the video's end (only when the script cannot fit)


def place_lines(cues: Sequence[Cue], speech_s: Sequence[float], *, duration_s: float,
                max_tempo: float, gap_s: float = LINE_GAP_S) -> tuple[Placement, ...]:
    """Place every line (rules in the module docstring); lines never overlap or get cut."""
    if max_tempo < 1.0:
        raise BadInput(f"invalid speed-up cap {max_tempo}: must be at least 1.0")
    relaxed = _place(cues, speech_s, duration_s=duration_s, max_tempo=max_tempo, gap_s=gap_s,
                     tight=False)
    placed = _pulled_back(relaxed, duration_s=duration_s, gap_s=gap_s)
    if placed is not None:
        return placed
    tight = _place(cues, speech_s, duration_s=duration_s, max_tempo=max_tempo, gap_s=gap_s,
                   tight=True)
    placed = _pulled_back(tight, duration_s=duration_s, gap_s=gap_s)
    return placed if placed is not None else _cut_at_end(tight, duration_s=duration_s)


def _place(cues: Sequence[Cue], speech_s: Sequence[float], *, duration_s: float,
           max_tempo: float, gap_s: float, tight: bool) -> list[Placement]:
    placements: list[Placement] = []
    free_from = 0.0  # where the previous line (and its gap) ends
    for position, (cue, natural) in enumerate(zip(cues, speech_s, strict=True)):
        start = max(cue.start_s, free_from)
        following = cues[position + 1].start_s - gap_s if position + 1 < len(cues) else duration_s
        room = max(following, start + TEMPO_EPSILON) - start
        slot = max(cue.end_s - start, TEMPO_EPSILON)
        action: FitAction
        if natural <= slot:
            tempo, action = 1.0, "fits"
        elif tight:
            tempo = max_tempo
            action = "sped" if natural / tempo <= room else "shifted"
        elif natural <= room:
            tempo, action = 1.0, "extended"
        elif natural / room <= max_tempo:
            tempo, action = natural / room, "sped"
        else:
            tempo, action = max_tempo, "shifted"
        if start > cue.start_s + TEMPO_EPSILON and action != "shifted":
            action = "shifted"  # moved by the line before it
        end = start + natural / tempo
        placements.append(Placement(start, end, tempo, action))
        free_from = end + gap_s
    return placements


def _pulled_back(placements: list[Placement], *, duration_s: float,
                 gap_s: float) -> tuple[Placement, ...] | None:
    """Lines pushed past the video's end move earlier, into the free time before them;
    None when there is not enough of it."""
    limit = duration_s
    settled: list[Placement] = []
    for placement in reversed(placements):
        if placement.end_s > limit:
            shift = placement.end_s - limit
            placement = Placement(placement.start_s - shift, limit, placement.tempo, "shifted")
        settled.append(placement)
        limit = placement.start_s - gap_s
    settled.reverse()
    return None if settled and settled[0].start_s < 0 else tuple(settled)


def _cut_at_end(placements: list[Placement], *, duration_s: float) -> tuple[Placement, ...]:
    """Every line where the cap put it; what runs past the video's end is cut there."""
    cut: list[Placement] = []
    for placement in placements:
        if placement.end_s <= duration_s:
            cut.append(placement)
            continue
        start = min(placement.start_s, duration_s)
        cut.append(Placement(start, duration_s, placement.tempo, "cut",
                             cut_s=placement.end_s - max(placement.start_s, duration_s)))
    return tuple(cut)


def picture_plan(cues: Sequence[Cue], speech_s: Sequence[float], *, mode: FitMode,
                 duration_s: float, max_stretch: float = MAX_PICTURE_STRETCH,
                 gap_s: float = LINE_GAP_S) -> TimeMap:
    """How much to slow the picture around each line that is too long (see the module
    docstring); the identity map for ``speech``. Each span runs from its cue's start to
    the next cue's start (the video's end for the last), so the pause after the line is
    slowed too and the next line moves with the picture it belongs to."""
    if max_stretch < 1.0:
        raise BadInput(f"invalid picture stretch cap {max_stretch}: must be at least 1.0")
    stretches: list[Stretch] = []
    if mode == "speech":
        return TimeMap(duration_s=duration_s)
    for position, (cue, natural) in enumerate(zip(cues, speech_s, strict=True)):
        last = position + 1 == len(cues)
        end = min(duration_s, duration_s if last else cues[position + 1].start_s)
        span = end - cue.start_s
        room = span - (0.0 if last else gap_s)
        if span <= TEMPO_EPSILON or room <= TEMPO_EPSILON or natural <= room:
            continue
        need = (natural + (0.0 if last else gap_s)) / span  # the stretch that fits it at 1.0x
        factor = min(max_stretch, need if mode == "video" else need ** 0.5)
        if factor > 1.0 + TEMPO_EPSILON:
            stretches.append(Stretch(cue.start_s, end, factor))
    return TimeMap(duration_s=duration_s, stretches=tuple(stretches))


def on_output(cues: Sequence[Cue], timemap: TimeMap) -> tuple[Cue, ...]:
    """The cues where they fall on the slowed timeline."""
    return tuple(Cue(index=cue.index, start_s=timemap.to_output(cue.start_s),
                     end_s=timemap.to_output(cue.end_s), text=cue.text) for cue in cues)
