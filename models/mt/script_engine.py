"""The "script" translator: a translated subtitle file the user supplies.

A human translation always beats a machine one, so when the user passes
``--script SUBS.srt|.vtt`` it wins. It is aligned to the source cues by index:
cue 1 of the script replaces cue 1 of the source. If the counts differ the
alignment is unknowable, so we refuse rather than guess.
"""

from __future__ import annotations

from pathlib import Path

from likeness.errors import BadInput
from media.subtitles import parse_cues, read_subtitle_text
from media.timed_text import Cue
from models.mt.base import primary
from models.registry import Availability, EnginePolicy
from models.weights import WeightFile

SCRIPT_SUFFIXES = (".srt", ".vtt")
WEIGHTS: tuple[WeightFile, ...] = ()  # a human translation: no weight files


def load_script(path: Path) -> tuple[Cue, ...]:
    """The cues of a translated SRT/VTT script (their own timing is kept for callers that
    want it). Only what index alignment needs is checked: text and a positive duration;
    a dub that speaks on the script's timing validates the whole track itself."""
    if path.suffix.lower() not in SCRIPT_SUFFIXES:
        raise BadInput(f"script must be .srt or .vtt, got {path.name!r}")
    text = read_subtitle_text(path)
    cues = tuple(parse_cues(text, path=path)) if text.strip() else ()
    if not cues:
        raise BadInput(f"script {path} has no cues")
    for cue in cues:
        if not cue.text:
            raise BadInput(f"script {path}: cue {cue.index} is empty")
        if cue.end_s <= cue.start_s:
            raise BadInput(f"script {path}: cue {cue.index} ends before it starts")
    return cues


def script_language(path: Path) -> str | None:
    """``talk.es.srt`` -> ``es``: the language tag in the file name, if any."""
    parts = path.name.split(".")
    if len(parts) >= 3 and 2 <= len(parts[-2]) <= 8 and parts[-2].replace("-", "").isalpha():
        return parts[-2]
    return None


class ScriptTranslator:
    """Replaces each source segment with the script cue of the same index."""

    name = "script"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.cues = load_script(path)
        self.language = script_language(path)

    def translate(self, segments: list[str], *, source: str, target: str) -> list[str]:
        if self.language is not None and primary(self.language) != primary(target):
            raise BadInput(f"script {self.path.name} is tagged {self.language!r}, "
                           f"but the target language is {target!r}")
        if len(segments) != len(self.cues):
            raise BadInput(
                f"script {self.path.name} has {len(self.cues)} cues but the source has "
                f"{len(segments)} segments; they are aligned by index and must match",
                hint="edit the script so it has one cue per source cue",
            )
        return [cue.text for cue in self.cues]


def create(*, models_dir: Path, script: Path | None = None,
           **_options: object) -> ScriptTranslator:
    """Registry factory: the script is read (and validated) now, before any rendering."""
    if script is None:
        raise BadInput("the script translator needs a translated subtitle file",
                       hint="pass it with --script SUBS.srt")
    return ScriptTranslator(script)


def probe(*, models_dir: Path, policy: EnginePolicy, script: Path | None = None,
          **_options: object) -> Availability:
    """A human translation always wins, so `auto` takes it whenever one is given."""
    if script is None:
        return Availability(False, "no translated script given")
    return Availability(True, f"the translated script {script.name} was given")
