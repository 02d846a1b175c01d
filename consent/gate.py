"""The consent gate: ``authorize(request) -> Decision``.

A render is allowed only when one registered grant of the performer covers every
requested use, the language, territory and production, is inside its validity
window, is not revoked, has render budget left (reserved atomically), and the
faces found in the source match the performer. Denials list every reason.
Every decision, allowed or denied, is written to the ledger in the same
transaction as the budget reservation.

``recheck_consent`` applies the same revocation and validity-window rule again when
a render is published, so "still in force" means one thing at both moments.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from consent.codes import language_covers
from consent.evidence import evidence_verified
from consent.identity import check_threshold, match_identity
from consent.models import Decision, GrantTerms, IdentityTrack, RenderRequest
from consent.registry import AuditLog, Registry, embedding_from_bytes
from consent.signing import VerifyKey
from consent.trust import (
    PerformerFacts,
    TrustedPerformer,
    stored_grant,
    trusted_performer,
    verified_grant,
)
from likeness.errors import ConsentDenied, IntegrityFailure


@dataclass(frozen=True)
class GatePolicy:
    studio_key: VerifyKey  # what grant countersignatures and performer seals must verify with
    identity_threshold: float
    face_engine: str = "dlib"
    require_consent_evidence: bool = False  # a grant must name a verified statement video

    def __post_init__(self) -> None:
        check_threshold(self.face_engine, self.identity_threshold)  # 1.5 admits anyone


def _not_in_force(grant: GrantTerms, *, revoked: bool, at: datetime) -> list[tuple[str, str]]:
    """(code, explanation) for each reason the grant does not hold at ``at``: revoked, or
    outside its validity window. The one rule both the gate and the publish re-check use."""
    found: list[tuple[str, str]] = []
    if revoked:
        found.append(("revoked", "revoked"))
    if at < grant.valid_from:
        found.append(("not_yet_valid", f"not valid before {grant.valid_from.isoformat()}"))
    if at >= grant.valid_until:
        found.append(("expired", f"expired on {grant.valid_until.isoformat()}"))
    return found


def _grant_problems(grant: GrantTerms, request: RenderRequest, *, revoked: bool,
                    used: int) -> list[str]:
    """Every reason this (verified) grant does not cover the request. A dimension the grant
    restricts must be stated by the request: an unstated language, territory or production
    is not covered (fail closed), since the render could be anything."""
    g = grant
    problems = [text for _, text in _not_in_force(g, revoked=revoked, at=request.at)]
    missing = [u.value for u in request.uses if u not in g.uses]
    if missing:
        problems.append(f"does not grant use {', '.join(missing)}")
    if g.languages and request.language is None:
        problems.append(f"the grant is limited to language(s) {', '.join(g.languages)}; "
                        "the request names none (give --language)")
    elif request.language and g.languages and not any(
            language_covers(lang, request.language) for lang in g.languages):
        problems.append(f"language {request.language} not in {', '.join(g.languages)}")
    if g.territories and request.territory is None:
        problems.append(f"the grant is limited to territory(ies) {', '.join(g.territories)}; "
                        "the request names none (give --territory)")
    elif request.territory and g.territories and request.territory not in g.territories:
        problems.append(f"territory {request.territory} not in {', '.join(g.territories)}")
    if g.productions and request.production not in g.productions:
        asked = request.production or "(none)"
        problems.append(f"production {asked} not in {', '.join(g.productions)}")
    if g.max_renders is not None and used >= g.max_renders:
        problems.append(f"render budget used up ({used}/{g.max_renders})")
    return problems


def _registry_state(rows: list[Any], revoked: set[str], used: dict[str, int]) -> str:
    """A digest of what the gate read (ids, budgets, revocations): plain JSON of a list
    of scalars is already unambiguous, no RFC 8785 pass needed."""
    state = [[r.grant_id, used.get(r.grant_id, r.renders_used), r.grant_id in revoked]
             for r in rows]
    return hashlib.sha256(json.dumps(state, separators=(",", ":")).encode()).hexdigest()


def new_render_id() -> str:
    """A random non-zero 64-bit render id (carried by the watermark), as 16 hex digits.

    Hex, not a number: 64-bit integers are not exact in JSON (RFC 8785 refuses them).
    """
    return f"{secrets.randbits(64) or 1:016x}"


def _trusted(registry: Registry, performer_id: str, studio_key: VerifyKey
             ) -> tuple[PerformerFacts | None, TrustedPerformer | None, list[str]]:
    """The performer's sealed record, or the reasons the gate cannot use it."""
    found = registry.performer_facts(performer_id)
    if found is None:
        return None, None, [f"unknown performer {performer_id}"]
    facts, seal = found
    try:
        return facts, trusted_performer(facts, seal, studio_key), []
    except IntegrityFailure as exc:
        return facts, None, [exc.message]


