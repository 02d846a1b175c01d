"""What the gate may believe: registry rows re-checked against signatures, with caches.

A row is only a copy. Someone with write access to the database (and no key) could
edit a grant's budget, add a use to a stored document, or swap a performer's public
key. So the gate never trusts a row on its own: a performer record counts only with
the studio's seal (an Ed25519 signature over the record and its reference faces),
and a grant only when its stored document carries the performer's (or guardian's)
signature under the sealed key and the studio's countersignature.

Verifying an Ed25519 signature costs ~60 us; the gate runs in ~1 ms. Both checks are
cached by the exact content they cover, so a repeated decision pays a dictionary
lookup, and an edited row (other content, other key) is verified, and refused, afresh.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from pydantic import ValidationError

from consent.models import Performer, SignedGrant
from consent.signing import SigningKey, VerifyKey, canonical_json
from likeness.errors import BadInput, IntegrityFailure

RECORD_VERSION = 1
_CACHE_SIZE = 65_536


@dataclass(frozen=True)
class PerformerFacts:
    """The fields of a performer record the studio seals (plain values, hashable)."""

    performer_id: str
    name: str
    public_key_pem: str
    public_key_id: str
    guardian_key_pem: str | None
    guardian_key_id: str | None
    date_of_birth: date | None
    voice_sha256: str | None
    created_at: datetime
    faces: tuple[tuple[str, bytes], ...]  # (engine, float32 embedding bytes), stored order

    def payload(self) -> dict[str, object]:
        """What the seal signs: keys by id (the PEMs must hash to them), faces by digest."""
        return {
            "v": RECORD_VERSION, "performer_id": self.performer_id, "name": self.name,
            "public_key_id": self.public_key_id, "guardian_key_id": self.guardian_key_id,
            "date_of_birth": self.date_of_birth.isoformat() if self.date_of_birth else None,
            "voice_sha256": self.voice_sha256,
            "created_at": self.created_at.astimezone(UTC).isoformat(),
            "faces": sorted(face_digest(engine, emb) for engine, emb in self.faces),
        }

    def digest(self) -> str:
        return hashlib.sha256(canonical_json(self.payload())).hexdigest()


def face_digest(engine: str, embedding: bytes) -> str:
    return hashlib.sha256(engine.encode() + b"\x00" + embedding).hexdigest()


def seal_performer(facts: PerformerFacts, studio: SigningKey) -> str:
    """The studio's seal over a performer record (base64 Ed25519)."""
    return base64.b64encode(studio.key.sign(canonical_json(facts.payload()))).decode()


@dataclass(frozen=True)
class TrustedPerformer:
    """A performer record whose seal verified: its keys may be used to check grants."""

    performer_key: VerifyKey
    guardian_key: VerifyKey | None


@lru_cache(maxsize=_CACHE_SIZE)
def _key_from_pem(pem: str) -> VerifyKey:
    return VerifyKey.from_pem(pem.encode())


def _key_matching(pem: str, key_id: str, *, what: str) -> VerifyKey:
    try:
        key = _key_from_pem(pem)
    except BadInput:
        raise IntegrityFailure(f"{what} is not an Ed25519 public key") from None
    if key.key_id != key_id:
        raise IntegrityFailure(f"{what} does not match its key id (the key was swapped)")
    return key


@lru_cache(maxsize=_CACHE_SIZE)
def _trusted_performer(facts: PerformerFacts, seal: str | None,
                       studio_key: VerifyKey) -> TrustedPerformer | str:
    """A `TrustedPerformer`, or the reason the record cannot be trusted (cached too)."""
    who = f"performer {facts.performer_id}"
    if not seal:
        return f"{who}: the record carries no studio seal (run `likeness init` to seal it)"
    try:
        studio_key.key.verify(base64.b64decode(seal, validate=True),
                              canonical_json(facts.payload()))
    except (InvalidSignature, ValueError):
        return f"{who}: the record does not match the studio's seal (edited in the database)"
    try:
        performer = _key_matching(facts.public_key_pem, facts.public_key_id,
                                  what=f"{who}: the public key")
        guardian = None
        if facts.guardian_key_pem is not None or facts.guardian_key_id is not None:
            guardian = _key_matching(facts.guardian_key_pem or "", facts.guardian_key_id or "",
                                     what=f"{who}: the guardian key")
    except IntegrityFailure as exc:
        return exc.message
    return TrustedPerformer(performer, guardian)


