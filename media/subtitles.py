"""Read, validate and write subtitle scripts (SRT, WebVTT, ASS/SSA) via pysubs2.

A dub script drives speech timing, so a bad cue is refused up front with a
message that names the cue (its number in the file and its times) rather than
producing silently misplaced speech. Validation is strict on purpose: empty
text, non-positive duration, cues out of order or overlapping, and cues
running past the end of the video are all errors.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pysubs2

from likeness.errors import BadInput

MS_PER_S = 1000
VIDEO_END_TOLERANCE_S = 0.05  # SRT rounds to ms and players round to frames
READ_FORMATS = {".srt": "srt", ".vtt": "vtt", ".ass": "ass", ".ssa": "ssa"}
WRITE_FORMATS = {".srt": "srt", ".vtt": "vtt", ".ass": "ass"}
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


@dataclass(frozen=True)
class Cue:
    """One subtitle: ``index`` is its 1-based position in the file."""

    index: int
    start_s: float
    end_s: float
    text: str

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def describe(self) -> str:
        """How error messages name this cue: number and times, as in an SRT file."""
        return f"cue {self.index} ({format_timestamp(self.start_s)} --> " \
               f"{format_timestamp(self.end_s)})"


def format_timestamp(seconds: float) -> str:
    """HH:MM:SS.mmm for messages."""
    total_ms = int(round(seconds * MS_PER_S))
    hours, rest = divmod(total_ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, MS_PER_S)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def load_subtitles(
    path: Path | str,
    *,
    video_duration: float | None,
    encoding: str | None = None,
) -> list[Cue]:
    """Parse and validate a subtitle file; raise ``BadInput`` naming the first bad cue.

    Text is UTF-8 (a BOM is honoured, UTF-16 with a BOM too) unless
    ``encoding`` says otherwise, e.g. ``"latin-1"`` for old SRT files. With
    ``video_duration`` (seconds) every cue must end within the video.
    """
    sub_path = Path(path)
    text = _read_text(sub_path, encoding=encoding)
    if not text.strip():
        raise BadInput(f"subtitle file {sub_path} is empty")
    fmt = READ_FORMATS.get(sub_path.suffix.lower())
    try:
        parsed = pysubs2.SSAFile.from_string(text, format_=fmt)
    except pysubs2.exceptions.FormatAutodetectionError as exc:
        raise BadInput(f"{sub_path} is not a subtitle file (SRT, VTT or ASS expected)") from exc
    except (pysubs2.exceptions.Pysubs2Error, ValueError, KeyError) as exc:
        raise BadInput(f"cannot parse subtitle file {sub_path}: {exc}") from exc
    cues = [
        Cue(index=position, start_s=event.start / MS_PER_S, end_s=event.end / MS_PER_S,
            text=_clean_text(event.plaintext))
        for position, event in enumerate(
            (event for event in parsed.events if not event.is_comment), start=1)
    ]
    if not cues:
        raise BadInput(f"subtitle file {sub_path} has no cues")
    validate_cues(cues, video_duration=video_duration, source=str(sub_path))
    return cues


def _read_text(path: Path, *, encoding: str | None) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise BadInput(f"subtitle file {path} does not exist") from exc
    except OSError as exc:
        raise BadInput(f"cannot read subtitle file {path}: {exc.strerror}") from exc
    chosen = encoding or ("utf-16" if data.startswith(_UTF16_BOMS) else "utf-8-sig")
    try:
        return data.decode(chosen)
    except LookupError as exc:
        raise BadInput(f"unknown text encoding {encoding!r}") from exc
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise BadInput(
            f"subtitle file {path} is not valid {chosen.removesuffix('-sig').upper()}: "
            f"byte 0x{data[exc.start]:02x} on line {line} cannot be decoded",
            hint="re-save the file as UTF-8, or give its encoding (e.g. latin-1)",
        ) from exc


def _clean_text(plaintext: str) -> str:
    return "\n".join(line.strip() for line in plaintext.splitlines()).strip()


def validate_cues(
    cues: Sequence[Cue], *, video_duration: float | None, source: str = "subtitles"
) -> None:
    """Raise ``BadInput`` for the first cue that breaks the rules (see module doc)."""
    if not cues:
        raise BadInput(f"{source} has no cues")
    previous: Cue | None = None
    for cue in cues:
        where = f"{source}: {cue.describe()}"
        if not cue.text:
            raise BadInput(f"{where} has no text", hint="remove the cue or give it text")
        if cue.end_s <= cue.start_s:
            raise BadInput(f"{where} ends before it starts (or at the same time)")
        if cue.start_s < 0:
            raise BadInput(f"{where} starts before 0")
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


def write_subtitles(cues: Iterable[Cue], path: Path | str) -> Path:
    """Write cues as SRT, WebVTT or ASS, chosen by the file extension (UTF-8)."""
    out_path = Path(path)
    fmt = WRITE_FORMATS.get(out_path.suffix.lower())
    if fmt is None:
        raise BadInput(f"cannot write subtitles to {out_path}: use a .srt, .vtt or .ass name")
    document = pysubs2.SSAFile()
    for cue in cues:
        document.append(pysubs2.SSAEvent(
            start=int(round(cue.start_s * MS_PER_S)),
            end=int(round(cue.end_s * MS_PER_S)),
            text=cue.text.replace("\n", "\\N"),
        ))
    try:
        document.save(str(out_path), encoding="utf-8", format_=fmt)
    except OSError as exc:
        raise BadInput(f"cannot write subtitles to {out_path}: {exc.strerror}") from exc
    return out_path
