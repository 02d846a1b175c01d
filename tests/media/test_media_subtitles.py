"""Subtitles: SRT/VTT/ASS parsing, strict validation with cue-naming errors, writing."""

from __future__ import annotations

from pathlib import Path

import pytest

from likeness.errors import BadInput
from media.probe import probe
from media.subtitles import load_subtitles, to_srt, to_vtt, write_subtitles
from media.timed_text import Cue

GOOD_SRT = """1
00:00:00,500 --> 00:00:01,200
<i>Hola</i> a todos.

2
00:00:01,300 --> 00:00:01,900
Segunda línea
en dos renglones.
"""

GOOD_VTT = """WEBVTT

00:00.500 --> 00:01.200
Bonjour.

00:00:01.300 --> 00:00:01.900 align:start
Deuxième.
"""

GOOD_ASS = """[Script Info]
ScriptType: v4.00+

[V4+ Styles]
Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, \
Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, \
Shadow, Alignment, MarginL, MarginR, MarginV, Encoding
Style: Default,Arial,20,&H00FFFFFF,&H000000FF,&H00000000,&H00000000,0,0,0,0,100,100,0,0,1,2,\
2,2,10,10,10,1

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
Dialogue: 0,0:00:00.50,0:00:01.20,Default,,0,0,0,,{\\b1}Guten{\\b0} Tag.
Comment: 0,0:00:01.00,0:00:01.10,Default,,0,0,0,,translator note
Dialogue: 0,0:00:01.30,0:00:01.90,Default,,0,0,0,,Zweite\\NZeile.
"""


def _write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def _srt(*cues: tuple[str, str, str]) -> str:
    return "\n".join(f"{i}\n{start} --> {end}\n{text}\n" for i, (start, end, text)
                     in enumerate(cues, start=1))


def test_srt_is_parsed_to_plain_text(tmp_path: Path) -> None:
    cues = load_subtitles(_write(tmp_path, "a.srt", GOOD_SRT), video_duration=2.0)
    assert cues == [Cue(1, 0.5, 1.2, "Hola a todos."),
                    Cue(2, 1.3, 1.9, "Segunda línea\nen dos renglones.")]


def test_vtt_and_ass(tmp_path: Path) -> None:
    vtt = load_subtitles(_write(tmp_path, "a.vtt", GOOD_VTT), video_duration=None)
    assert [(c.start_s, c.end_s, c.text) for c in vtt] == [(0.5, 1.2, "Bonjour."),
                                                          (1.3, 1.9, "Deuxième.")]
    ass = load_subtitles(_write(tmp_path, "a.ass", GOOD_ASS), video_duration=2.0)
    assert [(c.index, c.text) for c in ass] == [(1, "Guten Tag."), (2, "Zweite\nZeile.")]


@pytest.mark.parametrize("suffix", [".srt", ".vtt", ".ass"])
def test_write_then_read_roundtrip(tmp_path: Path, suffix: str) -> None:
    cues = [Cue(1, 0.25, 1.0, "first line\nsecond line"), Cue(2, 1.5, 2.75, "¿Qué tal?")]
    path = write_subtitles(cues, tmp_path / f"out{suffix}")
    assert load_subtitles(path, video_duration=3.0) == cues


def test_bom_and_utf16_are_accepted(tmp_path: Path) -> None:
    bom = _write(tmp_path, "bom.srt", "\ufeff" + GOOD_SRT)
    assert len(load_subtitles(bom, video_duration=None)) == 2
    wide = _write(tmp_path, "wide.srt", GOOD_SRT, encoding="utf-16")
    assert load_subtitles(wide, video_duration=None)[1].text.startswith("Segunda línea")


