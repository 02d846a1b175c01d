"""Who may be enrolled: one performer per face, per key and per id.

A sock puppet is a real performer's face enrolled under a new id with a key the
operator holds: the operator then signs grants "as the performer" for every use. So
enrolment refuses a face that matches a registered performer (naming them) unless the
operator states, explicitly and on the record, that this is a different person who
looks alike (``look_alike_of``, logged in the ledger entry); refuses a public key
that already belongs to another performer; and treats ids case-insensitively (``Ava``
beside ``ava`` would read as the same person everywhere a human looks).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
from sqlalchemy import func, select

from consent.registry import FaceRow, PerformerRow, Registry, embedding_from_bytes
from likeness.errors import BadInput, ConsentDenied


def check_enrolment(registry: Registry, *, performer_id: str, public_key_id: str,
                    faces: Sequence[tuple[str, np.ndarray]], threshold: float,
                    look_alike_of: Collection[str]) -> list[str]:
    """Raise unless the new performer is nobody already registered; returns the
    performers whose look-alike override was used (to be logged)."""
    session = registry.session
    clash = session.scalar(select(PerformerRow.performer_id).where(
        func.lower(PerformerRow.performer_id) == performer_id.lower()))
    if clash is not None:
        raise BadInput(f"performer {clash!r} already exists (ids are case-insensitive)")
    owner = session.scalar(select(PerformerRow.performer_id).where(
        PerformerRow.public_key_id == public_key_id))
    if owner is not None:
        raise BadInput(f"this public key already belongs to performer {owner!r}: one key, "
                       "one performer", hint="the new performer needs their own key pair")
    unknown = sorted(set(look_alike_of) - set(registry_ids(registry)))
    if unknown:
        raise BadInput(f"--look-alike-of {unknown[0]!r}: no such performer")
    matched: dict[str, float] = {}
    for engine, vec in faces:
        for other, other_engine, data in session.execute(
                select(FaceRow.performer_id, FaceRow.engine, FaceRow.embedding)):
            if other_engine != engine:
                continue
            ref = embedding_from_bytes(data)
            if ref.shape != np.shape(vec):
                continue
            distance = float(np.linalg.norm(ref - np.asarray(vec, dtype=np.float32)))
            if distance <= threshold:
                matched[other] = min(distance, matched.get(other, distance))
    refused = sorted(p for p in matched if p not in look_alike_of)
    if refused:
        who = refused[0]
        raise ConsentDenied(
            f"the face matches registered performer {who!r} (distance {matched[who]:.3f}, "
            f"threshold {threshold:.3f}): a performer cannot be enrolled a second time "
            "under another id or key",
            reasons=[f"face matches {p}" for p in refused],
            hint=f"if this really is a different person who looks alike, say so with "
                 f"--look-alike-of {who} (logged in the ledger)")
    return sorted(matched)


def registry_ids(registry: Registry) -> list[str]:
    return list(registry.session.scalars(select(PerformerRow.performer_id)))
