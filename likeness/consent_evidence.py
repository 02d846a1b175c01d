"""`likeness consent challenge` and `likeness consent evidence`: a consent statement
video, checked offline and automatically, bound into the grant before it is signed.

The checks themselves are flows.evidence; this module holds the studio's side: the
challenge (issued, unexpired, unused), the performer's reference faces and
threshold, and, when every check passes, what is written: the video's SHA-256 in the
draft grant's ``consent_evidence_sha256``, the video (0600) in the performer's folder,
a `consent_evidence` row with the figures and a `consent_evidence_verified` ledger
entry. When a check fails nothing is written and the challenge stays unused.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from consent.challenge import (
    Challenge,
    ChallengeRow,
    new_challenge,
    open_challenge,
    phrase_heard,
)
from consent.evidence import EvidenceRow
from consent.models import SignedGrant
from consent.registry import Registry
from likeness.errors import BadInput, ConsentDenied
from likeness.studio import Studio
from media.digest import sha256_file

EVIDENCE_FILE_MODE = 0o600


@dataclass(frozen=True)
class EvidenceResult:
    grant_id: str
    performer_id: str
    video_sha256: str
    stored_at: Path
    checks: tuple[dict[str, object], ...]


def issue_challenge(studio: Studio, *, performer_id: str,
                    ttl: timedelta | None = None) -> Challenge:
    with studio.session() as session:
        now = datetime.now(UTC)
        challenge = (new_challenge(session, performer_id=performer_id, now=now) if ttl is None
                     else new_challenge(session, performer_id=performer_id, now=now, ttl=ttl))
        studio.ledger.record(session, "consent_challenge_issued", {
            "challenge_id": challenge.challenge_id, "performer_id": performer_id,
            "expires_at": challenge.expires_at.isoformat()})
    return challenge


def _read_draft(path: Path) -> SignedGrant:
    try:
        signed = SignedGrant.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise BadInput(f"{path} is not a grant document: {str(exc).splitlines()[0]}") from None
    if signed.signatures:
        raise BadInput(f"grant {signed.grant.grant_id} is already signed",
                       hint="consent evidence goes into the draft, before the performer signs")
    return signed


def _store(video: Path, target: Path) -> None:
    """Copy the statement into the performer's folder, 0600 from creation. Not a render
    output (no rename into a destination): a copy left by a crash is replaced."""
    target.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(target.parent, 0o700)
    target.unlink(missing_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, EVIDENCE_FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as out, video.open("rb") as source:
            shutil.copyfileobj(source, out)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        target.unlink(missing_ok=True)
        raise


def verify_evidence(studio: Studio, *, grant_path: Path, video: Path, challenge_id: str,
                    write_grant: Callable[[Path, str], None],
                    language: str | None = None) -> EvidenceResult:
    """Check the statement; on success bind it into the draft grant (``write_grant(path,
    text)`` writes the document atomically) and record it. Exit 3 when it does not show
    consent, 2 for bad input. ``language`` is what the performer speaks (None: detect
    it); a grant for Spanish dubs says nothing about the performer's own language."""
    from flows.evidence import check_statement, transcript_words
    from models import registry
    from models.registry import EnginePolicy

    signed = _read_draft(grant_path)
    grant = signed.grant
    if not video.is_file():
        raise BadInput(f"no statement video at {video}")
    settings = studio.settings.studio
    digest = sha256_file(video)
    with studio.session() as session:
        row = open_challenge(session, challenge_id, performer_id=grant.performer_id,
                             now=datetime.now(UTC))
        if session.get(EvidenceRow, digest) is not None:
            raise BadInput(f"this statement video ({digest[:16]}…) was already used as evidence")
        refs = [v for engine, v in Registry(session).reference_embeddings(grant.performer_id)
                if engine == settings.face_engine]
        session.expunge(row)
    heard = transcript_words(video, language=language, models_dir=studio.settings.models_dir,
                             cache_dir=studio.settings.cache_dir,
                             policy=EnginePolicy.for_studio(settings))
    report = check_statement(
        registry.get("face", settings.face_engine, models_dir=studio.settings.models_dir,
                     policy=EnginePolicy.for_studio(settings)), video, references=refs,
        threshold=settings.identity_threshold, engine_name=settings.face_engine, heard=heard,
        description=grant.description, phrase_heard=lambda words: phrase_heard(row, words))
    checks = tuple(asdict(c) for c in report.checks)
    if not report.passed:
        raise ConsentDenied("the statement does not show consent: "
                            + "; ".join(report.failures()),
                            reasons=[str(c["name"]) for c in checks if not c["passed"]])
    now = datetime.now(UTC)
    stored = studio.performer_dir(grant.performer_id) / "consent" / f"{digest}{video.suffix}"
    _store(video, stored)
    try:
        _record(studio, grant_id=grant.grant_id, performer_id=grant.performer_id,
                challenge_id=challenge_id, row=row, digest=digest, checks=checks, now=now)
    except BaseException:
        stored.unlink(missing_ok=True)
        raise
    updated = signed.model_copy(update={
        "grant": grant.model_copy(update={"consent_evidence_sha256": digest})})
    write_grant(grant_path, updated.model_dump_json(indent=2) + "\n")
    return EvidenceResult(grant.grant_id, grant.performer_id, digest, stored, checks)


def _record(studio: Studio, *, grant_id: str, performer_id: str, challenge_id: str,
            row: ChallengeRow, digest: str, checks: tuple[dict[str, object], ...],
            now: datetime) -> None:
    """Use up the challenge, keep the figures, log the evidence: one transaction."""
    with studio.session() as session:
        open_challenge(session, challenge_id, performer_id=performer_id, now=now)
        live = session.merge(row)
        live.used_at = now
        if session.get(EvidenceRow, digest) is not None:
            raise BadInput(f"this statement video ({digest[:16]}…) was already used as evidence")
        session.add(EvidenceRow(video_sha256=digest, performer_id=performer_id,
                                challenge_id=challenge_id, verified_at=now,
                                results=json.dumps(checks)))
        studio.ledger.record(session, "consent_evidence_verified", {
            "grant_id": grant_id, "performer_id": performer_id,
            "video_sha256": digest, "challenge_id": challenge_id, "checks": list(checks)})
