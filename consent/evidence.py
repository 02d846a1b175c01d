"""Verified consent statements: which recorded videos passed `likeness consent evidence`.

A grant names its statement only by SHA-256 (``consent_evidence_sha256``); this table
says that a video with that hash passed every check, for which performer, with which
challenge, and the figures. With ``require_consent_evidence`` the gate allows only
grants whose evidence hash is found here for the same performer.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, Session, mapped_column

from consent.registry import RegistryBase, UTCDateTime


class EvidenceRow(RegistryBase):
    __tablename__ = "consent_evidence"
    video_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    performer_id: Mapped[str] = mapped_column(ForeignKey("performers.performer_id"), index=True)
    challenge_id: Mapped[str] = mapped_column(String(64))
    verified_at: Mapped[datetime] = mapped_column(UTCDateTime)
    results: Mapped[str] = mapped_column(Text)  # the checks and their figures, JSON


def evidence_verified(session: Session, *, video_sha256: str | None, performer_id: str) -> bool:
    if video_sha256 is None:
        return False
    row = session.get(EvidenceRow, video_sha256)
    return row is not None and row.performer_id == performer_id
