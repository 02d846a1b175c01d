"""Translators: apertium en->es when the Debian pair is installed, the script
translator's index alignment, and errors naming the installed pairs."""

from __future__ import annotations

from pathlib import Path

import pytest

from likeness.errors import BadInput
from models.mt import IdentityTranslator, installed_pairs
from models.mt.apertium_engine import apertium_available, resolve_mode
from tests.support.engines import engine

needs_eng_spa = pytest.mark.skipif(
    not apertium_available() or "eng-spa" not in installed_pairs(),
    reason="Debian apertium + apertium-eng-spa are not installed",
)

SRT_ES = """1
00:00:00,000 --> 00:00:01,000
Hola.

2
00:00:01,500 --> 00:00:03,000
El estudio pide
consentimiento.
"""


@needs_eng_spa
def test_apertium_translates_english_to_spanish_keeping_segments() -> None:
    segments = ["Good morning, my friend.", "", "The studio asks for consent.\nToday."]
    translator = engine("mt", source="en", target="es")
    assert translator.name == "apertium"
    out = translator.translate(segments, source="en", target="es")
    assert len(out) == 3 and out[1] == ""
    assert out[0] == "Buenos días, mi amigo."
    assert "consentimiento" in out[2] and "\n" not in out[2]


def test_unknown_pair_names_installed_pairs() -> None:
    with pytest.raises(BadInput) as caught:
        resolve_mode(source="en", target="de", pairs=["eng-spa", "spa-eng"])
    assert "installed pairs: eng-spa, spa-eng" in caught.value.message
    assert resolve_mode(source="es", target="en-US", pairs=["spa-eng_US"]) == "spa-eng_US"


def test_script_wins_and_aligns_by_index(tmp_path: Path) -> None:
    script = tmp_path / "talk.es.srt"
    script.write_text(SRT_ES, encoding="utf-8")
    translator = engine("mt", source="en", target="es", script=script)
    assert translator.name == "script"
    assert translator.translate(["Hello.", "The studio asks for consent."],
                                source="en", target="es") == [
        "Hola.", "El estudio pide\nconsentimiento."]
    with pytest.raises(BadInput, match="has 2 cues but the source has 3"):
        translator.translate(["a", "b", "c"], source="en", target="es")
    with pytest.raises(BadInput, match="tagged 'es'"):
        translator.translate(["a", "b"], source="en", target="fr")


def test_empty_script_and_same_language(tmp_path: Path) -> None:
    empty = tmp_path / "empty.srt"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(BadInput, match="no cues"):
        engine("mt", source="en", target="es", script=empty)
    same = engine("mt", source="en-US", target="en")
    assert isinstance(same, IdentityTranslator) and same.name == "identity"
    assert same.translate(["Hi."], source="en-US", target="en") == ["Hi."]
