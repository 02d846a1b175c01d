"""Estimated word and phoneme timings for backends that report none.

Most engines give audio and at most a phoneme string. Lip-sync still needs to know
when each sound is heard, so we (1) find the voiced stretches of the audio from
frame energy, (2) lay the phonemes out on the voiced time only, each weighted by a
rough relative duration (vowels and long marks take longer), and (3) map that
"speech clock" back to real time, so pauses fall between phonemes instead of
being smeared across them. Everything is vectorized over frames and phonemes.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import numpy as np

from media.timed_text import PhonemeTiming, WordTiming

FRAME_S = 0.010
VOICED_THRESHOLD_DB = -32.0  # frames quieter than this (relative to the loudest) are pauses
MIN_PAUSE_S = 0.08  # shorter gaps are treated as part of the speech (stop closures)
VOWEL_WEIGHT = 1.5
CONSONANT_WEIGHT = 1.0
LENGTH_MARK_WEIGHT = 0.6

IPA_VOWELS = frozenset("aeiouyæɐɑɒɔəɘɚɛɜɝɞɤɨɪɯɵøœɶʉʊʌʏ")
STRESS_MARKS = frozenset("ˈˌ")
ATTACH_TO_PREVIOUS = frozenset("ːˑ^‿͡ʰʲʷˠˤ̃") | {"\u0361", "\u035c"}
PUNCTUATION = frozenset(".,;:!?¡¿—–-…\"'()[]")


def split_ipa(text: str) -> list[str]:
    """IPA for one word -> phoneme units (stress joins the next unit, length/diacritics the last).

    Piper and ``espeak-ng --ipa`` give one code point per symbol; lip-sync wants
    one entry per sound, e.g. ``ˈɜː`` is one vowel, not three symbols.
    """
    units: list[str] = []
    pending_stress = ""
    for char in unicodedata.normalize("NFD", text):
        if char.isspace() or char in PUNCTUATION:
            continue
        if char in STRESS_MARKS:
            pending_stress += char
        elif (char in ATTACH_TO_PREVIOUS or unicodedata.combining(char)) and units:
            units[-1] += char
        else:
            units.append(pending_stress + char)
            pending_stress = ""
    return units


def phoneme_weights(phonemes: Sequence[str]) -> np.ndarray:
    """Relative durations: vowels ~1.5x consonants, a length mark adds more."""
    weights = np.full(len(phonemes), CONSONANT_WEIGHT, dtype=np.float64)
    for index, unit in enumerate(phonemes):
        core = unit.lstrip("".join(STRESS_MARKS))
        if core[:1] in IPA_VOWELS:
            weights[index] = VOWEL_WEIGHT
        if "ː" in unit:
            weights[index] += LENGTH_MARK_WEIGHT
    return weights


def voiced_spans(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """``(k, 2)`` array of [start_s, end_s] where the audio carries speech.

    Frame RMS against the loudest frame; gaps shorter than `MIN_PAUSE_S` are closed.
    A silent clip yields one span covering everything (timings still need a home).
    """
    frame_len = max(1, int(round(FRAME_S * sample_rate)))
    n_frames = len(samples) // frame_len
    duration_s = len(samples) / sample_rate
    if n_frames == 0:
        return np.array([[0.0, duration_s]])
    frames = samples[: n_frames * frame_len].astype(np.float64).reshape(n_frames, frame_len)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    peak = float(rms.max())
    if peak <= 0.0:
        return np.array([[0.0, duration_s]])
    voiced = rms >= peak * 10.0 ** (VOICED_THRESHOLD_DB / 20.0)
    edges = np.diff(np.concatenate(([0], voiced.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    min_gap = int(round(MIN_PAUSE_S / FRAME_S))
    keep = np.concatenate(([True], (starts[1:] - ends[:-1]) >= min_gap))
    merged_starts = starts[keep]
    merged_ends = np.concatenate((ends[:-1][keep[1:]], ends[-1:]))
    spans = np.stack([merged_starts, merged_ends], axis=1).astype(np.float64) * FRAME_S
    spans[:, 1] = np.minimum(spans[:, 1], duration_s)
    return spans


def _speech_clock_to_real(clock_s: np.ndarray, spans: np.ndarray, *, is_end: bool) -> np.ndarray:
    """Map positions on the voiced-only clock back to real time.

    A boundary that lands exactly on a pause belongs to the span before it when it
    ends a phoneme and to the span after it when it starts one.
    """
    lengths = spans[:, 1] - spans[:, 0]
    cumulative = np.concatenate(([0.0], np.cumsum(lengths)))
    side = "left" if is_end else "right"
    index = np.clip(np.searchsorted(cumulative[1:], clock_s, side=side), 0, len(spans) - 1)
    return spans[index, 0] + np.minimum(clock_s - cumulative[index], lengths[index])


def layout_phonemes(
    word_phonemes: Sequence[Sequence[str]], spans: np.ndarray
) -> list[list[tuple[float, float]]]:
    """Per word, per phoneme (start_s, end_s) over the voiced spans, by weight."""
    flat = [unit for word in word_phonemes for unit in word]
    if not flat:
        return [[] for _ in word_phonemes]
    weights = phoneme_weights(flat)
    total_voiced_s = float(np.sum(spans[:, 1] - spans[:, 0]))
    bounds = np.concatenate(([0.0], np.cumsum(weights))) / weights.sum() * total_voiced_s
    starts = _speech_clock_to_real(bounds[:-1], spans, is_end=False)
    ends = np.maximum(_speech_clock_to_real(bounds[1:], spans, is_end=True), starts)
    result: list[list[tuple[float, float]]] = []
    cursor = 0
    for word in word_phonemes:
        indices = range(cursor, cursor + len(word))
        result.append([(float(starts[i]), float(ends[i])) for i in indices])
        cursor += len(word)
    return result


def proportional_words(words: Sequence[str], start_s: float, end_s: float) -> list[WordTiming]:
    """Spread words over [start_s, end_s] by character count (fallback when groups differ)."""
    if not words:
        return []
    lengths = np.array([max(1, len(word)) for word in words], dtype=np.float64)
    bounds = start_s + np.concatenate(([0.0], np.cumsum(lengths))) / lengths.sum() * (
        end_s - start_s
    )
    return [
        WordTiming(text=word, start_s=float(bounds[i]), end_s=float(bounds[i + 1]))
        for i, word in enumerate(words)
    ]


def words_from_groups(
    text_words: Sequence[str],
    groups: Sequence[Sequence[tuple[float, float]]],
    *,
    start_s: float,
    end_s: float,
) -> list[WordTiming]:
    """Word timings from per-word phoneme spans when the word counts agree.

    Phonemizers expand numbers and abbreviations, so the phoneme word count can
    differ from the text's; then the words are spread by length instead.
    """
    usable = [group for group in groups if group]
    if len(usable) != len(text_words):
        return proportional_words(text_words, start_s, end_s)
    return [
        WordTiming(text=word, start_s=group[0][0], end_s=group[-1][1])
        for word, group in zip(text_words, usable, strict=True)
    ]


def text_words(text: str) -> list[str]:
    """The words of `text` as a listener would count them (punctuation stripped)."""
    words = (word.strip("".join(PUNCTUATION)) for word in text.split())
    return [word for word in words if word]


def split_spans_by_sentence(spans: np.ndarray, n_sentences: int) -> list[np.ndarray]:
    """Give each sentence its own voiced spans, cutting at the longest pauses.

    Speakers pause between sentences, so when there are at least as many voiced
    stretches as sentences, the ``n_sentences - 1`` widest gaps are the boundaries.
    """
    if n_sentences <= 1 or len(spans) < n_sentences:
        return [spans]
    gaps = spans[1:, 0] - spans[:-1, 1]
    cuts = np.sort(np.argsort(gaps, kind="stable")[len(gaps) - (n_sentences - 1):]) + 1
    return np.split(spans, cuts)


def estimate_timings(
    *,
    text: str,
    sentences: Sequence[Sequence[Sequence[str]]],
    samples: np.ndarray,
    sample_rate: int,
) -> tuple[tuple[WordTiming, ...], tuple[PhonemeTiming, ...]]:
    """Word and phoneme timings for `samples` from the phonemes of each spoken word.

    `sentences` is sentences -> words -> phoneme units, as the phonemizer grouped them.
    """
    sentences = [[word for word in sentence if word] for sentence in sentences]
    sentences = [sentence for sentence in sentences if sentence]
    spans = voiced_spans(samples, sample_rate)
    groups = split_spans_by_sentence(spans, len(sentences))
    if len(groups) != len(sentences):
        sentences = [[word for sentence in sentences for word in sentence]]
    layout: list[list[tuple[float, float]]] = []
    flat_words: list[Sequence[str]] = []
    for sentence, sentence_spans in zip(sentences, groups, strict=True):
        layout.extend(layout_phonemes(sentence, sentence_spans))
        flat_words.extend(sentence)
    phonemes = tuple(
        PhonemeTiming(phoneme=unit, start_s=start, end_s=end)
        for word, spans_of_word in zip(flat_words, layout, strict=True)
        for unit, (start, end) in zip(word, spans_of_word, strict=True)
    )
    words = words_from_groups(
        text_words(text), layout, start_s=float(spans[0, 0]), end_s=float(spans[-1, 1])
    )
    return tuple(words), phonemes