def authorize(request: RenderRequest, *, session: Session, audit: AuditLog,
              policy: GatePolicy, now: datetime | None = None) -> Decision:
    """Decide one render request; the caller commits the session.

    What it relies on is re-verified, not read: the performer record's studio seal, the
    signatures on each grant document (terms and budget come from the signed document,
    never from the row's columns), revocations from the ledger as well as the table, and
    the budget used as the larger of the row's counter and the ledger's reservations.
    """
    registry = Registry(session)
    decided_at = now or request.at
    reasons: list[str] = []
    chosen: str | None = None
    distance: float | None = None
    judged: tuple[IdentityTrack, ...] = ()
    rows: list[Any] = []
    revoked: set[str] = set()
    used: dict[str, int] = {}

    found = registry.performer_facts(request.performer_id)
    if found is None:
        reasons.append(f"unknown performer {request.performer_id}")
    else:
        facts, seal = found
        # Identity first: a mismatch must not consume render budget. The reference faces
        # are the ones the studio sealed with the record, not a separate read.
        refs = [embedding_from_bytes(vec) for engine, vec in facts.faces
                if engine == policy.face_engine] if request.face_tracks else []
        match = match_identity(request.face_tracks, refs, threshold=policy.identity_threshold,
                               engine=policy.face_engine, scope=request.face_scope)
        distance = match.best_distance
        judged = tuple(IdentityTrack(track_id=t.track_id, start_s=t.start_s, end_s=t.end_s,
                                     distance=t.distance, performer=t.performer)
                       for t in match.tracks)
        if not match.matched:
            reasons.append(match.reason or "identity mismatch")
        ledger = audit.consent_state(session)
        candidates = registry.candidate_grants(request.performer_id)
        rows = [row for row, _ in candidates]
        if not rows:
            reasons.append(f"no grant registered for performer {request.performer_id}")
        for row, row_revoked in candidates:
            is_revoked = row_revoked or ledger.is_revoked(row.grant_id)
            if is_revoked:
                revoked.add(row.grant_id)
            used[row.grant_id] = max(row.renders_used, ledger.reserved_by(row.grant_id))
            # Judged on the parsed document; only the grant relied on is verified (an
            # edited document can then only deny, never allow).
            parsed = stored_grant(row.document)
            if parsed is None:
                reasons.append(f"{row.grant_id}: the stored grant document is malformed")
                continue
            g = parsed.grant
            if g.grant_id != row.grant_id or g.performer_id != request.performer_id:
                reasons.append(f"{row.grant_id}: the stored document is grant {g.grant_id} "
                               f"for {g.performer_id}")
                continue
            problems = _grant_problems(g, request, revoked=is_revoked, used=used[row.grant_id])
            if policy.require_consent_evidence and not evidence_verified(
                    session, video_sha256=g.consent_evidence_sha256,
                    performer_id=request.performer_id):
                problems.append("no verified consent statement (require_consent_evidence)")
            if problems:
                reasons.append(f"{row.grant_id}: " + "; ".join(problems))
                continue
            try:
                # the seal is checked only now, when a grant would be relied on: a denial
                # needs no signature, and an unsealed record can only lead to one
                performer = trusted_performer(facts, seal, policy.studio_key)
                verified_grant(row.document, performer=performer, studio_key=policy.studio_key)
            except IntegrityFailure as exc:
                reasons.append(f"{row.grant_id}: {exc.message}")
                continue
            if not match.matched:
                break  # a covering grant exists, but the face is not the performer's
            if request.reserve and not registry.reserve_render(
                    row.grant_id, max_renders=g.max_renders,
                    ledger_reserved=ledger.reserved_by(row.grant_id)):
                reasons.append(f"{row.grant_id}: render budget used up (taken concurrently)")
                continue
            chosen = row.grant_id
            break

    allowed = chosen is not None
    if not allowed and not reasons:
        reasons.append("no grant covers this request")
    decision = Decision(
        allowed=allowed, performer_id=request.performer_id, uses=request.uses,
        language=request.language, territory=request.territory,
        production=request.production,
        reasons=() if allowed else tuple(reasons),
        grant_ids=(chosen,) if chosen else (),
        registry_state=_registry_state(rows, revoked, used), decided_at=decided_at,
        identity_distance=distance,
        identity_threshold=policy.identity_threshold if request.face_tracks else None,
        identity_tracks=judged,
        render_id=new_render_id() if allowed and request.reserve else None,
    )
    audit.record(session, "decision", decision.model_dump(mode="json"))
    return decision


def recheck_consent(decision: Decision, *, session: Session, now: datetime,
                    audit: AuditLog, studio_key: VerifyKey) -> None:
    """Refuse to publish unless every grant the decision relied on is still in force.

    Runs at publish time, inside the publishing transaction: a revocation (in the table
    or in the ledger) or an expiry after the decision stops the render, and so does a
    grant or performer record that no longer verifies. The budget is not re-checked (the
    decision already reserved its render).
    """
    registry = Registry(session)
    revoked = registry.revoked_ids(list(decision.grant_ids))
    ledger = audit.consent_state(session)
    _, performer, problems = _trusted(registry, decision.performer_id, studio_key)
    if performer is None:
        raise ConsentDenied(f"{problems[0]}; nothing was published", reasons=["untrusted"])
    for gid in decision.grant_ids:
        row = registry.grant_row(gid)
        if row is None:
            raise ConsentDenied(f"grant {gid} is no longer registered", reasons=["missing"])
        try:
            grant = verified_grant(row.document, performer=performer,
                                   studio_key=studio_key).grant
        except IntegrityFailure as exc:
            raise ConsentDenied(f"grant {gid}: {exc.message}; nothing was published",
                                reasons=["untrusted"]) from None
        is_revoked = gid in revoked or ledger.is_revoked(gid)
        found = _not_in_force(grant, revoked=is_revoked, at=now)
        if not found:
            continue
        codes = [code for code, _ in found]
        if "revoked" in codes:
            message = f"grant {gid} was revoked after the decision; nothing was published"
        else:
            message = (f"grant {gid} is no longer valid ({'; '.join(t for _, t in found)}); "
                       "nothing was published")
        raise ConsentDenied(message, reasons=codes)
