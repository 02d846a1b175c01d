"""Ordered-statistics decoding of the payload's binary image, accepted by a soft
distance whose threshold bounds false positives whatever the search found.

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

Acceptance: a candidate counts only if it is a valid payload (its 16-bit check matches
its id) and its *soft distance*, the summed reliability |s_i| of the bits it disagrees
with, is below a threshold set from the reliabilities alone. For soft bits without a
mark the signs are fair and independent of the magnitudes, so a fixed codeword
disagrees with a uniformly random subset of the bits: its soft distance is distributed
as sum(r_i B_i), B_i fair coins. The threshold is the largest distance at which 2**64
(the valid payloads) times that sum's lower tail stays below `FALSE_POSITIVE_BOUND`,
which bounds the chance that *any* valid payload passes, however the search was steered
(so it may use the magnitudes freely). The tail is computed exactly by convolution over
the magnitudes rounded down to `LEVELS` steps (capped at their 98th percentile); both
only make the computed tail larger, so the bound stays conservative. A bit without
evidence weighs nothing either way, and evidence on too few bits can never pass.

Why a soft distance and not a Hamming radius (the first version accepted within 9 bits
of the hard decisions, at the same 5.0e-11): codecs leave their errors on weak bits,
which a count of wrong bits weighs like strong ones. On Gaussian soft bits of amplitude
1.4 (about 8 % of the bits wrong) the true codeword passed the radius on 59 of 200
draws and the soft distance on 176.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
from reedsolo import RSCodec

from provenance.watermark import payload

FALSE_POSITIVE_BOUND = 5e-11  # per attempt, for soft bits without a mark
LEVELS = 128  # steps of the tail computation, per the magnitudes' 98th percentile
_CAP_PERCENTILE = 98.0
_MESSAGE_BITS = 8 * (payload.RENDER_ID_BYTES + payload.CHECK_BYTES)  # 80
_N = payload.CODEWORD_BITS  # 144
_VALID_PAYLOADS = 2.0 ** (8 * payload.RENDER_ID_BYTES)


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
    """P(decode returns an id) for soft bits without a mark (see the module doc)."""
    return FALSE_POSITIVE_BOUND


def soft_distance_threshold(reliability: np.ndarray) -> float:
    """The soft distance below which a valid payload is accepted: any valid payload
    gets that close to random signs with probability at most FALSE_POSITIVE_BOUND."""
    r = np.asarray(reliability, dtype=np.float64).reshape(-1)
    cap = float(np.percentile(r, _CAP_PERCENTILE)) if r.size else 0.0
    if cap <= 0.0:
        return 0.0
    scale = LEVELS / cap
    steps = np.floor(np.minimum(r, cap) * scale).astype(np.int64)
    steps = steps[steps > 0]
    mean, spread = steps.sum() / 2.0, math.sqrt(float(np.sum(steps**2))) / 2.0
    # The threshold lies far below the mean (by Hoeffding at least 11.7 spreads for a
    # bound of ~1e-30 per payload), so the tail is first computed only up to 3 spreads
    # below it; only if the bound still holds there is it computed up to the mean.
    for limit in (int(mean - 3.0 * spread), int(mean)):
        if limit < 0:
            continue
        largest = _largest_sum_within_bound(steps, limit)
        if largest is None:
            return 0.0
        if largest < limit:
            # sum(r_i B_i) <= w implies sum(steps_i B_i) <= floor(w * scale): accept w
            # below (largest + 1) / scale.
            return (largest + 1) / scale
    return (int(mean) + 1) / scale  # not reached for 144 bits: the tail at the mean is ~1/2


def _largest_sum_within_bound(steps: np.ndarray, limit: int) -> int | None:
    """The largest k <= limit with 2**64 * P(sum(steps_i B_i) <= k) <= the bound (None
    if even k = 0 exceeds it), from the exact distribution truncated at `limit`."""
    tail = np.zeros(limit + 1)
    tail[0] = 1.0
    for step in steps:
        if step <= limit:
            shifted = np.zeros_like(tail)
            shifted[step:] = tail[: limit + 1 - step]
            tail = 0.5 * (tail + shifted)
        else:
            tail = 0.5 * tail
    within = np.cumsum(tail) * _VALID_PAYLOADS <= FALSE_POSITIVE_BOUND
    if not within[0]:
        return None
    return int(np.flatnonzero(within)[-1])


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
    order-2 candidates, if its soft distance is below the threshold; else None."""
    soft = np.asarray(soft_bits, dtype=np.float64).reshape(-1)
    if soft.size != _N or not np.all(np.isfinite(soft)):
        return None
    reliability = np.abs(soft)
    threshold = soft_distance_threshold(reliability)
    if threshold <= 0.0:
        return None
    order = np.argsort(-reliability, kind="stable")
    matrix, pivots = _systematic(order)
    hard = (soft[order] > 0).astype(np.uint8)
    base = ((hard[pivots] @ matrix) % 2) ^ hard  # the re-encoded word's differences
    # Soft distances of base ^ (no row | row i | rows i and j), all at once: with
    # y = 1 - 2x, the distance of x is (R - sum(r * y)) / 2 and y of an XOR is the
    # product of the y's, so the pairs' sums are one (80 x 144) (144 x 80) product.
    signs = 1.0 - 2.0 * matrix
    weights = reliability[order] * (1.0 - 2.0 * base)
    total = float(reliability.sum())
    # einsum's own loops, not BLAS: a product this small stalls for milliseconds when
    # BLAS threads meet busy cores.
    single = (total - np.einsum("ik,k->i", signs, weights)) / 2.0
    pair = (total - np.einsum("ik,jk->ij", signs * weights, signs)) / 2.0
    first, second = _pairs()
    distance = np.concatenate([[(total - weights.sum()) / 2.0], single, pair[first, second]])
    near = np.flatnonzero(distance < threshold)
    for index in near[np.argsort(distance[near], kind="stable")]:
        difference = base.copy()
        if 1 <= index <= _MESSAGE_BITS:
            difference ^= matrix[index - 1]
        elif index > _MESSAGE_BITS:
            pair_index = index - 1 - _MESSAGE_BITS
            difference ^= matrix[first[pair_index]] ^ matrix[second[pair_index]]
        codeword = np.empty(_N, dtype=np.uint8)
        codeword[order] = hard ^ difference
        render_id = int.from_bytes(np.packbits(codeword[: 8 * payload.RENDER_ID_BYTES])
                                   .tobytes(), "big")
        if np.array_equal(payload.encode(render_id), codeword):
            return render_id, codeword
    return None
