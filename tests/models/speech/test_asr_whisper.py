"""faster-whisper on packaged weights: a Piper -> Whisper round trip (WER), language
identification, and the errors for missing or corrupt weights (the subtitle writers
the cues go to are tested in tests/media/test_media_subtitles.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from likeness.errors import IntegrityFailure, MissingWeights
from models.asr import Transcript, WhisperRecognizer, find_model_dir
from models.asr.whisper_engine import assemble_base
from tests.support.engines import engine

SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "Every performer signs a grant before the studio renders.",
    "Please speak clearly into the microphone.",
)
MAX_WER = 0.10


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Levenshtein distance over lower-cased words without punctuation, per reference word."""
    ref = re.findall(r"[a-z0-9']+", reference.lower())
    hyp = re.findall(r"[a-z0-9']+", hypothesis.lower())
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, start=1):
        current = [i] + [0] * len(hyp)
        for j, hyp_word in enumerate(hyp, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1,
                             previous[j - 1] + (ref_word != hyp_word))
        previous = current
    return previous[-1] / max(1, len(ref))


def test_wer_helper() -> None:
    assert word_error_rate("a b c d", "a b c d") == 0.0
    assert word_error_rate("a b c d", "a x c") == 0.5


@pytest.fixture(scope="module")
def recognizer(tmp_path_factory: pytest.TempPathFactory) -> WhisperRecognizer:
    cache = tmp_path_factory.mktemp("cache")
    try:
        recognizer = engine("asr", cache_dir=cache, model="base",
                            models_dir=tmp_path_factory.mktemp("models"))
        assert isinstance(recognizer, WhisperRecognizer)
        return recognizer
    except MissingWeights as error:
        pytest.skip(f"whisper base weights not installed: {error.message}")


@pytest.fixture(scope="module")
def round_trip(recognizer: WhisperRecognizer) -> tuple[object, Transcript]:
    speech = engine("tts", "piper").synthesize(" ".join(SENTENCES), language="en")
    return speech, recognizer.transcribe(speech.samples, sample_rate=speech.sample_rate,
                                         beam_size=1)


def test_piper_speech_round_trips_through_whisper(round_trip: tuple[object, Transcript]) -> None:
    _, transcript = round_trip
    assert word_error_rate(" ".join(SENTENCES), transcript.text) <= MAX_WER, transcript.text
    words = [word for cue in transcript.cues for word in cue.words]
    assert len(words) >= 20
    assert all(a.start_s <= b.start_s for a, b in zip(words, words[1:], strict=False))
    assert transcript.cues[-1].end_s <= transcript.duration_s + 0.5
    assert [cue.index for cue in transcript.cues] == list(range(1, len(transcript.cues) + 1))
    assert all(word.probability is not None and 0.0 <= word.probability <= 1.0 for word in words)


def test_language_is_detected_as_english(round_trip: tuple[object, Transcript],
                                         recognizer: WhisperRecognizer) -> None:
    speech, transcript = round_trip
    assert transcript.language == "en" and transcript.language_probability > 0.8
    guess = recognizer.detect_language(speech.samples, sample_rate=speech.sample_rate)
    assert guess.language == "en" and guess.probability > 0.8


def test_missing_weights_name_the_package_and_folder(tmp_path: Path) -> None:
    with pytest.raises(MissingWeights) as caught:
        find_model_dir("large-v3", models_dir=tmp_path, cache_dir=tmp_path / "cache")
    assert "large-v3" in caught.value.message
    assert str(tmp_path / "whisper" / "large-v3") in (caught.value.hint or "")
    with pytest.raises(MissingWeights, match="tokenizer.json"):
        (tmp_path / "half").mkdir()
        (tmp_path / "half" / "model.bin").write_bytes(b"x")
        find_model_dir(str(tmp_path / "half"), models_dir=tmp_path, cache_dir=tmp_path)


def test_a_corrupt_part_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    part1, part2 = tmp_path / "model.bin.part1", tmp_path / "model.bin.part2"
    part1.write_bytes(b"not whisper")
    part2.write_bytes(b"weights")
    with pytest.raises(IntegrityFailure, match="expected"):
        assemble_base(part1=part1, part2=part2, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache" / "whisper-base" / "model.bin").exists()
    assert not list((tmp_path / "cache" / "whisper-base").glob(".model.bin.*"))
