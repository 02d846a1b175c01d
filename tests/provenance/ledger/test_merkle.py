"""RFC 6962 / 9162 Merkle math: fixed vectors, a recursive reference, tampering."""

from __future__ import annotations

import hashlib

import pytest

from likeness.errors import BadInput, IntegrityFailure
from provenance.ledger.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

MAX_SIZE = 33

# Leaf inputs and roots of the Certificate Transparency reference test data
# (also used by RFC 9162 implementations); roots are for sizes 1..8.
CT_INPUTS = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
)]
CT_ROOTS = [bytes.fromhex(h) for h in (
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]
CT_PATH_0_OF_8 = [bytes.fromhex(h) for h in (
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
)]


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def hashes(n: int) -> list[bytes]:
    return [leaf_hash(f"entry-{i}".encode()) for i in range(n)]


# --- a deliberately naive reference: the RFC's recursive definitions -------------

def split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: list[bytes]) -> bytes:
    if not d:
        return sha(b"")
    if len(d) == 1:
        return d[0]
    k = split(len(d))
    return sha(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:]))


def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = split(len(d))
    if m < k:
        return ref_path(m, d[:k]) + [ref_mth(d[k:])]
    return ref_path(m - k, d[k:]) + [ref_mth(d[:k])]


def ref_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    if m == len(d):
        return [] if b else [ref_mth(d)]
    k = split(len(d))
    if m <= k:
        return ref_subproof(m, d[:k], b) + [ref_mth(d[k:])]
    return ref_subproof(m - k, d[k:], False) + [ref_mth(d[:k])]


# --- fixed vectors --------------------------------------------------------------

def test_leaf_and_node_hashes_are_domain_separated() -> None:
    assert leaf_hash(b"abc") == sha(b"\x00abc")
    assert node_hash(b"L" * 32, b"R" * 32) == sha(b"\x01" + b"L" * 32 + b"R" * 32)
    assert leaf_hash(b"") == CT_ROOTS[0]


def test_hand_derived_roots_for_1_2_3_7_leaves() -> None:
    l = hashes(7)  # noqa: E741
    h = node_hash
    assert root_from_leaf_hashes([]) == EMPTY_ROOT == sha(b"")
    assert root_from_leaf_hashes(l[:1]) == l[0]
    assert root_from_leaf_hashes(l[:2]) == h(l[0], l[1])
    assert root_from_leaf_hashes(l[:3]) == h(h(l[0], l[1]), l[2])
    left = h(h(l[0], l[1]), h(l[2], l[3]))
    right = h(h(l[4], l[5]), l[6])
    assert root_from_leaf_hashes(l) == h(left, right)
    assert inclusion_proof(l, 6) == [h(l[4], l[5]), left]
    assert inclusion_proof(l, 2) == [l[3], h(l[0], l[1]), right]


def test_certificate_transparency_reference_vectors() -> None:
    leaves = [leaf_hash(x) for x in CT_INPUTS]
    for n in range(1, 9):
        assert root_from_leaf_hashes(leaves[:n]) == CT_ROOTS[n - 1]
        assert MerkleTree(leaves[:n]).root() == CT_ROOTS[n - 1]
    assert inclusion_proof(leaves, 0) == CT_PATH_0_OF_8
    # PROOF(1, D[8]) is the same three hashes as PATH(0, D[8]).
    assert consistency_proof(leaves, 1) == CT_PATH_0_OF_8


# --- exhaustive small trees -------------------------------------------------------

def test_every_inclusion_proof_up_to_33_leaves() -> None:
    all_leaves = hashes(MAX_SIZE)
    for n in range(1, MAX_SIZE + 1):
        leaves = all_leaves[:n]
        root = root_from_leaf_hashes(leaves)
        assert root == ref_mth(leaves)
        tree = MerkleTree(leaves)
        for m in range(n):
            proof = inclusion_proof(leaves, m)
            assert proof == ref_path(m, leaves), (m, n)
            assert tree.inclusion_proof(m) == proof
            verify_inclusion(leaf_hash=leaves[m], index=m, tree_size=n, proof=proof, root=root)


def test_every_consistency_proof_up_to_33_leaves() -> None:
    all_leaves = hashes(MAX_SIZE)
    roots = [ref_mth(all_leaves[:n]) for n in range(MAX_SIZE + 1)]
    tree = MerkleTree(all_leaves)
    for n in range(1, MAX_SIZE + 1):
        leaves = all_leaves[:n]
        for m in range(0, n + 1):
            proof = consistency_proof(leaves, m)
            expected = [] if m in (0, n) else ref_subproof(m, leaves, True)
            assert proof == expected, (m, n)
            assert tree.consistency_proof(m, n) == proof
            verify_consistency(old_size=m, new_size=n, old_root=roots[m], new_root=roots[n],
                               proof=proof)


