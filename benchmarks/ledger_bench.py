"""Ledger throughput: appends/s (signed, hash-chained entries in SQLite) and full audit
verification entries/s over 100k entries (target ≥ 100k entries/s verify)."""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from likeness.settings import load_settings
from likeness.studio import Studio, init_studio
from provenance.ledger.log import sign_tree_head, verify_ledger

RESULTS = Path(__file__).with_name("results")
BATCH = 1000


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=100_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        init_studio(load_settings({"LIKENESS_HOME": tmp}), studio_name="bench")
        studio = Studio(load_settings({"LIKENESS_HOME": tmp}))
        t0 = time.perf_counter()
        for start in range(0, args.entries, BATCH):
            with studio.session() as session:
                for i in range(start, min(args.entries, start + BATCH)):
                    studio.ledger.record(session, "decision", {
                        "render_id": f"{i:016x}", "allowed": True, "performer_id": "p",
                        "grant_ids": [f"grant_{i:032x}"]})
        append_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        with studio.session() as session:
            sign_tree_head(session, studio.signing_key)
        head_s = time.perf_counter() - t0
        single = []
        for _ in range(50):
            t = time.perf_counter()
            with studio.session() as session:
                studio.ledger.record(session, "decision", {"render_id": "ff" * 8})
            single.append(time.perf_counter() - t)
        t0 = time.perf_counter()
        with studio.session() as session:
            report = verify_ledger(session, studio.verify_key)
        verify_s = time.perf_counter() - t0
        studio.close()
    result = {
        "entries": args.entries,
        "append_per_s_batched": round(args.entries / append_s),
        "append_per_s_one_transaction_each": round(len(single) / sum(single)),
        "tree_head_seconds": round(head_s, 3),
        "verify_seconds": round(verify_s, 3),
        "verify_entries_per_s": round(report.entries / verify_s),
        "target_verify_entries_per_s": 100_000,
    }
    print(f"ledger, {args.entries:,} entries (SQLite)")
    print(f"  append   {result['append_per_s_batched']:>9,}/s batched ({BATCH}/transaction), "
          f"{result['append_per_s_one_transaction_each']:,}/s one transaction each")
    print(f"  sign tree head over all entries  {head_s * 1000:.0f} ms")
    print(f"  verify   {result['verify_entries_per_s']:>9,} entries/s "
          f"(target 100,000/s: ratio {result['verify_entries_per_s'] / 100_000:.2f})")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ledger.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
