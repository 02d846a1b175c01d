"""The performer's signed consent as a published file carries it, and its offline check.

Why in the file: anyone holding the file alone can see that the depicted person agreed,
to what, and that the studio accepted it, without the studio's database. Each grant
travels in its signed form (`consent.disclosure`): the performer's (or guardian's)
Ed25519 signature and the studio's countersignature verify over it, the public keys
travel beside them (their SHA-256 is the key id the signatures name), and only the
private values the performer chose to disclose are revealed, with their salts.

Chain of trust: the C2PA manifest is signed by the studio's X.509 chain and this
evidence is one of its created assertions, so the studio key it names is attested by
that signer; the studio key's countersignature binds the performer's key id; the
performer's key verifies the terms.
"""

from __future__ import annotations

import base64
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, JsonValue, ValidationError
from sqlalchemy.orm import Session

from consent.disclosure import DIGESTS_KEY, disclosure_digest, disclosures, signed_form
from consent.models import PRIVATE_FIELDS, GrantTerms, Signature, SignedGrant
from consent.registry import Registry
from consent.signing import VerifyKey
from likeness.errors import LikenessError

EVIDENCE_NOT_EMBEDDABLE = ("a format-1 grant was signed over its private values; it is "
                           "kept out of published files")

__all__ = ["ConsentCheck", "EmbeddedGrant", "RenderScope", "check_grants", "embed_grant",
           "evidence_from_registry"]


class EmbeddedGrant(BaseModel):
    """One grant as a file carries it. ``signed_terms`` is None only for a format-1 grant
    with private values, which cannot be shown without them (``note`` says so)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    grant_id: str
    format: Literal[1, 2]
    signed_terms: dict[str, JsonValue] | None
    signatures: tuple[Signature, ...] = ()  # the people's and the studio's
    performer_key: str | None = None  # raw Ed25519 public key, base64
    guardian_key: str | None = None
    disclosed: dict[str, tuple[str, JsonValue]] = {}  # field -> (salt, value)
    note: str | None = None


def _b64(key: VerifyKey | None) -> str | None:
    return base64.b64encode(key.raw).decode() if key is not None else None


def embed_grant(signed: SignedGrant, *, performer_key: VerifyKey,
                guardian_key: VerifyKey | None) -> EmbeddedGrant:
    """The registered (countersigned) grant in the form a published file carries."""
    grant = signed.grant
    if grant.schema_version == 1 and any(getattr(grant, f) for f in PRIVATE_FIELDS):
        return EmbeddedGrant(grant_id=grant.grant_id, format=1, signed_terms=None,
                             note=EVIDENCE_NOT_EMBEDDABLE)
    return EmbeddedGrant(
        grant_id=grant.grant_id, format=grant.schema_version, signed_terms=signed_form(grant),
        signatures=signed.signatures, performer_key=_b64(performer_key),
        guardian_key=_b64(guardian_key),
        disclosed={name: (salt, value) for name, (salt, value) in disclosures(grant).items()})


class ConsentCheck(BaseModel):
    """What one embedded grant proves about one render, checked from the file alone."""

    model_config = ConfigDict(frozen=True)

    grant_id: str
    format: int
    verified: bool  # signatures valid and the render inside the grant's scope
    problems: tuple[str, ...] = ()
    performer_id: str | None = None
    performer_key_fingerprint: str | None = None
    guardian_key_fingerprint: str | None = None
    signed_by: tuple[str, ...] = ()
    studio_key_fingerprint: str | None = None
    description: str | None = None
    uses: tuple[str, ...] = ()
    valid_from: str | None = None
    valid_until: str | None = None
    disclosed: dict[str, Any] = {}
    withheld: tuple[str, ...] = ()
    note: str | None = None


class RenderScope(BaseModel):
    """What the render did, as its manifest states it, to hold against each grant."""

    model_config = ConfigDict(frozen=True)

    performer_id: str
    uses: tuple[str, ...]
    language: str | None
    production: str | None
    rendered_at: AwareDatetime


def check_grants(grants: tuple[EmbeddedGrant, ...], *, studio_key: str,
                 scope: RenderScope) -> list[ConsentCheck]:
    """Check every embedded grant; a problem is data in its `ConsentCheck`, never raised
    (a verifier reports all of them)."""
    try:
        studio = VerifyKey.from_raw(base64.b64decode(studio_key, validate=True))
    except (ValueError, TypeError):
        return [ConsentCheck(grant_id=g.grant_id, format=g.format, verified=False,
                             problems=("the studio key in the file is not an Ed25519 key",))
                for g in grants]
    return [_check_one(g, studio=studio, scope=scope) for g in grants]


def _key(value: str | None) -> VerifyKey | None:
    if value is None:
        return None
    try:
        return VerifyKey.from_raw(base64.b64decode(value, validate=True))
    except (ValueError, TypeError):
        return None


def _check_one(embedded: EmbeddedGrant, *, studio: VerifyKey,
               scope: RenderScope) -> ConsentCheck:
    base: dict[str, Any] = {"grant_id": embedded.grant_id, "format": embedded.format,
                            "studio_key_fingerprint": studio.key_id}
    if embedded.signed_terms is None:  # a limitation of format 1, not a forgery
        return ConsentCheck(verified=False, note=embedded.note, **base)
    problems: list[str] = []
    terms = embedded.signed_terms
    performer, guardian = _key(embedded.performer_key), _key(embedded.guardian_key)
    what = f"grant {embedded.grant_id}"
    people = [s for s in embedded.signatures if s.role != "studio"]
    signed_by: list[str] = []
    for sig in people:
        key = guardian if sig.role == "guardian" else performer
        if key is None:
            problems.append(f"{what}: no {sig.role} public key in the file")
            continue
        try:
            key.verify(sig, terms, what=what)
            signed_by.append(sig.role)
        except LikenessError as exc:
            problems.append(exc.message)
    if not signed_by:
        problems.append(f"{what}: no valid performer or guardian signature")
    studio_sigs = [s for s in embedded.signatures if s.role == "studio"]
    if len(studio_sigs) != 1:
        problems.append(f"{what}: expected one studio countersignature")
    else:
        countersigned = {"grant": terms,
                         "signatures": [s.model_dump(mode="json") for s in people]}
        try:
            studio.verify(studio_sigs[0], countersigned, what=what)
        except LikenessError as exc:
            problems.append(exc.message)

    grant = _parse_terms(terms, embedded.format, problems, what=what)
    disclosed = _check_disclosed(embedded, terms, problems, what=what)
    if grant is not None:
        problems += _scope_problems(grant, scope, what=what)
        base.update(performer_id=grant.performer_id, description=grant.description,
                    uses=tuple(u.value for u in grant.uses),
                    valid_from=grant.valid_from.isoformat(),
                    valid_until=grant.valid_until.isoformat())
    withheld = tuple(f for f in PRIVATE_FIELDS if f not in disclosed) \
        if embedded.format == 2 else ()
    return ConsentCheck(
        verified=not problems, problems=tuple(problems),
        performer_key_fingerprint=performer.key_id if performer else None,
        guardian_key_fingerprint=guardian.key_id if guardian else None,
        signed_by=tuple(signed_by), disclosed=disclosed, withheld=withheld, **base)


def _parse_terms(terms: dict[str, JsonValue], fmt: int, problems: list[str], *,
                 what: str) -> GrantTerms | None:
    """The grant's public terms as a model (private values stand in as None)."""
    data = dict(terms)
    if fmt == 2:
        data.pop(DIGESTS_KEY, None)
        data.update({name: None for name in PRIVATE_FIELDS})
        data["salts"] = {name: "withheld" for name in PRIVATE_FIELDS}
    try:
        return GrantTerms.model_validate(data)
    except ValidationError as exc:
        problems.append(f"{what}: the signed terms are not a grant: "
                        f"{exc.errors()[0]['msg']}")
        return None


