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
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session

from consent.codes import language_covers
from consent.evidence import evidence_verified
from consent.identity import check_threshold, match_identity
from consent.models import Decision, GrantTerms, IdentityTrack, RenderRequest, SignedGrant
from consent.registry import AuditLog, Registry
from likeness.errors import ConsentDenied


@dataclass(frozen=True)
class GatePolicy:
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


def _grant_problems(signed: SignedGrant, row: Any, request: RenderRequest,
                    revoked: bool) -> list[str]:
    g = signed.grant
    problems = [text for _, text in _not_in_force(g, revoked=revoked, at=request.at)]
    missing = [u.value for u in request.uses if u not in g.uses]
    if missing:
        problems.append(f"does not grant use {', '.join(missing)}")
    if request.language and g.languages and not any(
            language_covers(lang, request.language) for lang in g.languages):
        problems.append(f"language {request.language} not in {', '.join(g.languages)}")
    if request.territory and g.territories and request.territory not in g.territories:
        problems.append(f"territory {request.territory} not in {', '.join(g.territories)}")
    if g.productions and request.production not in g.productions:
        asked = request.production or "(none)"
        problems.append(f"production {asked} not in {', '.join(g.productions)}")
    if row.max_renders is not None and row.renders_used >= row.max_renders:
        problems.append(f"render budget used up ({row.renders_used}/{row.max_renders})")
    return problems


@lru_cache(maxsize=65_536)
def parse_grant(document: str) -> SignedGrant:
    """Grants are immutable, so a stored document parses to the same grant every time;
    keyed by the full text, an edited document is parsed (and judged) afresh."""
    return SignedGrant.model_validate_json(document)


def _registry_state(rows: list[Any], revoked: set[str]) -> str:
    """A digest of what the gate read (ids, budgets, revocations): plain JSON of a list
    of scalars is already unambiguous, no RFC 8785 pass needed."""
    state = [[r.grant_id, r.renders_used, r.grant_id in revoked] for r in rows]
    return hashlib.sha256(json.dumps(state, separators=(",", ":")).encode()).hexdigest()


def new_render_id() -> str:
    """A random non-zero 64-bit render id (carried by the watermark), as 16 hex digits.

    Hex, not a number: 64-bit integers are not exact in JSON (RFC 8785 refuses them).
    """
    return f"{secrets.randbits(64) or 1:016x}"


def authorize(request: RenderRequest, *, session: Session, audit: AuditLog,
              policy: GatePolicy, now: datetime | None = None) -> Decision:
    """Decide one render request; the caller commits the session."""
    registry = Registry(session)
    decided_at = now or request.at
    reasons: list[str] = []
    chosen: str | None = None
    distance: float | None = None
    judged: tuple[IdentityTrack, ...] = ()
    rows: list[Any] = []
    revoked: set[str] = set()

    if not registry.performer_exists(request.performer_id):
        reasons.append(f"unknown performer {request.performer_id}")
    else:
        # Identity first: a mismatch must not consume render budget.
        refs = [vec for engine, vec in registry.reference_embeddings(request.performer_id)
                if engine == policy.face_engine] if request.face_tracks else []
        match = match_identity(request.face_tracks, refs, threshold=policy.identity_threshold,
                               engine=policy.face_engine, scope=request.face_scope)
        distance = match.best_distance
        judged = tuple(IdentityTrack(track_id=t.track_id, start_s=t.start_s, end_s=t.end_s,
                                     distance=t.distance, performer=t.performer)
                       for t in match.tracks)
        if not match.matched:
            reasons.append(match.reason or "identity mismatch")
        candidates = registry.candidate_grants(request.performer_id)
        rows = [row for row, _ in candidates]
        revoked = {row.grant_id for row, flag in candidates if flag}
        if not rows:
            reasons.append(f"no grant registered for performer {request.performer_id}")
        for row, is_revoked in candidates:
            signed = parse_grant(row.document)
            problems = _grant_problems(signed, row, request, is_revoked)
            if policy.require_consent_evidence and not evidence_verified(
                    session, video_sha256=signed.grant.consent_evidence_sha256,
                    performer_id=request.performer_id):
                problems.append("no verified consent statement (require_consent_evidence)")
            if problems:
                reasons.append(f"{row.grant_id}: " + "; ".join(problems))
                continue
            if not match.matched:
                break  # a covering grant exists, but the face is not the performer's
            if request.reserve and not registry.reserve_render(row.grant_id):
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
        registry_state=_registry_state(rows, revoked), decided_at=decided_at,
        identity_distance=distance,
        identity_threshold=policy.identity_threshold if request.face_tracks else None,
        identity_tracks=judged,
        render_id=new_render_id() if allowed and request.reserve else None,
    )
    audit.record(session, "decision", decision.model_dump(mode="json"))
    return decision


def recheck_consent(decision: Decision, *, session: Session, now: datetime) -> None:
    """Refuse to publish unless every grant the decision relied on is still in force.

    Runs at publish time, inside the publishing transaction: a revocation or an expiry
    after the decision stops the render. The budget is not re-checked (the decision
    already reserved its render), nor the terms (a grant is immutable).
    """
    registry = Registry(session)
    revoked = registry.revoked_ids(list(decision.grant_ids))
    for gid in decision.grant_ids:
        row = registry.grant_row(gid)
        if row is None:
            raise ConsentDenied(f"grant {gid} is no longer registered", reasons=["missing"])
        found = _not_in_force(parse_grant(row.document).grant, revoked=gid in revoked, at=now)
        if not found:
            continue
        codes = [code for code, _ in found]
        if "revoked" in codes:
            message = f"grant {gid} was revoked after the decision; nothing was published"
        else:
            message = (f"grant {gid} is no longer valid ({'; '.join(t for _, t in found)}); "
                       "nothing was published")
        raise ConsentDenied(message, reasons=codes)
