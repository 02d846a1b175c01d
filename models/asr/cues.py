"""Recognized speech as timed cues, and small SRT / WebVTT writers.

The dub flow needs the source speech as cues (text + timing) to translate and
re-voice; the same cues become subtitles. The writers are tiny on purpose: the
formats are simple and owning them avoids guessing at a library's rounding.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from likeness.errors import BadInput

MS_PER_S = 1000


@dataclass(frozen=True)
class RecognizedWord:
    """One recognized word with its timing and the model's confidence (0..1)."""

    text: str
    start_s: float
    end_s: float
    probability: float


@dataclass(frozen=True)
class Cue:
    """One subtitle-sized stretch of speech."""

    start_s: float
    end_s: float
    text: str
    words: tuple[RecognizedWord, ...] = ()

    def __post_init__(self) -> None:
        if self.start_s < 0 or self.end_s < self.start_s:
            raise BadInput(f"cue timing out of order: {self.start_s} -> {self.end_s}")


def _timestamp(seconds: float, *, decimal: str) -> str:
    total_ms = int(round(max(0.0, seconds) * MS_PER_S))
    hours, rest = divmod(total_ms, 3600 * MS_PER_S)
    minutes, rest = divmod(rest, 60 * MS_PER_S)
    secs, millis = divmod(rest, MS_PER_S)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal}{millis:03d}"


def to_srt(cues: Sequence[Cue]) -> str:
    """SubRip text: numbered blocks, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``."""
    blocks = [
        f"{index}\n{_timestamp(cue.start_s, decimal=',')} --> "
        f"{_timestamp(cue.end_s, decimal=',')}\n{cue.text.strip()}\n"
        for index, cue in enumerate(cues, start=1)
    ]
    return "\n".join(blocks)


def to_vtt(cues: Sequence[Cue]) -> str:
    """WebVTT text: a ``WEBVTT`` header, then ``HH:MM:SS.mmm --> HH:MM:SS.mmm`` blocks."""
    blocks = [
        f"{_timestamp(cue.start_s, decimal='.')} --> {_timestamp(cue.end_s, decimal='.')}\n"
        f"{cue.text.strip()}\n"
        for cue in cues
    ]
    return "WEBVTT\n\n" + "\n".join(blocks)


def write_subtitles(cues: Sequence[Cue], path: Path) -> Path:
    """Write `cues` as SRT or VTT (by suffix), atomically (temp file, then rename)."""
    suffix = path.suffix.lower()
    if suffix not in (".srt", ".vtt"):
        raise BadInput(f"subtitle file must end in .srt or .vtt, got {path.name!r}")
    text = to_srt(cues) if suffix == ".srt" else to_vtt(cues)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return path
