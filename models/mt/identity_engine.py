"""The "identity" translator: source and target are the same language.

It is a real engine, not a shortcut in a flow, so that the dub records what actually
happened (``mt:identity``) and its C2PA manifest never claims a translation that did
not take place. ``auto`` picks it exactly when the two languages share a primary subtag
(``en-US`` and ``en``).
"""

from __future__ import annotations

from pathlib import Path

from models.mt.base import primary
from models.registry import Availability, EnginePolicy
from models.weights import WeightFile

WEIGHTS: tuple[WeightFile, ...] = ()


class IdentityTranslator:
    """Nothing to translate: each segment comes back as it went in."""

    name = "identity"

    def translate(self, segments: list[str], *, source: str, target: str) -> list[str]:
        return list(segments)


def create(*, models_dir: Path, **_options: object) -> IdentityTranslator:
    """Registry factory."""
    return IdentityTranslator()


def probe(*, models_dir: Path, policy: EnginePolicy, source: str | None = None,
          target: str | None = None, **_options: object) -> Availability:
    """Available exactly when `source` and `target` are the same language."""
    if source is None or target is None:
        return Availability(False, "needs both the source and the target language")
    if primary(source) != primary(target):
        return Availability(False, f"{source!r} and {target!r} are different languages")
    return Availability(True, f"{source!r} and {target!r} are the same language: "
                              "nothing to translate")
