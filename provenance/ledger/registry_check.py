"""`audit verify`, second half: do the registry tables say what the ledger says?

The ledger is hash-chained and signed; the registry tables are copies the gate reads
fast. Someone with write access to the database could edit a copy (a budget, a stored
grant, a public key) or delete one (a revocation) without breaking the chain. Each
check below compares one table with the entries that created it and names the first
disagreement:
1. every performer row carries a valid studio seal, and its digest is the one logged
   when it was added (or sealed); every logged performer has a row;
2. every grant row's document is the one logged (SHA-256), its signatures verify under
   the sealed keys and the studio key, its columns match the signed terms, and its
   render counter matches the ledger's reservations; every logged grant has a row;
3. every revocation row is signed and logged; every logged revocation has a row.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent.models import Revocation
from consent.registry import GrantRow, PerformerRow, Registry, RevocationRow
from consent.signing import VerifyKey
from consent.trust import TrustedPerformer, trusted_performer, verified_grant
from likeness.errors import IntegrityFailure
from provenance.ledger.consent_state import scan_consent_state
from provenance.ledger.store import EntryRow

_KINDS = ("performer_added", "performer_sealed", "grant_registered", "grant_revoked")


@dataclass(frozen=True)
class RegistryReport:
    performers: int
    grants: int
    revocations: int


def _logged(session: Session) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {kind: [] for kind in _KINDS}
    rows = session.execute(select(EntryRow.kind, EntryRow.body).where(
        EntryRow.kind.in_(_KINDS)).order_by(EntryRow.seq))
    for kind, body in rows:
        found[kind].append(json.loads(body)["payload"])
    return found


def _check_performers(session: Session, logged: dict[str, list[dict[str, Any]]],
                      studio_key: VerifyKey) -> dict[str, TrustedPerformer]:
    registry = Registry(session)
    digests: dict[str, set[str]] = {}
    for payload in logged["performer_added"] + logged["performer_sealed"]:
        if payload.get("record_sha256"):
            digests.setdefault(str(payload["performer_id"]), set()).add(payload["record_sha256"])
    trusted: dict[str, TrustedPerformer] = {}
    ids = list(session.scalars(select(PerformerRow.performer_id).order_by(
        PerformerRow.performer_id)))
    for pid in ids:
        facts, seal = registry.performer_facts(pid)  # type: ignore[misc]
        trusted[pid] = trusted_performer(facts, seal, studio_key)
        if facts.digest() not in digests.get(pid, set()):
            raise IntegrityFailure(f"performer {pid}: the record differs from the one the "
                                   "ledger logged")
    for payload in logged["performer_added"]:
        if str(payload.get("performer_id")) not in trusted:
            raise IntegrityFailure(f"performer {payload.get('performer_id')} is in the ledger "
                                   "but not in the registry (row deleted)")
    return trusted


def _check_grants(session: Session, logged: dict[str, list[dict[str, Any]]],
                  trusted: dict[str, TrustedPerformer], studio_key: VerifyKey) -> int:
    hashes = {str(p.get("grant_id")): p.get("grant_sha256") for p in logged["grant_registered"]}
    reserved = scan_consent_state(session)
    rows = list(session.scalars(select(GrantRow).order_by(GrantRow.grant_id)))
    for row in rows:
        what = f"grant {row.grant_id}"
        if row.grant_id not in hashes:
            raise IntegrityFailure(f"{what} is in the registry but was never logged (inserted)")
        if hashlib.sha256(row.document.encode()).hexdigest() != hashes[row.grant_id]:
            raise IntegrityFailure(f"{what}: the stored document differs from the one logged "
                                   "at registration (edited)")
        performer = trusted.get(row.performer_id)
        if performer is None:
            raise IntegrityFailure(f"{what} names performer {row.performer_id}, who has no row")
        g = verified_grant(row.document, performer=performer, studio_key=studio_key).grant
        columns = (row.performer_id, row.valid_from, row.valid_until, row.max_renders)
        if columns != (g.performer_id, g.valid_from, g.valid_until, g.max_renders):
            raise IntegrityFailure(f"{what}: the row's performer, dates or max_renders differ "
                                   "from the signed grant (edited)")
        if row.renders_used != reserved.reserved_by(row.grant_id):
            raise IntegrityFailure(f"{what}: renders_used is {row.renders_used}, the ledger "
                                   f"records {reserved.reserved_by(row.grant_id)} reservations")
    present = {row.grant_id for row in rows}
    for gid in hashes:
        if gid not in present:
            raise IntegrityFailure(f"grant {gid} is in the ledger but not in the registry "
                                   "(row deleted)")
    return len(rows)


def _check_revocations(session: Session, logged: dict[str, list[dict[str, Any]]],
                       trusted: dict[str, TrustedPerformer], studio_key: VerifyKey) -> int:
    logged_ids = {str(p.get("revocation_id")): p for p in logged["grant_revoked"]}
    rows = list(session.scalars(select(RevocationRow).order_by(RevocationRow.revocation_id)))
    for row in rows:
        what = f"revocation {row.revocation_id}"
        entry = logged_ids.get(row.revocation_id)
        if entry is None or entry.get("grant_id") != row.grant_id:
            raise IntegrityFailure(f"{what} is in the registry but was never logged")
        revocation = Revocation.model_validate_json(row.document)
        grant = session.get(GrantRow, row.grant_id)
        performer = trusted.get(grant.performer_id) if grant is not None else None
        key = {"studio": studio_key,
               "performer": performer.performer_key if performer else None,
               "guardian": performer.guardian_key if performer else None}[revocation.revoked_by]
        if revocation.signature is None or key is None:
            raise IntegrityFailure(f"{what} is not signed")
        key.verify(revocation.signature, revocation.model_dump(mode="json",
                                                               exclude={"signature"}),
                   what=what)
    present = {row.revocation_id for row in rows}
    for rid, payload in logged_ids.items():
        if rid not in present:
            raise IntegrityFailure(f"revocation of grant {payload.get('grant_id')} is in the "
                                   "ledger but not in the registry (row deleted)")
    return len(rows)


def verify_registry(session: Session, studio_key: VerifyKey) -> RegistryReport:
    """Raise `IntegrityFailure` at the first table row that disagrees with the ledger."""
    logged = _logged(session)
    trusted = _check_performers(session, logged, studio_key)
    grants = _check_grants(session, logged, trusted, studio_key)
    revocations = _check_revocations(session, logged, trusted, studio_key)
    return RegistryReport(performers=len(trusted), grants=grants, revocations=revocations)
