"""One-time consent challenges: a few random common words the performer must say.

Like a one-time passcode read aloud: a recording made before the challenge existed
cannot contain it. Only a salted SHA-256 of the phrase is stored, so the database
does not give the phrase away; the evidence check recovers it from the transcript
(every ordered choice of wordlist words heard, hashed and compared). A challenge
expires (30 minutes by default) and is used once, by the evidence that passed.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from consent.models import new_id
from consent.registry import Registry, RegistryBase, UTCDateTime
from likeness.errors import BadInput, ConsentDenied

CHALLENGE_WORDS = 4
DEFAULT_CHALLENGE_TTL = timedelta(minutes=30)
SAME_WORD_RATIO = 0.8  # difflib ratio at which a heard word counts as a listed one
MAX_HEARD_CANDIDATES = 40  # wordlist words heard; C(40, 4) = 91 390 hashes at most
RELAXED_CANDIDATES = 24  # one word missed: C(24, 3) * 4 places * 77 words = 623 392 at most
# Common, concrete English words that speech recognizers rarely confuse with each other.
# Calibrated by a round trip (Piper en_US speech -> faster-whisper base, four words per
# sentence): ladder, forest, meadow, mirror and canyon came back as other words and were
# dropped; the 77 below all came back.
WORDLIST: tuple[str, ...] = (
    "apple", "river", "garden", "window", "yellow", "purple", "orange", "silver", "golden",
    "candle", "pocket", "button", "rabbit", "turtle", "dolphin", "eagle", "falcon", "tiger",
    "zebra", "monkey", "pencil", "bridge", "castle", "island", "valley", "mountain",
    "desert", "ocean", "harbor", "rocket", "planet", "comet",
    "galaxy", "violin", "guitar", "trumpet", "drum", "piano", "banjo", "cherry", "lemon",
    "mango", "peach", "melon", "carrot", "potato", "tomato", "pepper", "onion", "bottle",
    "basket", "blanket", "pillow", "kettle", "hammer", "wrench", "shovel",
    "anchor", "compass", "lantern", "marble", "velvet", "copper", "winter", "summer",
    "autumn", "spring", "morning", "evening", "thunder", "rainbow", "blossom", "feather",
    "pebble", "glacier", "volcano", "prairie",
)


class ChallengeRow(RegistryBase):
    __tablename__ = "consent_challenges"
    challenge_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    performer_id: Mapped[str] = mapped_column(ForeignKey("performers.performer_id"), index=True)
    phrase_sha256: Mapped[str] = mapped_column(String(64))
    words: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


@dataclass(frozen=True)
class Challenge:
    challenge_id: str
    performer_id: str
    phrase: str  # shown once, to the performer; never stored
    expires_at: datetime


def words_of(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def phrase_digest(challenge_id: str, words: list[str] | tuple[str, ...]) -> str:
    return hashlib.sha256(f"{challenge_id}:{' '.join(words)}".encode()).hexdigest()


def new_challenge(session: Session, *, performer_id: str, now: datetime,
                  ttl: timedelta = DEFAULT_CHALLENGE_TTL) -> Challenge:
    Registry(session).require_performer(performer_id)
    if ttl <= timedelta(0) or ttl > timedelta(days=1):
        raise BadInput("a challenge lives between 1 second and 1 day")
    words = [secrets.choice(WORDLIST) for _ in range(CHALLENGE_WORDS)]
    challenge_id = new_id("challenge")
    session.add(ChallengeRow(challenge_id=challenge_id, performer_id=performer_id,
                             phrase_sha256=phrase_digest(challenge_id, words),
                             words=len(words), created_at=now, expires_at=now + ttl))
    return Challenge(challenge_id, performer_id, " ".join(words), now + ttl)


def open_challenge(session: Session, challenge_id: str, *, performer_id: str,
                   now: datetime) -> ChallengeRow:
    """The challenge, if it is this performer's, unexpired and unused (else exit 3)."""
    row = session.get(ChallengeRow, challenge_id)
    if row is None:
        raise BadInput(f"unknown challenge {challenge_id}")
    if row.performer_id != performer_id:
        raise ConsentDenied(f"challenge {challenge_id} was issued for another performer",
                            reasons=["challenge_performer"])
    if row.used_at is not None:
        raise ConsentDenied(f"challenge {challenge_id} was already used",
                            reasons=["challenge_used"])
    if now >= row.expires_at:
        raise ConsentDenied(f"challenge {challenge_id} expired at {row.expires_at.isoformat()}",
                            reasons=["challenge_expired"])
    return row


def closest(word: str, vocabulary: tuple[str, ...], *,
            min_ratio: float = SAME_WORD_RATIO) -> str | None:
    """The vocabulary word ``word`` most likely is (a recognizer writes "harbour" for
    "harbor"), or None when none is close enough."""
    if word in vocabulary:
        return word
    best = max(vocabulary, key=lambda v: difflib.SequenceMatcher(None, word, v).ratio())
    return best if difflib.SequenceMatcher(None, word, best).ratio() >= min_ratio else None


def phrase_heard(row: ChallengeRow, heard: list[str]) -> bool:
    """Whether the transcript holds the challenge words in order (others may interleave),
    or all of them but one: whisper base turns about one synthetic word in eight into
    another ("turtle" -> "turbo"), and a replay made before the challenge was issued
    holds none of them. Only the salted digest is stored, so the missing word is tried
    as each of the list's words, at each place."""
    mapped = (closest(w, WORDLIST) for w in heard)
    candidates = [w for w in mapped if w is not None][:MAX_HEARD_CANDIDATES]
    if any(phrase_digest(row.challenge_id, combo) == row.phrase_sha256
           for combo in itertools.combinations(candidates, row.words)):
        return True
    if row.words < CHALLENGE_WORDS:
        return False
    for combo in itertools.combinations(candidates[:RELAXED_CANDIDATES], row.words - 1):
        for gap in range(row.words):
            for word in WORDLIST:
                guess = (*combo[:gap], word, *combo[gap:])
                if phrase_digest(row.challenge_id, guess) == row.phrase_sha256:
                    return True
    return False
