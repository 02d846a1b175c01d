"""RFC 6962 / RFC 9162 Merkle tree hashing, audit paths and consistency proofs.

Why this module exists: the ledger proves two things to an outside verifier —
that a given entry is in the log (inclusion) and that a later log extends an
earlier one without rewriting it (consistency). Both rest on the exact tree
shape and domain-separated hashing of RFC 9162 §2.1, so a proof we emit can be
checked by any independent Certificate-Transparency-style verifier.

Shape: the tree over ``n`` leaves splits at ``k``, the largest power of two
below ``n``. Level by level this is the same as pairing neighbours and carrying
an unpaired last node up unchanged, which is how everything here is computed:
iteratively, with ``hashlib`` and no per-leaf recursion.

Verifiers (`verify_inclusion`, `verify_consistency`) return nothing and raise
`IntegrityFailure`; there is no boolean to forget to check.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from likeness.errors import BadInput, IntegrityFailure

HASH_SIZE_BYTES = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""Root of the empty tree: SHA-256 of the empty string (RFC 9162 §2.1.1)."""

_RAGGED_CACHE_MAX_ENTRIES = 4096

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE_BYTES",
    "MerkleTree",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_from_leaf_hashes",
    "verify_consistency",
    "verify_inclusion",
]


def leaf_hash(entry: bytes) -> bytes:
    """SHA-256(0x00 || entry): the 0x00 prefix keeps a leaf from posing as a node."""
    return hashlib.sha256(LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): an interior node over two subtree hashes."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _largest_power_of_two_below(size: int) -> int:
    """The split point ``k`` of RFC 9162: largest power of two strictly below ``size`` (>= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


def _pair_level(level: Sequence[bytes]) -> list[bytes]:
    """Hash neighbours pairwise; an unpaired last node is dropped (callers decide)."""
    sha256 = hashlib.sha256
    prefix = NODE_PREFIX
    return [sha256(prefix + left + right).digest()
            for left, right in zip(level[0::2], level[1::2], strict=False)]


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """Merkle Tree Hash of the given leaf hashes (RFC 9162 §2.1.1), level by level.

    Linear in the number of leaves and only one level is alive at a time, so a
    100k-entry ledger is re-rooted in well under a second.
    """
    level = list(hashes)
    if not level:
        return EMPTY_ROOT
    while len(level) > 1:
        carried = level[-1] if len(level) % 2 else None
        level = _pair_level(level)
        if carried is not None:
            level.append(carried)
    return level[0]


class MerkleTree:
    """An append-only Merkle tree that keeps every *complete* subtree hash.

    ``_levels[h][j]`` is the hash of leaves ``[j * 2**h, (j + 1) * 2**h)``; only
    full subtrees are stored, so appending never rewrites a stored node and
    costs O(1) hashes amortized. Hashes of ragged right-edge subtrees (for a
    size that is not a power of two) are folded from O(log n) stored nodes on
    demand and memoised: leaves never change, so a range's hash never does.
    Roots and proofs for any earlier tree size are available too, which is what
    signed tree heads and consistency proofs need.
    """

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        level = [_checked_hash(value, what="leaf hash") for value in leaf_hashes]
        self._levels: list[list[bytes]] = [level]
        while len(level) > 1:
            level = _pair_level(level)
            self._levels.append(level)
        self._ragged: dict[tuple[int, int], bytes] = {}

    @classmethod
    def from_entries(cls, entries: Iterable[bytes]) -> MerkleTree:
        """Build a tree from raw entries (each hashed with `leaf_hash`)."""
        return cls(leaf_hash(entry) for entry in entries)

    def __len__(self) -> int:
        return len(self._levels[0])

    @property
    def size(self) -> int:
        """Number of leaves."""
        return len(self._levels[0])

    def leaf_hash_at(self, index: int) -> bytes:
        """The stored leaf hash at ``index``."""
        self._check_index(index=index, tree_size=self.size)
        return self._levels[0][index]

    def append(self, leaf: bytes) -> int:
        """Append one leaf *hash*; returns its index. O(1) hashes amortized."""
        value = _checked_hash(leaf, what="leaf hash")
        levels = self._levels
        levels[0].append(value)
        height = 0
        while len(levels[height]) % 2 == 0:
            parent = node_hash(levels[height][-2], levels[height][-1])
            height += 1
            if height == len(levels):
                levels.append([])
            levels[height].append(parent)
        return len(levels[0]) - 1

    def append_entry(self, entry: bytes) -> int:
        """Hash a raw entry with `leaf_hash` and append it; returns its index."""
        return self.append(leaf_hash(entry))

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append several leaf hashes in order."""
        for value in leaf_hashes:
            self.append(value)

    def root(self) -> bytes:
        """Root of the current tree: fold the unpaired node of each level, O(log n)."""
        accumulator: bytes | None = None
        for level in self._levels:
            if len(level) % 2:
                accumulator = level[-1] if accumulator is None else node_hash(
                    level[-1], accumulator)
        return EMPTY_ROOT if accumulator is None else accumulator

    def root_at(self, tree_size: int) -> bytes:
        """Root of the tree made of the first ``tree_size`` leaves."""
        self._check_size(tree_size=tree_size)
        return EMPTY_ROOT if tree_size == 0 else self._subtree_hash(0, tree_size)

    def inclusion_proof(self, index: int, tree_size: int | None = None) -> list[bytes]:
        """Audit path of leaf ``index`` in the tree of ``tree_size`` leaves (RFC 9162 §2.1.3.1).

        Ordered from the leaf's sibling up to the root's child, as RFC 9162 lists it.
        """
        size = self.size if tree_size is None else tree_size
        self._check_size(tree_size=size)
        self._check_index(index=index, tree_size=size)
        path: list[bytes] = []
        start, end = 0, size
        while end - start > 1:
            middle = start + _largest_power_of_two_below(end - start)
            if index < middle:
                path.append(self._subtree_hash(middle, end))
                end = middle
            else:
                path.append(self._subtree_hash(start, middle))
                start = middle
        path.reverse()
        return path

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """Proof that the first ``old_size`` leaves are a prefix of the first ``new_size``.

        RFC 9162 §2.1.4.1 SUBPROOF, unrolled: the walk goes down the new tree towards
        the old tree's right edge, collecting the sibling subtree at each step.
        An empty old tree or equal sizes give an empty proof.
        """
        size = self.size if new_size is None else new_size
        self._check_size(tree_size=size)
        if not 0 <= old_size <= size:
            raise BadInput(f"old tree size {old_size} is outside 0..{size}")
        if old_size in (0, size):
            return []
        proof: list[bytes] = []
        start, end, remaining_old = 0, size, old_size
        old_is_complete_subtree = True
        while remaining_old != end - start:
            middle = start + _largest_power_of_two_below(end - start)
            if remaining_old <= middle - start:
                proof.append(self._subtree_hash(middle, end))
                end = middle
            else:
                proof.append(self._subtree_hash(start, middle))
                remaining_old -= middle - start
                start = middle
                old_is_complete_subtree = False
        if not old_is_complete_subtree:
            proof.append(self._subtree_hash(start, end))
        proof.reverse()
        return proof

    def _subtree_hash(self, start: int, end: int) -> bytes:
        """Hash of leaves ``[start, end)``, a range on the RFC 9162 recursion.

        Such a range is either a full aligned subtree (stored) or ends at a tree
        edge; the latter is the fold of the full subtrees given by the set bits of
        its size, largest first.
        """
        span = end - start
        if span & (span - 1) == 0:
            height = span.bit_length() - 1
            return self._levels[height][start >> height]
        cached = self._ragged.get((start, end))
        if cached is not None:
            return cached
        pieces: list[bytes] = []
        position, remaining = start, span
        while remaining:
            height = remaining.bit_length() - 1
            pieces.append(self._levels[height][position >> height])
            position += 1 << height
            remaining -= 1 << height
        accumulator = pieces[-1]
        for piece in reversed(pieces[:-1]):
            accumulator = node_hash(piece, accumulator)
        if len(self._ragged) >= _RAGGED_CACHE_MAX_ENTRIES:
            self._ragged.clear()
        self._ragged[(start, end)] = accumulator
        return accumulator

    def _check_size(self, *, tree_size: int) -> None:
        if not 0 <= tree_size <= self.size:
            raise BadInput(f"tree size {tree_size} is outside 0..{self.size}")

    @staticmethod
    def _check_index(*, index: int, tree_size: int) -> None:
        if not 0 <= index < tree_size:
            raise BadInput(f"leaf index {index} is outside a tree of {tree_size} leaves")


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """Audit path for leaf ``index`` of the tree over ``leaf_hashes`` (RFC 9162 §2.1.3.1)."""
    return MerkleTree(leaf_hashes).inclusion_proof(index)


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """Consistency proof from the first ``old_size`` leaves to all of ``leaf_hashes``."""
    return MerkleTree(leaf_hashes).consistency_proof(old_size)


