"""Apertium rule-based translation through the Debian ``apertium`` command.

Pairs are Debian packages (``apertium-eng-spa`` gives ``eng-spa`` and ``spa-eng``);
``apertium -l`` lists what is installed. Segments go through one process call,
one per line (apertium keeps line breaks in its ``txt`` format); if the line
count ever comes back different, each segment is translated on its own, so a
cue can never slide onto its neighbour's timing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from likeness.errors import BadInput, InternalError
from models.mt.base import ISO639_1_TO_3, check_aligned, primary
from models.registry import Availability, EnginePolicy
from models.weights import WeightFile

APERTIUM_BINARY = "apertium"
APERTIUM_TIMEOUT_S = 300.0
WEIGHTS: tuple[WeightFile, ...] = ()  # rule-based: Debian pair packages, no weight files
# "#word" marks a generation failure and "@word" a word missing from the bilingual
# dictionary; the text is still the best we have, the marks are not for viewers.
_MARKS = re.compile(r"(?<!\w)[#@](?=\w)")


def apertium_available() -> bool:
    """Whether the apertium command is installed."""
    return shutil.which(APERTIUM_BINARY) is not None


def installed_pairs() -> list[str]:
    """Translation directions apertium reports (``eng-spa``, ``spa-eng_US``, ...)."""
    if not apertium_available():
        return []
    result = subprocess.run([APERTIUM_BINARY, "-l"], capture_output=True, text=True, check=False,
                            timeout=APERTIUM_TIMEOUT_S)
    return sorted(line.strip() for line in result.stdout.splitlines() if line.strip())


def _codes(language: str) -> list[str]:
    """Candidate apertium spellings of `language`: ISO 639-3 first, then as given."""
    base = primary(language)
    codes = [ISO639_1_TO_3.get(base, base), base]
    return list(dict.fromkeys(codes))


def resolve_mode(*, source: str, target: str, pairs: list[str] | None = None) -> str:
    """The installed apertium mode for source->target, or `BadInput` naming what is installed."""
    available = installed_pairs() if pairs is None else pairs
    for source_code in _codes(source):
        for target_code in _codes(target):
            wanted = f"{source_code}-{target_code}"
            if wanted in available:
                return wanted
            variants = [pair for pair in available if pair.startswith(wanted + "_")]
            if variants:
                return variants[0]
    shown = ", ".join(available) if available else "none"
    raise BadInput(
        f"no apertium pair for {source}->{target}; installed pairs: {shown}",
        hint="install the Debian pair package, e.g. apt-get install apertium-eng-spa, or pass "
             "a translated subtitle file with --script",
    )


class ApertiumTranslator:
    """Apertium through its command line; `-u` drops the unknown-word asterisks."""

    name = "apertium"

    def translate(self, segments: list[str], *, source: str, target: str) -> list[str]:
        if not apertium_available():
            raise BadInput("apertium is not installed",
                           hint="apt-get install apertium apertium-eng-spa")
        mode = resolve_mode(source=source, target=target)
        flat = [" ".join(segment.split()) for segment in segments]
        to_send = [index for index, text in enumerate(flat) if text]
        outputs = list(flat)
        if to_send:
            translated = _run(mode, "\n".join(flat[i] for i in to_send) + "\n").split("\n")
            if len(translated) != len(to_send):
                translated = [_run(mode, flat[i] + "\n").strip() for i in to_send]
            for index, text in zip(to_send, translated, strict=True):
                outputs[index] = _MARKS.sub("", text).strip()
        return check_aligned(segments, outputs, engine=self.name)


def _run(mode: str, text: str) -> str:
    result = subprocess.run([APERTIUM_BINARY, "-u", mode], input=text, capture_output=True,
                            text=True, check=False, timeout=APERTIUM_TIMEOUT_S)
    if result.returncode != 0:
        raise InternalError(f"apertium {mode} failed: {result.stderr.strip()}")
    return result.stdout.rstrip("\n")


def create(*, models_dir: Path, **_options: object) -> ApertiumTranslator:
    """Registry factory (the pair is checked by `probe` and again at translation)."""
    return ApertiumTranslator()


def probe(*, models_dir: Path, policy: EnginePolicy, source: str | None = None,
          target: str | None = None, **_options: object) -> Availability:
    """Whether apertium is installed with a pair for source->target (checked before
    any rendering starts)."""
    if not apertium_available():
        return Availability(False, "apertium is not installed (apt-get install apertium "
                                   "apertium-eng-spa)")
    if source is None or target is None:
        return Availability(False, "needs both the source and the target language")
    try:
        mode = resolve_mode(source=source, target=target)
    except BadInput as error:
        return Availability(False, f"{error.message} (install the Debian pair package, or "
                                   "pass a translated subtitle file with --script)")
    return Availability(True, f"apertium pair {mode}")
