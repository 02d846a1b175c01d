"""Machine translation: apertium, or a user-supplied translated script.

Front door::

    from models.mt import pick_translator
    texts = pick_translator(source="en", target="es").translate(
        [cue.text for cue in cues], source="en", target="es")

A script, when given, always wins. Unknown pairs raise `BadInput` naming the
installed pairs.
"""

from __future__ import annotations

from pathlib import Path

from models.mt.apertium_engine import ApertiumTranslator, installed_pairs, resolve_mode
from models.mt.base import IdentityTranslator, Translator, primary
from models.mt.script_engine import ScriptTranslator, load_script

__all__ = [
    "ApertiumTranslator",
    "IdentityTranslator",
    "ScriptTranslator",
    "Translator",
    "installed_pairs",
    "load_script",
    "pick_translator",
    "translate",
]


def pick_translator(*, source: str, target: str, script: Path | None = None) -> Translator:
    """Script if given, identity for same-language, else apertium (pair checked now)."""
    if script is not None:
        return ScriptTranslator(script)
    if primary(source) == primary(target):
        return IdentityTranslator()
    resolve_mode(source=source, target=target)  # fail before any rendering starts
    return ApertiumTranslator()


def translate(segments: list[str], *, source: str, target: str,
              script: Path | None = None) -> list[str]:
    """Translate `segments` keeping count and order."""
    translator = pick_translator(source=source, target=target, script=script)
    return translator.translate(segments, source=source, target=target)