def _check_disclosed(embedded: EmbeddedGrant, terms: dict[str, JsonValue],
                     problems: list[str], *, what: str) -> dict[str, Any]:
    digests = terms.get(DIGESTS_KEY)
    if embedded.format != 2:
        return {}
    if not isinstance(digests, dict):
        problems.append(f"{what}: the signed terms carry no private digests")
        return {}
    shown: dict[str, Any] = {}
    for name, (salt, value) in embedded.disclosed.items():
        if digests.get(name) != disclosure_digest(name=name, salt=salt, value=value):
            problems.append(f"{what}: the disclosed {name} does not match what was signed")
        else:
            shown[name] = value
    return shown


def _scope_problems(grant: GrantTerms, scope: RenderScope, *, what: str) -> list[str]:
    problems = []
    if grant.performer_id != scope.performer_id:
        problems.append(f"{what} is for performer {grant.performer_id}, the render for "
                        f"{scope.performer_id}")
    missing = sorted(set(scope.uses) - {u.value for u in grant.uses})
    if missing:
        problems.append(f"{what} does not allow {', '.join(missing)}")
    if grant.languages and scope.language not in grant.languages:
        problems.append(f"{what} does not cover language {scope.language}")
    if grant.productions and scope.production not in grant.productions:
        problems.append(f"{what} does not cover production {scope.production}")
    if not grant.valid_from <= scope.rendered_at < grant.valid_until:
        problems.append(f"{what} was not valid at the render time "
                        f"{scope.rendered_at.isoformat()}")
    return problems


def evidence_from_registry(session: Session, grant_ids: tuple[str, ...]
                           ) -> tuple[EmbeddedGrant, ...]:
    """The registered grants a decision relied on, with their signers' public keys."""
    registry = Registry(session)
    embedded = []
    for grant_id in grant_ids:
        row = registry.grant_row(grant_id)
        if row is None:
            continue  # the publish-time re-check has already refused unknown grants
        performer = registry.require_performer(row.performer_id)
        guardian = (VerifyKey.from_pem(performer.guardian_key_pem.encode())
                    if performer.guardian_key_pem else None)
        embedded.append(embed_grant(
            SignedGrant.model_validate_json(row.document),
            performer_key=VerifyKey.from_pem(performer.public_key_pem.encode()),
            guardian_key=guardian))
    return tuple(embedded)
