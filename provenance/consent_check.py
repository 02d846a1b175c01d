"""The performer's consent as `verify` checks it, from the file alone.

Why apart from `verify_file`: this check needs nothing but the manifest (no registry,
no ledger), so the verifier service and an offline reader run the very same code; the
ledger, when at hand, adds the revocations on top (`verify_file`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from consent.embedded import RenderScope, check_grants
from provenance.c2pa import (
    ConsentAssertion,
    GrantsAssertion,
    LedgerAssertion,
    MalformedAssertion,
    ManifestReport,
    read_assertion,
)

__all__ = ["consent_from_file"]


def consent_from_file(manifest: ManifestReport, *, namespace: str
                      ) -> tuple[dict[str, Any], list[str]]:
    """(summary, problems): every embedded grant checked against the render the manifest
    describes. An empty summary means the file carries no consent evidence (files made
    before it existed); problems are reasons to call the file tampered."""
    if not manifest.present:
        return {}, []
    try:
        grants = read_assertion(manifest.assertions, GrantsAssertion, namespace=namespace)
        decision = read_assertion(manifest.assertions, ConsentAssertion, namespace=namespace)
        ledger = read_assertion(manifest.assertions, LedgerAssertion, namespace=namespace)
    except MalformedAssertion as exc:
        return {}, [f"consent evidence is malformed: {exc}"]
    if grants is None:
        return {}, []
    if decision is None or ledger is None:
        return {}, ["consent evidence without the render's consent and ledger assertions"]
    rendered_at = _render_time(manifest, ledger)
    scope = RenderScope(performer_id=decision.performer_id, uses=decision.uses,
                        language=decision.language, production=decision.production,
                        rendered_at=rendered_at)
    checks = check_grants(grants.grants, studio_key=grants.studio_key, scope=scope)
    problems = [p for check in checks for p in check.problems]
    missing = sorted(set(decision.grant_ids) - {c.grant_id for c in checks})
    problems += [f"grant {gid} is named by the decision but not embedded" for gid in missing]
    summary = {"verified": bool(checks) and not problems,
               "rendered_at": rendered_at.isoformat(),
               "time_source": "rfc3161" if manifest.timestamp else "ledger tree head",
               "grants": [c.model_dump(mode="json") for c in checks]}
    return summary, problems


def _render_time(manifest: ManifestReport, ledger: LedgerAssertion) -> datetime:
    """The time-stamp authority's time when the signature has one, else the signed tree
    head's time (the studio's own clock, signed with the studio key)."""
    when = manifest.signature_time if manifest.timestamp else ledger.tree_head_at
    return datetime.fromisoformat((when or ledger.tree_head_at).replace("Z", "+00:00"))
