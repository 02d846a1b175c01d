"""Consent gate latency: p50/p99 of `authorize` with 100k grants in SQLite (target p99 ≤ 2 ms).

The registry is filled through the ORM in bulk (10 grants per performer, a mix of
languages, productions and expiry); each measured call is a full decision: grant
lookup, per-grant checks, atomic budget reservation, the signed ledger entry and
the commit.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from consent.models import GrantTerms, RenderRequest, SignedGrant, Use
from consent.registry import GrantRow, PerformerRow
from consent.signing import SigningKey
from likeness.settings import load_settings
from likeness.studio import Studio, init_studio

RESULTS = Path(__file__).with_name("results")


def fill(studio: Studio, *, grants: int, per_performer: int) -> None:
    now = datetime.now(UTC)
    key = SigningKey.generate().verify_key
    languages = ["es", "fr", "de", "pt-BR", "ja"]
    performers: list[PerformerRow] = []
    rows: list[GrantRow] = []
    for i in range(grants // per_performer):
        pid = f"p{i:06d}"
        performers.append(PerformerRow(performer_id=pid, name=pid,
                                       public_key_pem=key.pem().decode(),
                                       public_key_id=key.key_id, created_at=now))
        for j in range(per_performer):
            g = GrantTerms(performer_id=pid, uses=(Use.DUBBING, Use.LIP_SYNC),
                           languages=(languages[j % len(languages)],),
                           productions=(f"prod{j % 3}",),
                           description="benchmark grant for the consent gate latency",
                           valid_from=now - timedelta(days=1),
                           valid_until=now + timedelta(days=30 + j), max_renders=None)
            rows.append(GrantRow(grant_id=g.grant_id, performer_id=pid,
                                 document=SignedGrant(grant=g).model_dump_json(),
                                 valid_from=g.valid_from, valid_until=g.valid_until,
                                 max_renders=None, renders_used=0, registered_at=now))
    with studio.session() as session:
        session.add_all(performers)
        session.flush()
        session.add_all(rows)


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--grants", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings({"LIKENESS_HOME": tmp})
        init_studio(settings, studio_name="bench")
        studio = Studio(load_settings({"LIKENESS_HOME": tmp}))
        t0 = time.perf_counter()
        fill(studio, grants=args.grants, per_performer=10)
        fill_s = time.perf_counter() - t0
        rng = random.Random(7)
        performers = args.grants // 10
        timings_ms: list[float] = []
        allowed = 0
        for i in range(args.calls):
            pid = f"p{rng.randrange(performers):06d}"
            lang = ["es", "fr", "de", "it"][i % 4]
            request = RenderRequest(performer_id=pid, uses=(Use.DUBBING,), language=lang,
                                    production=f"prod{i % 3}")
            t = time.perf_counter()
            decision = studio.authorize(request)
            timings_ms.append((time.perf_counter() - t) * 1000)
            allowed += decision.allowed
        studio.close()
    timings_ms.sort()
    p50 = statistics.median(timings_ms)
    p99 = timings_ms[int(len(timings_ms) * 0.99) - 1]
    result = {"grants": args.grants, "calls": args.calls, "allowed": allowed,
              "fill_seconds": round(fill_s, 2), "p50_ms": round(p50, 3),
              "p99_ms": round(p99, 3), "target_p99_ms": 2.0, "meets_target": p99 <= 2.0}
    print(f"consent gate, {args.grants:,} grants in SQLite, {args.calls} decisions "
          f"({allowed} allowed)")
    print(f"  authorize p50 {p50:.3f} ms   p99 {p99:.3f} ms   "
          f"(target p99 ≤ 2 ms: {'met' if p99 <= 2 else 'MISSED'}; p99/target "
          f"{p99 / 2.0:.2f})")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "consent.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