def trusted_performer(facts: PerformerFacts, seal: str | None,
                      studio_key: VerifyKey) -> TrustedPerformer:
    """Raise `IntegrityFailure` unless the studio sealed exactly this record."""
    found = _trusted_performer(facts, seal, studio_key)
    if isinstance(found, str):
        raise IntegrityFailure(found)
    return found


@lru_cache(maxsize=_CACHE_SIZE)
def stored_grant(document: str) -> SignedGrant | None:
    """The stored document parsed, *not* verified (None when malformed): enough to see
    whether a grant could cover a request; what the gate relies on is `verified_grant`."""
    try:
        return SignedGrant.model_validate_json(document)
    except ValidationError:
        return None


@lru_cache(maxsize=_CACHE_SIZE)
def _verified_grant(document: str, performer: TrustedPerformer,
                    studio_key: VerifyKey) -> SignedGrant | str:
    signed = stored_grant(document)
    if signed is None:
        return "the stored grant document is malformed"
    try:
        terms = canonical_json(signed.grant.signed_fields())
        check_person_signatures(signed, performer, terms=terms)
        studio_sigs = signed.by_role("studio")
        if len(studio_sigs) != 1:
            return "the stored grant lacks the studio's countersignature"
        # RFC 8785 of {"grant": terms, "signatures": people} is exactly these bytes (keys
        # sorted, no whitespace): the terms are canonicalized once, not twice.
        people = [s.model_dump(mode="json") for s in signed.signatures if s.role != "studio"]
        countersigned = b'{"grant":' + terms + b',"signatures":' + canonical_json(people) + b"}"
        studio_key.verify_canonical(studio_sigs[0], countersigned,
                                    what=f"grant {signed.grant.grant_id}")
        named = signed.grant.studio_key_id
        if named is not None and named != studio_key.key_id:
            return "the stored grant is given to another studio"
    except (IntegrityFailure, BadInput) as exc:
        return f"the stored grant's signatures do not verify ({exc.message})"
    return signed


def check_person_signatures(signed: SignedGrant, performer: TrustedPerformer, *,
                            terms: bytes) -> None:
    """Every person's signature on the terms (``terms``: their canonical bytes) verifies
    under the sealed keys, and at least one is there. Which role had to sign (guardian
    for a minor) was settled when the studio countersigned, so a performer who has since
    come of age keeps their grants."""
    what = f"grant {signed.grant.grant_id}"
    people = [s for s in signed.signatures if s.role != "studio"]
    if not people:
        raise IntegrityFailure(f"{what}: nobody but the studio signed it")
    for sig in people:
        key = performer.performer_key if sig.role == "performer" else performer.guardian_key
        if key is None:
            raise IntegrityFailure(f"{what}: signed by a guardian the performer does not have")
        key.verify_canonical(sig, terms, what=what)


def verified_grant(document: str, *, performer: TrustedPerformer,
                   studio_key: VerifyKey) -> SignedGrant:
    """The stored grant, if the performer's and the studio's signatures on it verify."""
    found = _verified_grant(document, performer, studio_key)
    if isinstance(found, str):
        raise IntegrityFailure(found)
    return found


def performer_from_facts(facts: PerformerFacts, *, face_count: int) -> Performer:
    return Performer(performer_id=facts.performer_id, name=facts.name,
                     public_key_id=facts.public_key_id, date_of_birth=facts.date_of_birth,
                     guardian_key_id=facts.guardian_key_id, face_count=face_count,
                     has_voice=facts.voice_sha256 is not None, created_at=facts.created_at)


def faces_of(rows: Sequence[tuple[str, bytes]]) -> tuple[tuple[str, bytes], ...]:
    return tuple((engine, bytes(emb)) for engine, emb in rows)
