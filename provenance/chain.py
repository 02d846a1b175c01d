"""The provenance chain `verify` prints: every manifest from this file back to the first.

Why a summary and not the raw store: a reader wants "which render, by whom, when, doing
what" per step, and for the studio's own steps the render id and the watermark ids the
source carried; the raw manifest store is what the verifier service hands out.
"""

from __future__ import annotations

from typing import Any

from provenance.c2pa import (
    LedgerAssertion,
    MalformedAssertion,
    ManifestReport,
    SourceAssertion,
    read_assertion,
)

__all__ = ["chain_summary"]


def chain_summary(report: ManifestReport, *, namespace: str) -> list[dict[str, Any]]:
    """One entry per manifest, the file's own first; empty when the file has none."""
    summary = []
    for link in report.chain:
        entry: dict[str, Any] = {
            "manifest": link.label, "title": link.title,
            "claim_generator": link.claim_generator, "signer": link.signature_issuer,
            "signed_at": link.signature_time,
            "actions": [a.get("action") for a in link.actions],
            "ingredient_failures": link.ingredient_failures,
            "render_id": None, "source_watermark_ids": []}
        try:
            ledger = read_assertion(link.assertions, LedgerAssertion, namespace=namespace)
            source = read_assertion(link.assertions, SourceAssertion, namespace=namespace)
        except MalformedAssertion as exc:
            entry["malformed"] = str(exc)
        else:
            entry["render_id"] = ledger.render_id if ledger else None
            entry["source_watermark_ids"] = list(source.watermark_render_ids) if source else []
        summary.append(entry)
    return summary
