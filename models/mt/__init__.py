"""Machine translation: a user-supplied translated script, identity, or apertium.

Front door::

    from models import registry
    translator = registry.get("mt", "auto", models_dir=d, policy=p, source="en", target="es")
    texts = translator.translate([cue.text for cue in cues], source="en", target="es")

``auto`` takes a script when one is given (``script=PATH``), the identity translator
when source and target are the same language, else apertium (its pair checked now).
Unknown pairs raise `BadInput` naming the installed pairs.
"""

from __future__ import annotations

from models.mt.apertium_engine import ApertiumTranslator, installed_pairs
from models.mt.base import Translator
from models.mt.identity_engine import IdentityTranslator
from models.mt.script_engine import ScriptTranslator, load_script

__all__ = [
    "ApertiumTranslator",
    "IdentityTranslator",
    "ScriptTranslator",
    "Translator",
    "installed_pairs",
    "load_script",
]
