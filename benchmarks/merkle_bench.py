"""Merkle ledger math: what an incremental tree saves over recomputing from all leaves.

Prints a table of times and ratios measured in the same run and writes
benchmarks/results/merkle.json. Run: ``.venv/bin/python -m benchmarks.bench_merkle [N]``.
"""

from __future__ import annotations

import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.report import write_results  # noqa: E402
from provenance.ledger.merkle import (
    MerkleTree,
    inclusion_proof,
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

DEFAULT_LEAF_COUNT = 100_000
RESULTS_PATH = Path(__file__).resolve().parent / "results" / "merkle.json"


def _seconds(call: Callable[[], object], *, repeat: int) -> float:
    """Best-of-``repeat`` wall time of one call (least disturbed by other load)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


def run(leaf_count: int = DEFAULT_LEAF_COUNT) -> dict[str, object]:
    """Measure and return the figures (times in seconds, ratios unitless)."""
    leaves = [leaf_hash(i.to_bytes(8, "big")) for i in range(leaf_count)]
    index, old_size = leaf_count * 3 // 4 + 1, leaf_count // 2 + 3

    batch_root_s = _seconds(lambda: root_from_leaf_hashes(leaves), repeat=3)
    build_tree_s = _seconds(lambda: MerkleTree(leaves), repeat=3)

    def append_all() -> MerkleTree:
        tree = MerkleTree()
        for value in leaves:
            tree.append(value)
        return tree

    append_all_s = _seconds(append_all, repeat=2)
    tree = MerkleTree(leaves)
    root = tree.root()
    calls = 1000
    tree_root_s = _seconds(lambda: [tree.root() for _ in range(calls)], repeat=3) / calls
    tree_proof_s = _seconds(lambda: [tree.inclusion_proof(index) for _ in range(calls)],
                            repeat=3) / calls
    rebuild_proof_s = _seconds(lambda: inclusion_proof(leaves, index), repeat=3)
    proof = tree.inclusion_proof(index)
    verify_s = _seconds(lambda: [verify_inclusion(leaf_hash=leaves[index], index=index,
                                                  tree_size=leaf_count, proof=proof, root=root)
                                 for _ in range(calls)], repeat=3) / calls
    consistency = tree.consistency_proof(old_size)
    old_root = tree.root_at(old_size)
    consistency_s = _seconds(lambda: [verify_consistency(
        old_size=old_size, new_size=leaf_count, old_root=old_root, new_root=root,
        proof=consistency) for _ in range(calls)], repeat=3) / calls

    return {
        "leaf_count": leaf_count,
        "python": platform.python_version(),
        "batch_root_s": batch_root_s,
        "build_tree_s": build_tree_s,
        "append_per_leaf_s": append_all_s / leaf_count,
        "tree_root_s": tree_root_s,
        "tree_inclusion_proof_s": tree_proof_s,
        "rebuild_inclusion_proof_s": rebuild_proof_s,
        "verify_inclusion_s": verify_s,
        "verify_consistency_s": consistency_s,
        "ratio_incremental_root_speedup": batch_root_s / tree_root_s,
        "ratio_tree_proof_speedup": rebuild_proof_s / tree_proof_s,
        "ratio_append_vs_batch_per_leaf": (append_all_s / leaf_count) / (batch_root_s / leaf_count),
        "proof_length": len(proof),
        "consistency_proof_length": len(consistency),
    }


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    figures = run(int(args[0]) if args else DEFAULT_LEAF_COUNT)
    n = figures["leaf_count"]
    rows = [
        (f"root of {n} leaves, from scratch", f"{figures['batch_root_s'] * 1e3:9.1f} ms"),
        (f"build MerkleTree of {n} leaves", f"{figures['build_tree_s'] * 1e3:9.1f} ms"),
        ("append one leaf (amortized)", f"{figures['append_per_leaf_s'] * 1e6:9.2f} us"),
        ("root() of the incremental tree", f"{figures['tree_root_s'] * 1e6:9.2f} us"),
        ("inclusion proof from the tree", f"{figures['tree_inclusion_proof_s'] * 1e6:9.2f} us"),
        ("inclusion proof rebuilding from leaves",
         f"{figures['rebuild_inclusion_proof_s'] * 1e3:9.1f} ms"),
        ("verify inclusion", f"{figures['verify_inclusion_s'] * 1e6:9.2f} us"),
        ("verify consistency", f"{figures['verify_consistency_s'] * 1e6:9.2f} us"),
        ("ratio: incremental root speedup", f"{figures['ratio_incremental_root_speedup']:9.0f}x"),
        ("ratio: tree proof vs rebuild speedup", f"{figures['ratio_tree_proof_speedup']:9.0f}x"),
        ("ratio: append vs batch, per leaf", f"{figures['ratio_append_vs_batch_per_leaf']:9.2f}x"),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    write_results(RESULTS_PATH, figures)


if __name__ == "__main__":
    main()
