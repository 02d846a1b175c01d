"""The ledger's storage: append-only, hash-chained, studio-signed entries.

Entry format (version 1), chosen so the Merkle log needs no migration:
``body`` is the RFC 8785 canonical JSON of ``{"v", "seq", "kind", "at", "payload",
"prev"}``; ``leaf_hash`` is the RFC 6962 leaf hash SHA-256(0x00 ‖ body); ``prev`` is
the previous entry's leaf hash (a hash chain that the Merkle tree then covers);
``signature`` is the studio's Ed25519 signature over the leaf hash.

Appends are serialized: SQLite transactions are ``BEGIN IMMEDIATE`` (see
likeness/db.py); on PostgreSQL an advisory transaction lock is taken first.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import BigInteger, Integer, String, Text, func, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from consent.registry import UTCDateTime
from consent.signing import SigningKey, VerifyKey, canonical_json
from provenance.ledger.consent_state import LedgerConsentState, consent_state

ENTRY_VERSION = 1
GENESIS_PREV = "0" * 64
PG_LEDGER_LOCK_ID = 0x4C494B45  # "LIKE"
_TAIL_KEY = "likeness.ledger.tail"


class LedgerBase(DeclarativeBase):
    pass


class EntryRow(LedgerBase):
    __tablename__ = "ledger_entries"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    body: Mapped[str] = mapped_column(Text)
    leaf_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(100))
    render_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True, index=True)


class TreeHeadRow(LedgerBase):
    __tablename__ = "ledger_tree_heads"
    tree_size: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    root_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    signature: Mapped[str] = mapped_column(String(100))


_ENTRY_INSERT = EntryRow.__table__.insert()
_LAST_ENTRY = select(EntryRow.seq, EntryRow.leaf_hash).order_by(EntryRow.seq.desc()).limit(1)


@dataclass(frozen=True)
class LedgerEntry:
    seq: int
    kind: str
    at: datetime
    payload: dict[str, Any]
    prev_hash: str
    leaf_hash: str
    signature: str

    @property
    def render_id(self) -> int | None:  # the payload carries it as 16 hex digits
        rid = self.payload.get("render_id")
        return int(rid, 16) if rid else None


def entry_body(*, seq: int, kind: str, at: datetime, payload: dict[str, Any], prev: str) -> bytes:
    return canonical_json({"v": ENTRY_VERSION, "seq": seq, "kind": kind,
                           "at": at.astimezone(UTC).isoformat(), "payload": payload,
                           "prev": prev})


def leaf_hash_hex(body: bytes) -> str:
    return hashlib.sha256(b"\x00" + body).hexdigest()


def signed_render_id(render_id: Any) -> int | None:
    """Render ids are unsigned 64-bit; stored as signed BIGINT (two's complement)."""
    if render_id is None:
        return None
    value = int(render_id, 16) if isinstance(render_id, str) else int(render_id)
    return value - (1 << 64) if value >= (1 << 63) else value


class HeadWitness(Protocol):
    def record(self, head: Any) -> None: ...


class Ledger:
    """Appends studio-signed entries; implements consent's ``AuditLog``."""

    def __init__(self, signer: SigningKey, *, witness: HeadWitness | None = None) -> None:
        self._signer = signer
        self._witness = witness

    def witness_head(self, head: Any) -> None:
        """Hand a committed signed tree head to the witness (provenance/ledger/witness.py)."""
        if self._witness is not None:
            self._witness.record(head)

    @property
    def verify_key(self) -> VerifyKey:
        return self._signer.verify_key

    def _lock(self, session: Session) -> None:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_LEDGER_LOCK_ID})

    def lock(self, session: Session) -> None:
        """Serialize this transaction with every ledger writer (checks that must not race,
        such as "no other performer has this key", take it before they read)."""
        self._tail(session)

    def consent_state(self, session: Session) -> LedgerConsentState:
        """Revocations and reservations as the ledger records them (consent's AuditLog)."""
        return consent_state(session)

    def _tail(self, session: Session) -> tuple[int, str]:
        """(next seq, previous leaf hash), read once per transaction under the lock."""
        key = (_TAIL_KEY, id(session.get_transaction()))
        tail = session.info.get(key)
        if tail is None:
            self._lock(session)
            last = session.execute(_LAST_ENTRY).first()
            tail = (0, GENESIS_PREV) if last is None else (last.seq + 1, last.leaf_hash)
            session.info[key] = tail
        return tail

    def record(self, session: Session, kind: str, payload: dict[str, Any]) -> LedgerEntry:
        seq, prev = self._tail(session)
        at = datetime.now(UTC)
        body = entry_body(seq=seq, kind=kind, at=at, payload=payload, prev=prev)
        leaf = leaf_hash_hex(body)
        sig = base64.b64encode(self._signer.key.sign(bytes.fromhex(leaf))).decode()
        # Core insert with a prebuilt statement: the ORM's per-call statement building
        # cost more than hashing and signing together.
        session.execute(_ENTRY_INSERT, {
            "seq": seq, "kind": kind, "at": at, "body": body.decode(), "leaf_hash": leaf,
            "prev_hash": prev, "signature": sig,
            "render_id": signed_render_id(payload.get("render_id"))})
        session.info[(_TAIL_KEY, id(session.get_transaction()))] = (seq + 1, leaf)
        return LedgerEntry(seq, kind, at, payload, prev, leaf, sig)

    @staticmethod
    def size(session: Session) -> int:
        return int(session.scalar(select(func.count()).select_from(EntryRow)) or 0)


def row_to_entry(row: EntryRow) -> LedgerEntry:
    doc = json.loads(row.body)
    return LedgerEntry(row.seq, row.kind, row.at, doc["payload"], row.prev_hash,
                       row.leaf_hash, row.signature)


def recent_entries(session: Session, *, limit: int) -> list[LedgerEntry]:
    """The newest ``limit`` entries, oldest first: a log reads downwards in time."""
    newest_first = session.scalars(
        select(EntryRow).order_by(EntryRow.seq.desc()).limit(limit)).all()
    return [row_to_entry(row) for row in reversed(newest_first)]
