"""The consent registry: performers, their reference faces, grants and revocations.

SQLAlchemy 2 tables (schema owned by the Alembic migrations in likeness/migrations).
Every change is written together with its ledger entry in one transaction through
the `AuditLog` the caller injects, so the registry and the ledger never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any, Protocol

import numpy as np
from sqlalchemy import (
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    bindparam,
    case,
    select,
    update,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.types import TypeDecorator

from consent.models import Performer, Revocation, SignedGrant
from consent.trust import PerformerFacts, faces_of
from likeness.errors import BadInput


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on every backend (SQLite stores naive strings)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the registry")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class RegistryBase(DeclarativeBase):
    pass


class PerformerRow(RegistryBase):
    __tablename__ = "performers"
    performer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    public_key_pem: Mapped[str] = mapped_column(Text)
    public_key_id: Mapped[str] = mapped_column(String(64))
    guardian_key_pem: Mapped[str | None] = mapped_column(Text, nullable=True)
    guardian_key_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    date_of_birth: Mapped[date | None] = mapped_column(Date, nullable=True)
    voice_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # the studio's seal over the record and its faces (consent/trust.py); NULL until sealed
    record_signature: Mapped[str | None] = mapped_column(String(100), nullable=True)


class FaceRow(RegistryBase):
    __tablename__ = "performer_faces"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    performer_id: Mapped[str] = mapped_column(ForeignKey("performers.performer_id"), index=True)
    engine: Mapped[str] = mapped_column(String(32))
    embedding: Mapped[bytes] = mapped_column(LargeBinary)  # float32 little-endian
    image_sha256: Mapped[str] = mapped_column(String(64))


class ReelRow(RegistryBase):
    """A performer's avatar reel: biometric footage kept in the studio home (one per
    performer); the row holds its SHA-256 so a swapped file is caught at render time."""

    __tablename__ = "performer_reels"
    performer_id: Mapped[str] = mapped_column(ForeignKey("performers.performer_id"),
                                              primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str] = mapped_column(String(200))  # inside the performer's folder
    duration_s: Mapped[float] = mapped_column(Float)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)


class GrantRow(RegistryBase):
    __tablename__ = "grants"
    grant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    performer_id: Mapped[str] = mapped_column(ForeignKey("performers.performer_id"), index=True)
    document: Mapped[str] = mapped_column(Text)  # SignedGrant JSON incl. studio countersignature
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    max_renders: Mapped[int | None] = mapped_column(Integer, nullable=True)
    renders_used: Mapped[int] = mapped_column(Integer, default=0)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RevocationRow(RegistryBase):
    __tablename__ = "revocations"
    revocation_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    grant_id: Mapped[str] = mapped_column(ForeignKey("grants.grant_id"), index=True)
    document: Mapped[str] = mapped_column(Text)
    revoked_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LedgerConsent(Protocol):
    """What the ledger says about consent (revocations, reservations) at this moment."""

    def is_revoked(self, grant_id: str) -> bool: ...

    def reserved_by(self, grant_id: str) -> int: ...


class AuditLog(Protocol):
    """Where registry changes and decisions are recorded (the provenance ledger).

    Injected so that consent does not depend on provenance; ``record`` must write
    in the given session so the change and its entry commit together, and
    ``consent_state`` reads the ledger's own account of revocations and budgets in it.
    """

    def record(self, session: Session, kind: str, payload: dict[str, Any]) -> Any: ...

    def consent_state(self, session: Session) -> LedgerConsent: ...


def embedding_to_bytes(vec: np.ndarray) -> bytes:
    return np.asarray(vec, dtype="<f4").tobytes()


def embedding_from_bytes(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<f4")


class Registry:
    """Reads and writes of the consent tables within one session (one transaction)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # performers -------------------------------------------------------------
    def performer_row(self, performer_id: str) -> PerformerRow | None:
        return self.session.get(PerformerRow, performer_id)

    def require_performer(self, performer_id: str) -> PerformerRow:
        row = self.performer_row(performer_id)
        if row is None:
            raise BadInput(f"unknown performer {performer_id!r}",
                           hint="add them with `likeness performer add`")
        return row

    def add_performer(self, row: PerformerRow, faces: Sequence[FaceRow]) -> None:
        if self.performer_row(row.performer_id) is not None:
            raise BadInput(f"performer {row.performer_id!r} already exists")
        self.session.add(row)
        self.session.flush()
        self.session.add_all(faces)

    def performers(self) -> list[Performer]:
        rows = self.session.scalars(select(PerformerRow).order_by(PerformerRow.performer_id))
        return [self.performer_model(r) for r in rows]

    def performer_model(self, row: PerformerRow) -> Performer:
        faces = self.session.scalars(
            select(FaceRow.id).where(FaceRow.performer_id == row.performer_id)).all()
        return Performer(
            performer_id=row.performer_id, name=row.name, public_key_id=row.public_key_id,
            date_of_birth=row.date_of_birth, guardian_key_id=row.guardian_key_id,
            face_count=len(faces), has_voice=row.voice_sha256 is not None,
            created_at=row.created_at,
        )

    def reference_embeddings(self, performer_id: str) -> list[tuple[str, np.ndarray]]:
        rows = self.session.scalars(select(FaceRow).where(FaceRow.performer_id == performer_id))
        return [(r.engine, embedding_from_bytes(r.embedding)) for r in rows]

    def reel_row(self, performer_id: str) -> ReelRow | None:
        return self.session.get(ReelRow, performer_id)

    def set_reel(self, row: ReelRow) -> None:
        """One reel per performer: a new one replaces the row of the old."""
        self.require_performer(row.performer_id)
        self.session.merge(row)

    # grants -----------------------------------------------------------------
    def add_grant(self, signed: SignedGrant, *, now: datetime) -> None:
        g = signed.grant
        if self.session.get(GrantRow, g.grant_id) is not None:
            raise BadInput(f"grant {g.grant_id} is already registered")
        self.session.add(GrantRow(
            grant_id=g.grant_id, performer_id=g.performer_id,
            document=signed.model_dump_json(), valid_from=g.valid_from,
            valid_until=g.valid_until, max_renders=g.max_renders, renders_used=0,
            registered_at=now,
        ))

    def grant_row(self, grant_id: str) -> GrantRow | None:
        return self.session.get(GrantRow, grant_id)

    def grants_for(self, performer_id: str | None = None) -> list[GrantRow]:
        stmt = select(GrantRow).order_by(GrantRow.registered_at, GrantRow.grant_id)
        if performer_id is not None:
            stmt = stmt.where(GrantRow.performer_id == performer_id)
        return list(self.session.scalars(stmt))

    def performer_exists(self, performer_id: str) -> bool:
        return self.session.scalar(_PERFORMER_EXISTS, {"pid": performer_id}) is not None

    def performer_facts(self, performer_id: str) -> tuple[PerformerFacts, str | None] | None:
        """The sealed fields of a performer record and its seal (hot path: one prebuilt
        query joining the faces, no ORM objects)."""
        rows = self.session.execute(_PERFORMER_FACTS, {"pid": performer_id}).all()
        if not rows:
            return None
        row = rows[0]
        faces = [r for r in rows if r.face_id is not None]
        return PerformerFacts(
            performer_id=row.performer_id, name=row.name, public_key_pem=row.public_key_pem,
            public_key_id=row.public_key_id, guardian_key_pem=row.guardian_key_pem,
            guardian_key_id=row.guardian_key_id, date_of_birth=row.date_of_birth,
            voice_sha256=row.voice_sha256, created_at=row.created_at,
            faces=faces_of([(f.engine, f.embedding) for f in faces])), row.record_signature

    def set_seal(self, performer_id: str, seal: str) -> None:
        table = PerformerRow.__table__
        self.session.execute(table.update().where(table.c.performer_id == performer_id)
                             .values(record_signature=seal))

    def candidate_grants(self, performer_id: str) -> list[tuple[Any, bool]]:
        """Every grant of the performer with its revoked flag, in one query (hot path).

        The gate explains why each one does not apply, so none is filtered out here.
        """
        rows = self.session.execute(_CANDIDATE_GRANTS, {"pid": performer_id})
        return [(row, bool(row.revoked)) for row in rows]

    def revoked_ids(self, grant_ids: Sequence[str]) -> set[str]:
        if not grant_ids:
            return set()
        return set(self.session.scalars(
            select(RevocationRow.grant_id).where(RevocationRow.grant_id.in_(grant_ids))))

    def add_revocation(self, revocation: Revocation) -> None:
        self.session.add(RevocationRow(
            revocation_id=revocation.revocation_id, grant_id=revocation.grant_id,
            document=revocation.model_dump_json(), revoked_at=revocation.revoked_at))

    def revocations_of(self, grant_id: str) -> list[Revocation]:
        rows = self.session.scalars(
            select(RevocationRow).where(RevocationRow.grant_id == grant_id))
        return [Revocation.model_validate_json(r.document) for r in rows]

    def reserve_render(self, grant_id: str, *, max_renders: int | None,
                       ledger_reserved: int) -> bool:
        """Take one render from the grant's budget atomically; False when none is left.

        A single conditional UPDATE: two concurrent renders cannot both take the last one.
        The budget is the signed grant's ``max_renders`` (never the column), and the count
        starts from the ledger's reservations when the row's counter is lower (reset).
        """
        result = self.session.execute(_RESERVE_RENDER, {
            "gid": grant_id, "floor": ledger_reserved,
            "limit": max_renders if max_renders is not None else _NO_LIMIT})
        return result.rowcount == 1  # type: ignore[attr-defined]

    def release_render(self, grant_id: str) -> None:
        """Give back the render a failed publish had reserved."""
        self.session.execute(_RELEASE_RENDER, {"gid": grant_id})


