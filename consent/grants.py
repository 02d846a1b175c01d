"""Signing and verifying grant documents, and the term limits a grant must respect.

The performer (or guardian) signs the canonical JSON of the grant terms; the
studio countersigns the terms together with those signatures, so a registered
grant proves who agreed to what, and that the studio accepted it.
"""

from __future__ import annotations

from datetime import datetime

from consent.disclosure import signed_form
from consent.models import MAX_MINOR_GRANT_TERM, GrantTerms, Performer, SignedGrant
from consent.signing import SigningKey, VerifyKey
from likeness.errors import BadInput, IntegrityFailure


def performer_payload(grant: GrantTerms) -> dict:
    """What the performer (or guardian) signs: the grant's signed form (format 1: every
    field; format 2: private values as salted digests, see `consent.disclosure`)."""
    return signed_form(grant)


def studio_payload(signed: SignedGrant) -> dict:
    """What the studio countersigns: the signed form and the people's signatures, so the
    countersignature too verifies without the private values."""
    people = [s.model_dump(mode="json") for s in signed.signatures if s.role != "studio"]
    return {"grant": signed_form(signed.grant), "signatures": people}


def check_given_to(signed: SignedGrant, studio_key: VerifyKey) -> None:
    """A grant is given to one studio: refuse to register one that names another (or
    none), so a grant signed for studio A cannot be replayed at studio B."""
    named = signed.grant.studio_key_id
    what = f"grant {signed.grant.grant_id}"
    if named is None:
        raise IntegrityFailure(f"{what} names no studio, so it could be replayed anywhere",
                               hint="draft it again with `likeness consent draft` at this "
                                    "studio (or --studio-key FILE.pub) and have it signed")
    if named != studio_key.key_id:
        raise IntegrityFailure(f"{what} is given to another studio (key {named[:16]}…), "
                               f"not this one ({studio_key.key_id[:16]}…)")


def sign_as_person(signed: SignedGrant, key: SigningKey, *, guardian: bool) -> SignedGrant:
    role = "guardian" if guardian else "performer"
    if signed.by_role("studio"):
        raise BadInput("grant is already registered (countersigned); it cannot be re-signed")
    others = [s for s in signed.signatures if s.key_id != key.verify_key.key_id]
    sig = key.sign(performer_payload(signed.grant), role=role)
    return SignedGrant(grant=signed.grant, signatures=(*others, sig))


def countersign(signed: SignedGrant, studio_key: SigningKey) -> SignedGrant:
    sig = studio_key.sign(studio_payload(signed), role="studio")
    people = tuple(s for s in signed.signatures if s.role != "studio")
    return SignedGrant(grant=signed.grant, signatures=(*people, sig))


def check_term_limits(grant: GrantTerms, performer: Performer, *, now: datetime) -> None:
    """Minors: a guardian signs, at most 5 years, and never past the 18th birthday."""
    adult_on = performer.adult_on()
    if adult_on is None or now >= adult_on:
        return
    if grant.valid_until - grant.valid_from > MAX_MINOR_GRANT_TERM:
        raise BadInput("performer is a minor: a grant lasts at most 5 years")
    if grant.valid_until > adult_on:
        raise BadInput(
            f"performer is a minor: the grant must end by their 18th birthday "
            f"({adult_on.date().isoformat()})")


def verify_person_signatures(signed: SignedGrant, *, performer: Performer,
                             performer_key: VerifyKey, guardian_key: VerifyKey | None,
                             now: datetime) -> None:
    """Raise unless the people who must sign have signed these exact terms.

    Adult performer: the performer's signature. Minor: the guardian's signature
    (the performer's own is checked too when present).
    """
    what = f"grant {signed.grant.grant_id}"
    if signed.grant.performer_id != performer.performer_id:
        raise BadInput(f"{what} names performer {signed.grant.performer_id}")
    payload = performer_payload(signed.grant)
    adult_on = performer.adult_on()
    minor = adult_on is not None and now < adult_on
    performer_sigs = signed.by_role("performer")
    guardian_sigs = signed.by_role("guardian")
    if minor:
        if guardian_key is None:
            raise BadInput(f"performer {performer.performer_id} is a minor with no guardian key",
                           hint="re-add the performer with --guardian-key")
        if not guardian_sigs:
            raise IntegrityFailure(f"{what}: a guardian's signature is required (minor)")
        for sig in guardian_sigs:
            guardian_key.verify(sig, payload, what=what)
    elif not performer_sigs:
        raise IntegrityFailure(f"{what}: the performer has not signed it",
                               hint="run `likeness consent sign GRANT.json --key FILE`")
    for sig in performer_sigs:
        performer_key.verify(sig, payload, what=what)


def verify_studio_signature(signed: SignedGrant, studio_key: VerifyKey) -> None:
    sigs = signed.by_role("studio")
    if len(sigs) != 1:
        raise IntegrityFailure(f"grant {signed.grant.grant_id}: missing studio countersignature")
    studio_key.verify(sigs[0], studio_payload(signed), what=f"grant {signed.grant.grant_id}")
