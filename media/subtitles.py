"""Subtitle files: read SRT, WebVTT and ASS/SSA (via pysubs2), write SRT and WebVTT.

A dub script drives speech timing, so a bad cue is refused up front with a message
that names the cue (its number in the file and its times) rather than producing
silently misplaced speech; the rules themselves are `media.timed_text.validate_cues`.
SRT and WebVTT are written by our own small writers (`to_srt`, `to_vtt`): the
formats are simple, and owning them means the millisecond rounding is ours, not a
library's guess; ASS goes through pysubs2.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable
from pathlib import Path

import pysubs2

from likeness.errors import BadInput
from media.timed_text import MS_PER_S, Cue, format_timestamp, validate_cues

READ_FORMATS = {".srt": "srt", ".vtt": "vtt", ".ass": "ass", ".ssa": "ssa"}
WRITE_FORMATS = (".srt", ".vtt", ".ass")
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


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
    text = read_subtitle_text(sub_path, encoding=encoding)
    if not text.strip():
        raise BadInput(f"subtitle file {sub_path} is empty")
    cues = parse_cues(text, path=sub_path)
    if not cues:
        raise BadInput(f"subtitle file {sub_path} has no cues")
    validate_cues(cues, video_duration=video_duration, source=str(sub_path))
    return cues


def parse_cues(text: str, *, path: Path) -> list[Cue]:
    """The cues in subtitle `text` (format by `path`'s suffix, else detected), numbered
    from 1 in file order; comments are skipped, markup is reduced to plain text."""
    fmt = READ_FORMATS.get(path.suffix.lower())
    try:
        parsed = pysubs2.SSAFile.from_string(text, format_=fmt)
    except pysubs2.exceptions.FormatAutodetectionError as exc:
        raise BadInput(f"{path} is not a subtitle file (SRT, VTT or ASS expected)") from exc
    except (pysubs2.exceptions.Pysubs2Error, ValueError, KeyError) as exc:
        raise BadInput(f"cannot parse subtitle file {path}: {exc}") from exc
    events = (event for event in parsed.events if not event.is_comment)
    cues: list[Cue] = []
    for position, event in enumerate(events, start=1):
        try:
            cues.append(Cue(index=position, start_s=event.start / MS_PER_S,
                            end_s=event.end / MS_PER_S, text=_clean_text(event.plaintext)))
        except BadInput as exc:  # a cue with impossible times: say which file it is in
            raise BadInput(f"{path}: {exc.message}", hint=exc.hint) from None
    return cues


def read_subtitle_text(path: Path, *, encoding: str | None = None) -> str:
    """The text of a subtitle file: UTF-8 (a BOM honoured, UTF-16 with a BOM too) unless
    `encoding` says otherwise; `BadInput` naming the line of an undecodable byte."""
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


def to_srt(cues: Iterable[Cue]) -> str:
    """SubRip text: numbered blocks, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``."""
    blocks = [
        f"{number}\n{format_timestamp(cue.start_s, decimal=',')} --> "
        f"{format_timestamp(cue.end_s, decimal=',')}\n{cue.text.strip()}\n"
        for number, cue in enumerate(cues, start=1)
    ]
    return "\n".join(blocks)


def to_vtt(cues: Iterable[Cue]) -> str:
    """WebVTT text: a ``WEBVTT`` header, then ``HH:MM:SS.mmm --> HH:MM:SS.mmm`` blocks."""
    blocks = [
        f"{format_timestamp(cue.start_s)} --> {format_timestamp(cue.end_s)}\n"
        f"{cue.text.strip()}\n"
        for cue in cues
    ]
    return "WEBVTT\n\n" + "\n".join(blocks)


def write_subtitles(cues: Iterable[Cue], path: Path | str) -> Path:
    """Write cues as SRT, WebVTT or ASS, chosen by the file extension (UTF-8)."""
    out_path = Path(path)
    suffix = out_path.suffix.lower()
    if suffix not in WRITE_FORMATS:
        raise BadInput(f"cannot write subtitles to {out_path}: use a .srt, .vtt or .ass name")
    try:
        if suffix == ".ass":
            _ass_document(cues).save(str(out_path), encoding="utf-8", format_="ass")
        else:
            text = to_srt(cues) if suffix == ".srt" else to_vtt(cues)
            out_path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"cannot write subtitles to {out_path}: {exc.strerror}") from exc
    return out_path


def _ass_document(cues: Iterable[Cue]) -> pysubs2.SSAFile:
    document = pysubs2.SSAFile()
    for cue in cues:
        document.append(pysubs2.SSAEvent(
            start=int(round(cue.start_s * MS_PER_S)),
            end=int(round(cue.end_s * MS_PER_S)),
            text=cue.text.replace("\n", "\\N"),
        ))
    return document