def verify_inclusion(*, leaf_hash: bytes, index: int, tree_size: int,
                     proof: Sequence[bytes], root: bytes) -> None:
    """Check an audit path against a root (RFC 9162 §2.1.3.2); raise `IntegrityFailure`.

    The step numbers below are the RFC's. As in the RFC, ``tree_size`` is only
    checked as far as it shapes the path: take it from a signed tree head.
    """
    _checked_hash(leaf_hash, what="leaf hash", error=IntegrityFailure)
    _checked_hash(root, what="root hash", error=IntegrityFailure)
    path = [_checked_hash(p, what="proof element", error=IntegrityFailure) for p in proof]
    # 1. The index must lie inside the tree.
    if not 0 <= index < tree_size:
        raise IntegrityFailure(
            f"inclusion proof: leaf index {index} is outside a tree of {tree_size} leaves")
    # 2-3. Walk from the leaf with fn (our position) and sn (last position).
    fn, sn = index, tree_size - 1
    running = leaf_hash
    for sibling in path:
        # 4a. A path longer than the tree is deep is forged.
        if sn == 0:
            raise IntegrityFailure("inclusion proof is longer than the tree is deep")
        # 4b. Right child, or rightmost node with no sibling on its level.
        if fn & 1 or fn == sn:
            running = node_hash(sibling, running)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            running = node_hash(running, sibling)
        # 4c.
        fn >>= 1
        sn >>= 1
    # 5. All levels consumed and the root reproduced.
    if sn != 0:
        raise IntegrityFailure("inclusion proof is shorter than the tree is deep")
    if running != root:
        raise IntegrityFailure(
            f"inclusion proof for leaf {index} of {tree_size} does not reproduce the root")