def test_incremental_tree_matches_batch_at_every_size() -> None:
    tree = MerkleTree()
    assert tree.root() == EMPTY_ROOT and len(tree) == 0
    leaves = hashes(70)
    for i, value in enumerate(leaves):
        assert tree.append(value) == i
        assert tree.root() == root_from_leaf_hashes(leaves[: i + 1])
    for size in range(71):
        assert tree.root_at(size) == ref_mth(leaves[:size])
    # Proofs against an older tree size still verify against that size's root.
    proof = tree.inclusion_proof(9, tree_size=13)
    verify_inclusion(leaf_hash=leaves[9], index=9, tree_size=13, proof=proof,
                     root=tree.root_at(13))
    assert tree.leaf_hash_at(5) == leaves[5]


def test_from_entries_hashes_raw_entries() -> None:
    tree = MerkleTree.from_entries(CT_INPUTS)
    assert tree.root() == CT_ROOTS[-1]
    tree.append_entry(b"more")
    assert tree.size == 9


# --- tampering and misuse ---------------------------------------------------------

def flip(value: bytes) -> bytes:
    return bytes([value[0] ^ 1]) + value[1:]


def test_tampered_inclusion_proofs_raise() -> None:
    leaves = hashes(21)
    root = root_from_leaf_hashes(leaves)
    index = 13
    proof = inclusion_proof(leaves, index)
    good = {"leaf_hash": leaves[index], "index": index, "tree_size": 21, "proof": proof,
            "root": root}
    verify_inclusion(**good)
    bad_cases = [
        {"leaf_hash": leaves[index + 1]},
        {"index": index + 1},
        {"index": 21},
        # Sizes are bound by the signed tree head, not the path: only a size that
        # changes the path's shape can be caught here (RFC 9162 behaviour).
        {"tree_size": 33},
        {"tree_size": 16},
        {"root": flip(root)},
        {"proof": proof[:-1]},
        {"proof": [*proof, proof[0]]},
        {"proof": [flip(proof[0]), *proof[1:]]},
        {"proof": list(reversed(proof))},
        {"proof": [proof[0][:31], *proof[1:]]},
    ]
    for change in bad_cases:
        with pytest.raises(IntegrityFailure):
            verify_inclusion(**{**good, **change})


def test_tampered_consistency_proofs_raise() -> None:
    leaves = hashes(29)
    old_root, new_root = root_from_leaf_hashes(leaves[:11]), root_from_leaf_hashes(leaves)
    proof = consistency_proof(leaves, 11)
    good = {"old_size": 11, "new_size": 29, "old_root": old_root, "new_root": new_root,
            "proof": proof}
    verify_consistency(**good)
    forked = [*leaves[:5], leaf_hash(b"rewritten"), *leaves[6:]]
    bad_cases = [
        {"old_root": flip(old_root)},
        {"new_root": flip(new_root)},
        {"new_root": root_from_leaf_hashes(forked)},
        {"old_size": 12},
        {"new_size": 16},
        {"old_size": 30},
        {"proof": []},
        {"proof": proof[:-1]},
        {"proof": [*proof, proof[-1]]},
        {"proof": [proof[0], flip(proof[1]), *proof[2:]]},
    ]
    for change in bad_cases:
        with pytest.raises(IntegrityFailure):
            verify_consistency(**{**good, **change})


def test_consistency_edge_sizes() -> None:
    leaves = hashes(8)
    root = root_from_leaf_hashes(leaves)
    verify_consistency(old_size=8, new_size=8, old_root=root, new_root=root, proof=[])
    verify_consistency(old_size=0, new_size=8, old_root=EMPTY_ROOT, new_root=root, proof=[])
    with pytest.raises(IntegrityFailure):
        verify_consistency(old_size=8, new_size=8, old_root=root, new_root=flip(root), proof=[])
    with pytest.raises(IntegrityFailure):
        verify_consistency(old_size=8, new_size=8, old_root=root, new_root=root, proof=[root])
    with pytest.raises(IntegrityFailure):
        verify_consistency(old_size=0, new_size=8, old_root=root, new_root=root, proof=[])


def test_bad_arguments_to_proof_builders_are_bad_input() -> None:
    leaves = hashes(5)
    with pytest.raises(BadInput):
        inclusion_proof(leaves, 5)
    with pytest.raises(BadInput):
        inclusion_proof([], 0)
    with pytest.raises(BadInput):
        consistency_proof(leaves, 6)
    with pytest.raises(BadInput):
        MerkleTree([b"short"])
    with pytest.raises(BadInput):
        MerkleTree(leaves).root_at(6)


def test_large_tree_root_agrees_between_batch_and_incremental() -> None:
    leaves = [leaf_hash(i.to_bytes(8, "big")) for i in range(100_003)]
    tree = MerkleTree(leaves)
    root = root_from_leaf_hashes(leaves)
    assert tree.root() == root
    index = 77_777
    verify_inclusion(leaf_hash=leaves[index], index=index, tree_size=len(leaves),
                     proof=tree.inclusion_proof(index), root=root)
    old = 65_537
    verify_consistency(old_size=old, new_size=len(leaves), old_root=tree.root_at(old),
                       new_root=root, proof=tree.consistency_proof(old))
