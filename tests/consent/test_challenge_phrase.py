"""The challenge phrase check: every word in order, or all but one (a recognizer's slip),
never two missing; from the salted digest alone."""

from __future__ import annotations

import time

from consent.challenge import WORDLIST, ChallengeRow, phrase_digest


def _row(words: list[str]) -> ChallengeRow:
    return ChallengeRow(challenge_id="challenge_t", performer_id="ava", words=len(words),
                        phrase_sha256=phrase_digest("challenge_t", words))


PHRASE = ["marble", "guitar", "turtle", "carrot"]


def _said(text: str) -> list[str]:
    return text.split()


def test_all_words_in_order_among_others() -> None:
    from consent.challenge import phrase_heard

    heard = _said("my words are marble guitar turtle carrot spanish dub of the spring video")
    assert phrase_heard(_row(PHRASE), heard)


def test_one_misheard_word_still_counts_two_do_not() -> None:
    from consent.challenge import phrase_heard

    assert phrase_heard(_row(PHRASE), _said("my words are marble guitar turbo carrot"))
    assert phrase_heard(_row(PHRASE), _said("my words are guitar turtle carrot"))  # dropped
    assert not phrase_heard(_row(PHRASE), _said("my words are marble turbo cara"))
    assert not phrase_heard(_row(PHRASE), _said("carrot turtle guitar marble"))  # order
    assert not phrase_heard(_row(PHRASE), _said("lemon comet violin zebra"))


def test_the_worst_case_search_stays_short() -> None:
    from consent.challenge import RELAXED_CANDIDATES, phrase_heard

    heard = list(WORDLIST[:RELAXED_CANDIDATES])  # many list words heard, none of the phrase
    began = time.perf_counter()
    assert not phrase_heard(_row(PHRASE), heard)
    assert time.perf_counter() - began < 30  # bounded (about 623 k digests), never unbounded