# The gate's statements, built once: constructing them per call cost more than running them.
_PERFORMER_EXISTS = select(PerformerRow.performer_id).where(
    PerformerRow.performer_id == bindparam("pid"))
_CANDIDATE_GRANTS = (
    select(GrantRow.grant_id, GrantRow.document, GrantRow.max_renders, GrantRow.renders_used,
           select(RevocationRow.revocation_id)
           .where(RevocationRow.grant_id == GrantRow.grant_id).exists().label("revoked"))
    .where(GrantRow.performer_id == bindparam("pid"))
    .order_by(GrantRow.valid_until.desc(), GrantRow.grant_id))
_PERFORMER_FACTS = (select(
    PerformerRow.performer_id, PerformerRow.name, PerformerRow.public_key_pem,
    PerformerRow.public_key_id, PerformerRow.guardian_key_pem, PerformerRow.guardian_key_id,
    PerformerRow.date_of_birth, PerformerRow.voice_sha256, PerformerRow.created_at,
    PerformerRow.record_signature, FaceRow.id.label("face_id"), FaceRow.engine,
    FaceRow.embedding).outerjoin(FaceRow, FaceRow.performer_id == PerformerRow.performer_id)
    .where(PerformerRow.performer_id == bindparam("pid")).order_by(FaceRow.id))
_NO_LIMIT = 2**31 - 1  # the column is a 32-bit INTEGER; grants are bounded below it
_grants = GrantRow.__table__.c
_used_from = case((_grants.renders_used < bindparam("floor"), bindparam("floor")),
                  else_=_grants.renders_used)
_RESERVE_RENDER = (
    update(GrantRow.__table__)
    .where(_grants.grant_id == bindparam("gid"))
    .where(_used_from < bindparam("limit"))
    .values(renders_used=_used_from + 1))
_RELEASE_RENDER = (
    update(GrantRow.__table__)
    .where(_grants.grant_id == bindparam("gid"))
    .where(_grants.renders_used > 0)
    .values(renders_used=_grants.renders_used - 1))
