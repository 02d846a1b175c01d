"""Soft-decision decoding of the payload codeword, with a stated false-positive bound.

Why: the periodic-tile carrier delivers soft bits whose errors sit where the
reliability is low. Errors-only Reed-Solomon decoding (payload.decode) fails once
more than four of the 18 bytes hold a bit error, which at 0.95 bit accuracy is
common. Marking the least reliable bytes as erasures (a Chase/GMD-style list of
0, 2, 4, 6 or 8 erasures) corrects up to eight bad bytes when they are the weak ones.

The price is that a random word decodes more easily with erasures (with eight,
every word decodes to *some* codeword and only the 16-bit check is left). So an
erasure decode is accepted only if the decoded codeword also agrees with the
erased soft bits: t = sum(s_i c_i) / sqrt(sum(s_i^2)) over the erased positions
must reach ERASURE_AGREEMENT[f]. For an unmarked input the erased bits' signs are
independent of the codeword (which the RS decoder computed from the other bytes)
and of the magnitudes that chose them, so by Hoeffding P(t >= tau) <= exp(-tau^2/2).
`false_positive_per_attempt` adds up, per erasure count, the chance that a random
word is within the decoding radius of a codeword, times 2**-16 for the check, times
that bound.

Where the ladder fails, ordered-statistics decoding of the code's binary image
(provenance.watermark.payload_osd) looks for a valid payload at a small *soft distance*
(the summed reliability of the bits it disagrees with): what a low-bitrate codec leaves
(weak wrong bits scattered over many bytes) and the ladder cannot decode. Its own
bound (5.0e-11, from the exact distribution of that distance for unmarked input) is
added; the total is about 6.6e-10 per attempt (tests/provenance/watermark pin it below
1e-9).
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
from reedsolo import ReedSolomonError, RSCodec

from provenance.watermark import payload, payload_osd

# Erasure count -> the agreement t the erased soft bits must reach (see above).
ERASURE_AGREEMENT: dict[int, float] = {0: 0.0, 2: 2.0, 4: 3.0, 6: 4.0, 8: 5.0}
_CODEC = RSCodec(payload.PARITY_BYTES)
_MESSAGE_BYTES = payload.RENDER_ID_BYTES + payload.CHECK_BYTES


def _binomial_tail_at_least(agree: int, n: int) -> float:
    return sum(math.comb(n, k) for k in range(agree, n + 1)) / float(2**n)


def _info(codeword_bits: np.ndarray, soft: np.ndarray, corrected: int) -> payload.PayloadInfo:
    signs = codeword_bits.astype(np.float64) * 2.0 - 1.0
    agree = int(np.count_nonzero((soft > 0) == (codeword_bits == 1)))
    scale = float(np.mean(np.abs(soft)))
    margin = float(np.mean(signs * soft) / scale) if scale > 0 else 0.0
    return payload.PayloadInfo(
        valid=True, bit_accuracy=agree / payload.CODEWORD_BITS, margin=margin,
        corrected_bytes=corrected,
        confidence=1.0 - _binomial_tail_at_least(agree, payload.CODEWORD_BITS))


_NOTHING = payload.PayloadInfo(valid=False, bit_accuracy=0.0, margin=0.0, corrected_bytes=0,
                               confidence=0.0)


def decode_soft(soft_bits: np.ndarray) -> tuple[int | None, payload.PayloadInfo]:
    """The render id behind 144 soft bits (positive = 1), or None; see the module doc."""
    soft = np.asarray(soft_bits, dtype=np.float64).reshape(-1)
    if soft.size != payload.CODEWORD_BITS or not np.all(np.isfinite(soft)) \
            or not np.any(soft):
        return None, _NOTHING
    found = erasure_ladder(soft)
    if found is None:
        nearest = payload_osd.decode(soft)
        if nearest is None:
            return None, _NOTHING
        hard = (soft > 0).astype(np.uint8)
        found = (*nearest, int(np.count_nonzero(
            (hard != nearest[1]).reshape(-1, 8).any(axis=1))))
    render_id, codeword, corrected = found
    return render_id, _info(codeword, soft, corrected)


def erasure_ladder(soft: np.ndarray) -> tuple[int, np.ndarray, int] | None:
    """(render id, codeword bits, corrected bytes) from Reed-Solomon decoding with 0-8
    of the weakest bytes erased, each erasure decode checked against the erased soft
    bits (module doc), or None."""
    received = bytearray(np.packbits((soft > 0).astype(np.uint8)).tobytes())
    weakest = np.argsort(np.abs(soft).reshape(payload.CODEWORD_BYTES, 8).min(axis=1),
                         kind="stable")
    for erased, tau in ERASURE_AGREEMENT.items():
        positions = [int(i) for i in weakest[:erased]]
        try:
            message, _, errata = _CODEC.decode(bytearray(received),
                                               erase_pos=positions or None)
        except ReedSolomonError:
            continue
        render_id = int.from_bytes(bytes(message[:payload.RENDER_ID_BYTES]), "big")
        codeword = payload.encode(render_id)
        if not np.array_equal(np.packbits(codeword)[:_MESSAGE_BYTES],
                              np.frombuffer(bytes(message), dtype=np.uint8)):
            continue  # the 16-bit check does not match the id
        if erased:
            bits = np.concatenate([np.arange(8 * i, 8 * i + 8) for i in positions])
            s = soft[bits]
            t = float(np.sum(s * (codeword[bits] * 2.0 - 1.0)) / np.sqrt(np.sum(s * s)))
            if t < tau:
                continue
        return render_id, codeword, len(errata)
    return None


@cache
def false_positive_per_attempt() -> float:
    """Upper estimate of P(decode_soft returns an id) for soft bits without a mark."""
    total = 0.0
    n = payload.CODEWORD_BYTES
    for erased, tau in ERASURE_AGREEMENT.items():
        radius = (payload.PARITY_BYTES - erased) // 2
        kept = n - erased
        ball = sum(math.comb(kept, i) * 255**i for i in range(radius + 1))
        near_codeword = min(1.0, ball * 256.0**_MESSAGE_BYTES / 256.0**kept)
        agreement = math.exp(-tau * tau / 2) if erased else 1.0
        total += near_codeword * 2.0**-16 * agreement
    return total + payload_osd.false_positive_per_attempt()
