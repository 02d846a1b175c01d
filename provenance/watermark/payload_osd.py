"""Ordered-statistics decoding of the payload's binary image, with a radius that bounds
false positives whatever the search found.

Why: the payload's Reed-Solomon code corrects *bytes*, and the erasure ladder of
video_softdecode.decode_soft helps only while the wrong bytes are the weakest ones.
Low-bitrate codecs leave a different pattern: one wrong bit in each of five to nine
bytes, those bits weak but not always the weakest of their bytes (measured on the
audio mark: Opus 24 kbit/s on 20 s of real speech reads 5-7 wrong bits in 5-7 bytes at
the right geometry, which the ladder cannot decode). RS over GF(2**8) is linear, and so
is its 144-bit image over GF(2): a binary (144, 80) code. Ordered-statistics decoding
(Fossorier and Lin, IEEE Trans. Inf. Theory 1995) re-encodes a codeword from the 80
most reliable independent bits and tries flipping one or two of them (3,241
candidates), which finds the codeword whenever at most two errors sit among those 80;
scattered weak errors sit among the other 64.

Acceptance: a candidate counts only if it differs from the hard decisions in at most
`RADIUS` bits (a bit with soft value 0 counts as differing) and is a valid payload
(its 16-bit check matches its id). For soft bits without a mark (signs independent and
fair), the chance that *any* of the 2**64 valid payloads lies that close is at most
2**64 * V(144, RADIUS) / 2**144 (`false_positive_per_attempt`; V is the Hamming ball's
volume), independent of how the search was steered, so the search can use the
magnitudes freely. RADIUS 9 gives 5.0e-11 per attempt.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
from reedsolo import RSCodec

from provenance.watermark import payload

RADIUS = 9
_MESSAGE_BITS = 8 * (payload.RENDER_ID_BYTES + payload.CHECK_BYTES)  # 80
_N = payload.CODEWORD_BITS  # 144


@cache
def _generator() -> np.ndarray:
    """(80, 144) binary generator of the payload code: row i is the codeword of the
    message with only bit i set (RS encoding is GF(2)-linear in the message bits)."""
    codec = RSCodec(payload.PARITY_BYTES)
    rows = np.zeros((_MESSAGE_BITS, _N), dtype=np.uint8)
    for bit in range(_MESSAGE_BITS):
        message = np.zeros(_MESSAGE_BITS, dtype=np.uint8)
        message[bit] = 1
        word = bytes(codec.encode(bytes(np.packbits(message))))
        rows[bit] = np.unpackbits(np.frombuffer(word, dtype=np.uint8))
    return rows


@cache
def _pairs() -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(_MESSAGE_BITS, 1)


def false_positive_per_attempt() -> float:
    """P(decode returns an id) for soft bits without a mark: 2**64 valid payloads, each
    within RADIUS of a uniform random word with probability V(144, RADIUS) / 2**144."""
    ball = sum(math.comb(_N, i) for i in range(RADIUS + 1))
    return ball * 2.0 ** (8 * payload.RENDER_ID_BYTES) / 2.0**_N


def _systematic(order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The generator with its columns in `order`, reduced so that the first 80
    independent columns (the pivots) form an identity: a message's bits then *are* the
    codeword's bits at the pivots."""
    matrix = _generator()[:, order].copy()
    pivots: list[int] = []
    for column in range(_N):
        row = len(pivots)
        if row == _MESSAGE_BITS:
            break
        below = np.flatnonzero(matrix[row:, column])
        if below.size == 0:
            continue  # dependent on the columns already taken
        if below[0]:
            matrix[[row, row + below[0]]] = matrix[[row + below[0], row]]
        others = np.flatnonzero(matrix[:, column])
        others = others[others != row]
        matrix[others] ^= matrix[row]
        pivots.append(column)
    return matrix, np.asarray(pivots)


def decode(soft_bits: np.ndarray) -> tuple[int, np.ndarray] | None:
    """(render id, codeword bits) of the valid payload nearest the soft bits among the
    order-2 candidates within RADIUS bits of the hard decisions, or None."""
    soft = np.asarray(soft_bits, dtype=np.float64).reshape(-1)
    if soft.size != _N or not np.all(np.isfinite(soft)):
        return None
    reliability = np.abs(soft)
    order = np.argsort(-reliability, kind="stable")
    matrix, pivots = _systematic(order)
    hard = (soft[order] > 0).astype(np.uint8)
    unknown = reliability[order] == 0.0  # no evidence: always counted as a difference
    base = ((hard[pivots] @ matrix) % 2) ^ hard  # the re-encoded word's differences
    first, second = _pairs()
    flips = np.concatenate([np.zeros((1, _N), dtype=np.uint8), matrix,
                            matrix[first] ^ matrix[second]])
    differences = flips ^ base
    distance = (differences | unknown).sum(axis=1)
    near = np.flatnonzero(distance <= RADIUS)
    if near.size == 0:
        return None
    cost = differences[near] @ reliability[order]
    for index in near[np.argsort(cost, kind="stable")]:
        codeword = np.empty(_N, dtype=np.uint8)
        codeword[order] = hard ^ differences[index]
        render_id = int.from_bytes(np.packbits(codeword[: 8 * payload.RENDER_ID_BYTES])
                                   .tobytes(), "big")
        if np.array_equal(payload.encode(render_id), codeword):
            return render_id, codeword
    return None
