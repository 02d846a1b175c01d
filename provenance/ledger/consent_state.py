"""What the ledger says about consent: which grants were revoked, how many renders each
grant has reserved.

The gate decides revocation and budget from this, not only from the registry rows: a
deleted revocation row or a `renders_used` reset to 0 changes nothing here, because
the `grant_revoked`, `decision` and `render_failed` entries are hash-chained and
covered by signed tree heads (deleting them is what `audit verify` catches).

Reading the whole ledger per decision would cost milliseconds at 100k entries, so the
state is kept per database and brought up to date with one range scan of the entries
appended since the last call (usually one or two).
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.orm import Session

CONSENT_KINDS = ("decision", "grant_revoked", "render_failed")
_SCAN = text("SELECT seq, kind, body FROM ledger_entries WHERE seq > :after "
             "AND kind IN ('decision', 'grant_revoked', 'render_failed') ORDER BY seq")


@dataclass
class LedgerConsentState:
    """Revoked grant ids and reservations per grant, as of entry ``last_seq``."""

    last_seq: int = -1
    revoked: set[str] = field(default_factory=set)
    reserved: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    _render_grants: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _released: set[str] = field(default_factory=set)

    def is_revoked(self, grant_id: str) -> bool:
        return grant_id in self.revoked

    def reserved_by(self, grant_id: str) -> int:
        return self.reserved.get(grant_id, 0)

    def apply(self, seq: int, kind: str, body: str) -> None:
        payload = json.loads(body)["payload"]
        if kind == "grant_revoked":
            self.revoked.add(str(payload.get("grant_id")))
        elif kind == "decision":
            rid = payload.get("render_id")
            if payload.get("allowed") and rid:
                grants = tuple(payload.get("grant_ids") or ())
                self._render_grants[rid] = grants
                for gid in grants:
                    self.reserved[gid] += 1
        elif kind == "render_failed" and payload.get("released"):
            rid = payload.get("render_id")
            if rid in self._render_grants and rid not in self._released:
                self._released.add(rid)
                for gid in self._render_grants[rid]:
                    self.reserved[gid] -= 1
        self.last_seq = seq


_states: dict[str, LedgerConsentState] = {}
_lock = threading.Lock()


def consent_state(session: Session) -> LedgerConsentState:
    """The ledger's consent state, brought up to date inside ``session``'s transaction."""
    key = str(session.get_bind().url)
    with _lock:
        state = _states.setdefault(key, LedgerConsentState())
        rows = session.execute(_SCAN, {"after": state.last_seq}).all()
        for seq, kind, body in rows:
            state.apply(seq, kind, body)
        return state


def scan_consent_state(session: Session) -> LedgerConsentState:
    """A fresh state read from every entry (for audits: no cache to trust)."""
    state = LedgerConsentState()
    for seq, kind, body in session.execute(_SCAN, {"after": -1}).all():
        state.apply(seq, kind, body)
    return state


def forget_cached_states() -> None:
    """Drop the per-database caches (a test that rewrites a ledger under the same URL)."""
    with _lock:
        _states.clear()
