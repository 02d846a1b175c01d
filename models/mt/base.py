"""The machine-translation contract: segments in, the same number of segments out.

Timings never enter a translator: the caller keeps each cue's start/end and only
hands over the text, so a translator cannot shift, merge or drop a cue. Every
backend must return exactly one output per input, in order; `check_aligned`
enforces that at the boundary.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from likeness.errors import InternalError

ISO639_1_TO_3: dict[str, str] = {
    "an": "arg", "ast": "ast", "br": "bre", "ca": "cat", "cy": "cym", "da": "dan", "de": "deu",
    "en": "eng", "eo": "epo", "es": "spa", "eu": "eus", "fr": "fra", "ga": "gle", "gl": "glg",
    "is": "isl", "it": "ita", "nb": "nob", "nl": "nld", "nn": "nno", "oc": "oci", "pt": "por",
    "ro": "ron", "sv": "swe", "mt": "mlt", "kk": "kaz", "tt": "tat", "hi": "hin", "ur": "urd",
}


@runtime_checkable
class Translator(Protocol):
    """Translate subtitle-sized text segments, keeping their count and order."""

    name: str

    def translate(self, segments: list[str], *, source: str, target: str) -> list[str]:
        """One translated string per input segment, in the same order."""
        ...


def primary(code: str) -> str:
    """``es-MX`` / ``es_MX`` / ``ES`` -> ``es``."""
    return code.replace("_", "-").split("-", 1)[0].lower()


def check_aligned(inputs: Sequence[str], outputs: Sequence[str], *, engine: str) -> list[str]:
    """Refuse a translation whose segment count drifted (it would misplace every cue after)."""
    if len(inputs) != len(outputs):
        raise InternalError(f"{engine} returned {len(outputs)} segments for {len(inputs)} inputs")
    return list(outputs)