def test_latin1_file_is_refused_then_read_with_its_encoding(tmp_path: Path) -> None:
    path = _write(tmp_path, "latin.srt", GOOD_SRT, encoding="latin-1")
    with pytest.raises(BadInput, match=r"not valid UTF-8: byte 0xed on line 7") as caught:
        load_subtitles(path, video_duration=None)
    assert "encoding" in (caught.value.hint or "")
    cues = load_subtitles(path, video_duration=None, encoding="latin-1")
    assert cues[1].text.startswith("Segunda línea")
    with pytest.raises(BadInput, match="unknown text encoding"):
        load_subtitles(path, video_duration=None, encoding="klingon")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty"),
        ("  \n\n ", "is empty"),
        ("WEBVTT\n\n", "has no cues"),
        ("just a note\nnot subtitles\n", "not a subtitle file"),
    ],
)
def test_empty_and_non_subtitle_files(tmp_path: Path, content: str, message: str) -> None:
    suffix = ".vtt" if content.startswith("WEBVTT") else ".txt"
    with pytest.raises(BadInput, match=message):
        load_subtitles(_write(tmp_path, f"x{suffix}", content), video_duration=None)


@pytest.mark.parametrize(
    ("cues", "message"),
    [
        ((("00:00:00,000", "00:00:01,000", "ok"), ("00:00:01,000", "00:00:02,000", " ")),
         r"cue 2 \(00:00:01.000 --> 00:00:02.000\) has no text"),
        ((("00:00:02,000", "00:00:01,000", "backwards"),),
         r"cue 1 \(00:00:02.000 --> 00:00:01.000\) ends before it starts"),
        ((("00:00:01,000", "00:00:01,000", "instant"),), "cue 1 .* ends before it starts"),
        ((("00:00:00,000", "00:00:01,000", "a"), ("00:00:00,800", "00:00:01,500", "b")),
         r"cue 2 \(00:00:00.800 --> 00:00:01.500\) overlaps cue 1"),
        ((("00:00:01,000", "00:00:01,500", "a"), ("00:00:00,000", "00:00:00,500", "b")),
         "cue 2 .* is out of order"),
    ],
)
def test_bad_cues_are_named(tmp_path: Path, cues: tuple[tuple[str, str, str], ...],
                            message: str) -> None:
    path = _write(tmp_path, "bad.srt", _srt(*cues))
    with pytest.raises(BadInput, match=message):
        load_subtitles(path, video_duration=None)


def test_cue_past_the_end_of_a_real_video(tmp_path: Path, cfr_clip: Path) -> None:
    duration = probe(cfr_clip).duration_s
    path = _write(tmp_path, "long.srt", _srt(("00:00:00,500", "00:00:01,000", "fits"),
                                             ("00:00:01,500", "00:00:04,000", "too long")))
    with pytest.raises(BadInput, match=r"cue 2 .* ends after the video, which lasts 00:00:02"):
        load_subtitles(path, video_duration=duration)
    assert len(load_subtitles(path, video_duration=None)) == 2


def test_missing_file_and_bad_output_name(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="does not exist"):
        load_subtitles(tmp_path / "none.srt", video_duration=None)
    with pytest.raises(BadInput, match=r"\.srt, \.vtt or \.ass"):
        write_subtitles([Cue(1, 0.0, 1.0, "x")], tmp_path / "out.docx")


def test_subtitle_writers_format_cues() -> None:
    cues = [Cue(index=1, start_s=0.0, end_s=1.5, text="Hello."),
            Cue(index=2, start_s=61.25, end_s=3723.0, text="Bye")]
    assert to_srt(cues) == ("1\n00:00:00,000 --> 00:00:01,500\nHello.\n\n"
                            "2\n00:01:01,250 --> 01:02:03,000\nBye\n")
    assert to_vtt(cues).startswith("WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nHello.\n")
    with pytest.raises(BadInput):
        Cue(index=1, start_s=2.0, end_s=1.0, text="backwards")


def test_a_cue_refuses_times_no_timeline_has() -> None:
    with pytest.raises(BadInput, match=r"cue 3 \(-00:00:00.500 --> 00:00:01.000\) starts before 0"):
        Cue(index=3, start_s=-0.5, end_s=1.0, text="early")
    assert Cue(index=1, start_s=1.0, end_s=1.0, text="instant").duration_s == 0.0
