"""Estimated timings: voiced-region detection and phoneme layout on generated audio."""

from __future__ import annotations

import numpy as np

from models.tts.timing import (
    estimate_timings,
    phoneme_weights,
    split_ipa,
    split_spans_by_sentence,
    voiced_spans,
)

SAMPLE_RATE_HZ = 16000


def _bursts(pattern_s: list[tuple[float, float]], total_s: float) -> np.ndarray:
    """A 200 Hz tone during each (start, end), silence elsewhere."""
    t = np.arange(int(total_s * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ
    mask = np.zeros_like(t, dtype=bool)
    for start, end in pattern_s:
        mask |= (t >= start) & (t < end)
    return (0.5 * np.sin(2 * np.pi * 200 * t) * mask).astype(np.float32)


def test_split_ipa_groups_stress_and_length_marks() -> None:
    assert split_ipa("wˈɜːld") == ["w", "ˈɜː", "l", "d"]
    assert split_ipa("həlˈoʊ,") == ["h", "ə", "l", "ˈo", "ʊ"]


def test_vowels_weigh_more_than_consonants() -> None:
    weights = phoneme_weights(["t", "ˈa", "ɜː"])
    assert weights[1] > weights[0] and weights[2] > weights[1]


def test_voiced_spans_find_the_bursts_and_close_short_gaps() -> None:
    audio = _bursts([(0.2, 0.6), (0.63, 0.9), (1.5, 2.0)], total_s=2.5)
    spans = voiced_spans(audio, SAMPLE_RATE_HZ)
    assert spans.shape == (2, 2)  # the 30 ms gap is a stop closure, not a pause
    np.testing.assert_allclose(spans, [[0.2, 0.9], [1.5, 2.0]], atol=0.011)


def test_sentences_are_cut_at_the_widest_pauses() -> None:
    spans = np.array([[0.0, 1.0], [1.1, 2.0], [2.8, 3.5]])
    groups = split_spans_by_sentence(spans, 2)
    assert [len(group) for group in groups] == [2, 1]


def test_estimated_timings_stay_in_speech_and_are_monotonic() -> None:
    audio = _bursts([(0.1, 0.9), (1.6, 2.4)], total_s=2.6)
    sentences = [[["h", "ə"], ["l", "ˈoʊ"]], [["w", "ˈɜː", "l", "d"]]]
    words, phonemes = estimate_timings(text="Hello there. World", sentences=sentences,
                                       samples=audio, sample_rate=SAMPLE_RATE_HZ)
    assert [w.text for w in words] == ["Hello", "there", "World"]
    assert len(phonemes) == 8
    ends = [p.end_s for p in phonemes]
    starts = [p.start_s for p in phonemes]
    assert starts == sorted(starts) and ends == sorted(ends)
    # the second sentence starts after the pause, the first ends before it
    assert phonemes[4].start_s >= 1.59 and phonemes[3].end_s <= 0.91
    assert words[-1].end_s <= 2.41


def test_word_count_mismatch_falls_back_to_proportional_words() -> None:
    audio = _bursts([(0.0, 1.0)], total_s=1.0)
    words, _ = estimate_timings(text="I have 25 cats", sentences=[[["a"], ["b"], ["c"]]],
                                samples=audio, sample_rate=SAMPLE_RATE_HZ)
    assert [w.text for w in words] == ["I", "have", "25", "cats"]
    assert words[0].start_s == 0.0 and abs(words[-1].end_s - 1.0) < 0.02
