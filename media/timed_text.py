"""Timed text: what is said and when, in one vocabulary for every stage of a dub.

Speech recognition hears cues (with word timings), translation replaces their text,
subtitle files hold them, speech synthesis reports word and phoneme timings, and
lip-sync reads the phonemes. All of them speak these types, so no stage has to
convert another's idea of a cue, and the rules for a good subtitle track are
written once (`validate_cues`). Times are seconds from the start of the media.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from likeness.errors import BadInput

MS_PER_S = 1000
VIDEO_END_TOLERANCE_S = 0.05  # SRT rounds to ms and players round to frames
_ENDS_BEFORE_START = "ends before it starts (or at the same time)"


@dataclass(frozen=True)
class WordTiming:
    """One word and when it is heard; `probability` is a recognizer's confidence (0..1),
    None where the word was synthesized rather than heard."""

    text: str
    start_s: float
    end_s: float
    probability: float | None = None


@dataclass(frozen=True)
class PhonemeTiming:
    """One phoneme (IPA where the source gives IPA) and when it is heard."""

    phoneme: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Cue:
    """One subtitle-sized stretch of speech; ``index`` is its 1-based position in its track.

    A cue that starts before 0 or ends before it starts cannot be placed on any
    timeline, so it is refused here; whether a whole track is usable (text, order,
    overlaps, the video's length) is `validate_cues`'s question.
    """

    index: int
    start_s: float
    end_s: float
    text: str
    words: tuple[WordTiming, ...] = ()

    def __post_init__(self) -> None:
        if self.start_s < 0:
            raise BadInput(f"{self.describe()} starts before 0")
        if self.end_s < self.start_s:
            raise BadInput(f"{self.describe()} {_ENDS_BEFORE_START}")

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def describe(self) -> str:
        """How error messages name this cue: number and times, as in an SRT file."""
        return f"cue {self.index} ({format_timestamp(self.start_s)} --> " \
               f"{format_timestamp(self.end_s)})"



def format_timestamp(seconds: float, *, decimal: str = ".") -> str:
    """``HH:MM:SS.mmm`` (WebVTT and messages); ``decimal=","`` gives SubRip's form."""
    total_ms = int(round(seconds * MS_PER_S))
    sign = "-" if total_ms < 0 else ""
    hours, rest = divmod(abs(total_ms), 3600 * MS_PER_S)
    minutes, rest = divmod(rest, 60 * MS_PER_S)
    secs, millis = divmod(rest, MS_PER_S)
    return f"{sign}{hours:02d}:{minutes:02d}:{secs:02d}{decimal}{millis:03d}"


def validate_cues(
    cues: Sequence[Cue], *, video_duration: float | None, source: str = "subtitles"
) -> None:
    """Raise ``BadInput`` for the first cue a dub cannot speak, naming it and `source`.

    Strict on purpose, since the cues drive speech timing: empty text, no duration,
    cues out of order or overlapping, and (with `video_duration`, seconds) cues that
    run past the end of the video are all errors rather than misplaced speech.
    """
    if not cues:
        raise BadInput(f"{source} has no cues")
    previous: Cue | None = None
    for cue in cues:
        where = f"{source}: {cue.describe()}"
        if not cue.text:
            raise BadInput(f"{where} has no text", hint="remove the cue or give it text")
        if cue.end_s <= cue.start_s:
            raise BadInput(f"{where} {_ENDS_BEFORE_START}")
        if previous is not None and cue.start_s < previous.start_s:
            raise BadInput(f"{where} is out of order: it starts before "
                           f"{previous.describe()}", hint="sort the cues by start time")
        if previous is not None and cue.start_s < previous.end_s:
            raise BadInput(f"{where} overlaps {previous.describe()}",
                           hint="make each cue end before the next one starts")
        if video_duration is not None and cue.end_s > video_duration + VIDEO_END_TOLERANCE_S:
            raise BadInput(f"{where} ends after the video, which lasts "
                           f"{format_timestamp(video_duration)}",
                           hint="shorten or remove the cues past the end of the video")
        previous = cue
