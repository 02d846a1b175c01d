"""The Merkle log over the ledger: signed tree heads, proofs, verification, export.

Verification order (each check raises `IntegrityFailure` naming the first bad entry):
1. entries are numbered 0..n-1 with no gap (deleted or inserted entries show here);
2. each body hashes to its leaf hash (edited entries);
3. each body names its own seq and the previous leaf hash (reordered entries);
4. each signed tree head is signed by the studio and matches the root recomputed
   from the entries (a forged head, or history rewritten under a real head);
5. entries newer than the last tree head carry valid studio signatures.
Entries covered by a signed tree head need no per-entry signature check: the
signed root already commits to every leaf, which keeps verification fast.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from sqlalchemy import select
from sqlalchemy.orm import Session

from consent.signing import SigningKey, VerifyKey, canonical_json
from likeness.errors import BadInput, IntegrityFailure
from provenance.ledger.merkle import MerkleTree, verify_inclusion
from provenance.ledger.store import GENESIS_PREV, EntryRow, TreeHeadRow

EXPORT_FORMAT = "likeness-ledger/1"


@dataclass(frozen=True)
class EntryRecord:
    """One ledger entry as stored or exported (hex hashes, base64 signature)."""

    seq: int
    kind: str
    body: str
    leaf_hash: str
    prev_hash: str
    signature: str


@dataclass(frozen=True)
class SignedTreeHead:
    tree_size: int
    root_hash: str
    at: str  # ISO 8601 UTC
    signature: str

    def payload(self) -> dict[str, Any]:
        return {"format": EXPORT_FORMAT, "tree_size": self.tree_size,
                "root_hash": self.root_hash, "at": self.at}


@dataclass(frozen=True)
class InclusionProof:
    leaf_index: int
    leaf_hash: str
    tree_size: int
    root_hash: str
    path: tuple[str, ...]

    def verify(self) -> None:
        verify_inclusion(leaf_hash=bytes.fromhex(self.leaf_hash), index=self.leaf_index,
                         tree_size=self.tree_size, proof=[bytes.fromhex(h) for h in self.path],
                         root=bytes.fromhex(self.root_hash))


@dataclass(frozen=True)
class AuditReport:
    entries: int
    tree_heads: int
    root_hash: str
    signatures_checked: int


def _records(session: Session) -> list[EntryRecord]:
    # Driver-level fetch: 100k rows without ORM row processing (verification speed).
    rows = session.connection().exec_driver_sql(
        "SELECT seq, kind, body, leaf_hash, prev_hash, signature FROM ledger_entries "
        "ORDER BY seq").fetchall()
    return [EntryRecord(*row) for row in rows]


def _heads(session: Session) -> list[SignedTreeHead]:
    rows = session.scalars(select(TreeHeadRow).order_by(TreeHeadRow.tree_size))
    return [SignedTreeHead(r.tree_size, r.root_hash, r.at.astimezone(UTC).isoformat(),
                           r.signature) for r in rows]


def _tree(session: Session) -> MerkleTree:
    hashes = session.scalars(select(EntryRow.leaf_hash).order_by(EntryRow.seq))
    return MerkleTree([bytes.fromhex(h) for h in hashes])


def ledger_tree(session: Session) -> MerkleTree:
    """The Merkle tree over every stored entry (for consistency checks against heads)."""
    return _tree(session)


def sign_tree_head(session: Session, signer: SigningKey) -> SignedTreeHead:
    """Sign the current tree (idempotent per size) and store the head."""
    tree = _tree(session)
    existing = session.get(TreeHeadRow, tree.size)
    if existing is not None:
        return SignedTreeHead(existing.tree_size, existing.root_hash,
                              existing.at.astimezone(UTC).isoformat(), existing.signature)
    at = datetime.now(UTC)
    unsigned = SignedTreeHead(tree.size, tree.root().hex(), at.isoformat(), "")
    sig = base64.b64encode(signer.key.sign(canonical_json(unsigned.payload()))).decode()
    session.add(TreeHeadRow(tree_size=tree.size, root_hash=unsigned.root_hash, at=at,
                            signature=sig))
    session.flush()
    return SignedTreeHead(tree.size, unsigned.root_hash, unsigned.at, sig)


def inclusion_proof(session: Session, *, seq: int, head: SignedTreeHead) -> InclusionProof:
    tree = _tree(session)
    if seq >= head.tree_size:
        raise BadInput(f"entry {seq} is not in a tree of size {head.tree_size}")
    path = tree.inclusion_proof(seq, head.tree_size)
    return InclusionProof(seq, tree.leaf_hash_at(seq).hex(), head.tree_size, head.root_hash,
                          tuple(h.hex() for h in path))


def verify_tree_head(head: SignedTreeHead, studio_key: VerifyKey) -> None:
    try:
        studio_key.key.verify(base64.b64decode(head.signature), canonical_json(head.payload()))
    except (InvalidSignature, ValueError):
        raise IntegrityFailure(f"tree head of size {head.tree_size} has an invalid "
                               "signature (forged)") from None


def heads(session: Session) -> list[SignedTreeHead]:
    return _heads(session)


def verify_records(records: Sequence[EntryRecord], heads: Sequence[SignedTreeHead],
                   studio_key: VerifyKey) -> AuditReport:
    """The offline verifier: needs only the entries, the heads and the studio public key."""
    leaves: list[bytes] = []
    prev = GENESIS_PREV
    kind_marks: dict[str, str] = {}
    for position, rec in enumerate(records):
        if rec.seq != position:
            what = "deleted" if rec.seq > position else "inserted or duplicated"
            raise IntegrityFailure(f"ledger entry {position} is missing: found seq {rec.seq} "
                                   f"(an entry was {what})")
        body = rec.body.encode()
        digest = hashlib.sha256(b"\x00" + body).hexdigest()
        if digest != rec.leaf_hash:
            raise IntegrityFailure(f"ledger entry {rec.seq} was edited (its hash does not match)")
        # Bodies are RFC 8785 canonical JSON (keys sorted: at, kind, payload, prev, seq, v),
        # so position and chain are exact string checks -- no JSON parse per entry.
        if (not rec.body.endswith(f',"seq":{rec.seq},"v":1}}')
                or kind_marks.setdefault(rec.kind, f',"kind":{json.dumps(rec.kind)},')
                not in rec.body[:80]):
            raise IntegrityFailure(f"ledger entry {rec.seq} was moved or relabelled")
        if (not rec.body.endswith(f',"prev":"{prev}","seq":{rec.seq},"v":1}}')
                or rec.prev_hash != prev):
            raise IntegrityFailure(f"ledger entry {rec.seq} does not follow entry {rec.seq - 1} "
                                   "(entries reordered, inserted or deleted)")
        prev = rec.leaf_hash
        leaves.append(bytes.fromhex(rec.leaf_hash))
    tree = MerkleTree(leaves)
    covered = 0
    for head in heads:
        verify_tree_head(head, studio_key)
        if head.tree_size > tree.size:
            raise IntegrityFailure(f"tree head of size {head.tree_size} is larger than the "
                                   f"ledger ({tree.size} entries): entries were deleted")
        if tree.root_at(head.tree_size).hex() != head.root_hash:
            raise IntegrityFailure(f"ledger entries before {head.tree_size} do not match the "
                                   f"signed tree head of size {head.tree_size}")
        covered = max(covered, head.tree_size)
    checked = 0
    for rec in records[covered:]:
        try:
            studio_key.key.verify(base64.b64decode(rec.signature), bytes.fromhex(rec.leaf_hash))
        except (InvalidSignature, ValueError):
            raise IntegrityFailure(f"ledger entry {rec.seq} has an invalid studio "
                                   "signature") from None
        checked += 1
    return AuditReport(entries=tree.size, tree_heads=len(heads), root_hash=tree.root().hex(),
                       signatures_checked=checked)


def verify_ledger(session: Session, studio_key: VerifyKey) -> AuditReport:
    return verify_records(_records(session), _heads(session), studio_key)


def export_lines(session: Session, studio_key: VerifyKey) -> Iterator[str]:
    yield json.dumps({"format": EXPORT_FORMAT, "studio_public_key": studio_key.pem().decode()})
    for rec in _records(session):
        yield json.dumps({"type": "entry", **asdict(rec)})
    for head in _heads(session):
        yield json.dumps({"type": "tree_head", **asdict(head)})


def verify_export(lines: Iterable[str], studio_key: VerifyKey | None = None) -> AuditReport:
    """Verify a JSON-lines export; the key in the file is used only if none is given."""
    records: list[EntryRecord] = []
    heads: list[SignedTreeHead] = []
    header: dict[str, Any] | None = None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
            if header is None:
                header = doc
                if doc.get("format") != EXPORT_FORMAT:
                    raise BadInput(f"not a Likeness ledger export (format {doc.get('format')})")
                continue
            kind = doc.pop("type")
            if kind == "entry":
                records.append(EntryRecord(**doc))
            elif kind == "tree_head":
                heads.append(SignedTreeHead(**doc))
            else:
                raise BadInput(f"line {number}: unknown record type {kind!r}")
        except (json.JSONDecodeError, TypeError, KeyError) as exc:
            raise BadInput(f"ledger export line {number} is malformed: {exc}") from None
    if header is None:
        raise BadInput("ledger export is empty")
    key = studio_key or VerifyKey.from_pem(header["studio_public_key"].encode())
    return verify_records(records, heads, key)


def read_export(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read {path}: {exc}") from None


def entries_for_render(session: Session, render_id: int) -> list[EntryRow]:
    from provenance.ledger.store import signed_render_id

    return list(session.scalars(select(EntryRow).where(
        EntryRow.render_id == signed_render_id(f"{render_id:016x}")).order_by(EntryRow.seq)))