def verify_consistency(*, old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> None:
    """Check that ``new_root`` extends ``old_root`` (RFC 9162 §2.1.4.2); raise on mismatch.

    Edge cases outside the RFC's ``0 < old < new``: equal sizes need an empty
    proof and equal roots; an empty old tree needs an empty proof and the
    empty-tree root (every tree extends the empty one). Both sizes must come
    from signed tree heads: the proof binds the roots, the sizes only by shape.
    """
    _checked_hash(old_root, what="old root", error=IntegrityFailure)
    _checked_hash(new_root, what="new root", error=IntegrityFailure)
    path = [_checked_hash(p, what="proof element", error=IntegrityFailure) for p in proof]
    if not 0 <= old_size <= new_size:
        raise IntegrityFailure(
            f"consistency proof: old size {old_size} does not precede new size {new_size}")
    if old_size == new_size or old_size == 0:
        if path:
            raise IntegrityFailure("consistency proof must be empty for this pair of sizes")
        expected_old = new_root if old_size == new_size else EMPTY_ROOT
        if old_root != expected_old:
            raise IntegrityFailure(f"old root does not match a tree of {old_size} leaves")
        return
    # 1. A non-trivial consistency proof is never empty.
    if not path:
        raise IntegrityFailure("consistency proof is empty")
    # 2. If the old tree is a complete subtree, its root is the first node.
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    # 3-4. fn/sn track the old and new right edges; skip levels where the old
    #      tree's edge is a right child.
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5.
    old_running = new_running = path[0]
    # 6.
    for node in path[1:]:
        # 6a.
        if sn == 0:
            raise IntegrityFailure("consistency proof is longer than the tree is deep")
        # 6b.
        if fn & 1 or fn == sn:
            old_running = node_hash(node, old_running)
            new_running = node_hash(node, new_running)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            new_running = node_hash(new_running, node)
        # 6c.
        fn >>= 1
        sn >>= 1
    # 7.
    if sn != 0:
        raise IntegrityFailure("consistency proof is shorter than the tree is deep")
    if old_running != old_root:
        raise IntegrityFailure(
            f"consistency proof does not reproduce the old root of {old_size} leaves")
    if new_running != new_root:
        raise IntegrityFailure(
            f"consistency proof does not reproduce the new root of {new_size} leaves")


def _checked_hash(value: bytes, *, what: str,
                  error: type[BadInput] | type[IntegrityFailure] = BadInput) -> bytes:
    """Refuse anything that is not a 32-byte digest, so type slips fail loudly."""
    if not isinstance(value, bytes | bytearray | memoryview) or len(value) != HASH_SIZE_BYTES:
        raise error(f"{what} must be {HASH_SIZE_BYTES} bytes")
    return bytes(value)
