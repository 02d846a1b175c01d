"""Erasure of a performer's likeness data (`likeness performer remove`).

Reference embeddings (and every file derived from the performer's face or voice)
are biometric data: once the performer asks, or the studio decides, they go. What
stays is what the audit needs and nothing biometric: the performer's id and public
keys (old grant signatures must still verify), the signed grants, now revoked, and
in the ledger the SHA-256 of each erased embedding and reference image. The ledger
is append-only, so the erasure itself is an entry (`performer_removed`, signed by
whoever asked) and `audit verify` still passes.

After erasure every grant of the performer is revoked, no reference face is left to
match, and the performer id cannot be enrolled again: no render is possible.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, delete, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, Session, mapped_column

from consent.models import Revocation, SignerRole
from consent.registry import (
    AuditLog,
    FaceRow,
    Registry,
    RegistryBase,
    UTCDateTime,
)
from consent.signing import SigningKey
from likeness.errors import BadInput

ERASED_NAME = "(removed)"


class ErasureRow(RegistryBase):
    """A performer whose likeness data was erased (their row stays, as a tombstone)."""

    __tablename__ = "performer_erasures"
    performer_id: Mapped[str] = mapped_column(ForeignKey("performers.performer_id"),
                                              primary_key=True)
    removed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    removed_by: Mapped[str] = mapped_column(String(16))
    statement: Mapped[str] = mapped_column(Text)  # the signed removal request, JSON


@dataclass(frozen=True)
class Erasure:
    performer_id: str
    removed_by: str
    removed_at: datetime
    embeddings_erased: int
    grants_revoked: tuple[str, ...]
    files_erased: int = 0


def is_erased(session: Session, performer_id: str) -> bool:
    return session.get(ErasureRow, performer_id) is not None


def erase_performer(session: Session, *, performer_id: str, signer: SigningKey,
                    role: SignerRole, audit: AuditLog, now: datetime) -> Erasure:
    """Erase the performer's embeddings, revoke their grants, log hashes only.

    ``signer`` is the performer's (or guardian's) key, or the studio's; the caller
    has checked which. Runs in the caller's transaction: all of it or none of it.
    """
    registry = Registry(session)
    row = registry.require_performer(performer_id)
    if is_erased(session, performer_id):
        raise BadInput(f"performer {performer_id!r} was already removed")
    faces = list(session.scalars(select(FaceRow).where(FaceRow.performer_id == performer_id)))
    statement = {"performer_id": performer_id, "removed_at": now.isoformat(),
                 "action": "erase likeness data"}
    signature = signer.sign(statement, role=role)
    revoked: list[str] = []
    grants = registry.grants_for(performer_id)
    already = registry.revoked_ids([g.grant_id for g in grants])
    for grant in grants:
        if grant.grant_id in already:
            continue
        unsigned = Revocation(grant_id=grant.grant_id, revoked_by=role,
                              reason="performer removed: likeness data erased")
        sig = signer.sign(unsigned.model_dump(mode="json", exclude={"signature"}), role=role)
        revocation = unsigned.model_copy(update={"signature": sig})
        registry.add_revocation(revocation)
        audit.record(session, "grant_revoked", {
            "grant_id": grant.grant_id, "revocation_id": revocation.revocation_id,
            "revoked_by": role, "reason": revocation.reason})
        revoked.append(grant.grant_id)
    session.execute(delete(FaceRow).where(FaceRow.performer_id == performer_id))
    row.name = ERASED_NAME
    row.date_of_birth = None
    session.add(ErasureRow(performer_id=performer_id, removed_at=now, removed_by=role,
                           statement=signature.model_dump_json()))
    audit.record(session, "performer_removed", {
        "performer_id": performer_id, "removed_by": role, "key_id": signature.key_id,
        "statement": statement, "signature": signature.value,
        "embeddings_sha256": sorted(hashlib.sha256(f.embedding).hexdigest() for f in faces),
        "face_image_sha256": sorted(f.image_sha256 for f in faces),
        "grants_revoked": revoked})
    return Erasure(performer_id=performer_id, removed_by=role, removed_at=now,
                   embeddings_erased=len(faces), grants_revoked=tuple(revoked))


def compact(engine: Engine) -> None:
    """Make deleted rows unrecoverable from the database files: SQLite keeps freed pages
    (and the WAL) until VACUUM and a truncating checkpoint; PostgreSQL keeps dead tuples
    until VACUUM FULL rewrites the tables."""
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()  # outside SQLAlchemy's BEGIN IMMEDIATE
        try:
            cursor = raw.cursor()
            cursor.execute("VACUUM")
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cursor.close()
        finally:
            raw.close()
    elif engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(text("VACUUM FULL performer_faces, performers"))
