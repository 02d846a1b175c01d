"""The watermark payload: a 64-bit render id, a check, and Reed–Solomon parity.

Why this layout: the video and audio carriers both deliver *soft* bits (signed
correlations averaged over frames or segments). A byte-oriented Reed–Solomon code
corrects the few bytes that noisy carriers get wrong, and a 16-bit check over the id
makes a random or unmarked input pass decoding with negligible probability (about
5e-10 per decoding attempt: the chance that 18 random bytes sit within three byte
errors of a codeword, times 2**-16 for the check).

Codeword: ``id (8 bytes, big endian) | check (2 bytes) | RS parity (8 bytes)`` =
18 bytes = 144 bits, most significant bit first. Bit convention for soft bits:
a positive value means 1, a negative value means 0, magnitude means reliability.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np
from reedsolo import ReedSolomonError, RSCodec

from likeness.errors import BadInput

RENDER_ID_BYTES = 8
CHECK_BYTES = 2
PARITY_BYTES = 8
CODEWORD_BYTES = RENDER_ID_BYTES + CHECK_BYTES + PARITY_BYTES
CODEWORD_BITS = CODEWORD_BYTES * 8
MAX_RENDER_ID = (1 << 64) - 1
# Bytes marked as erasures in the second decoding attempt (the least reliable ones).
# Kept small so a random word still cannot decode (see module docstring).
_ERASED_BYTES_SECOND_TRY = 2
_CHECK_PERSON = b"likeness-wm-v1"

_CODEC = RSCodec(PARITY_BYTES)


@dataclass(frozen=True)
class PayloadInfo:
    """How a decode went; `confidence` is 0 when nothing valid was found.

    `bit_accuracy` is the share of hard bits that agree with the decoded codeword,
    `margin` the reliability-weighted agreement in [-1, 1], and `confidence`
    1 minus the binomial chance that so many of 144 random bits agree by luck.
    """

    valid: bool
    bit_accuracy: float
    margin: float
    corrected_bytes: int
    confidence: float


def _check(id_bytes: bytes) -> bytes:
    return hashlib.blake2b(id_bytes, digest_size=CHECK_BYTES, person=_CHECK_PERSON).digest()


def encode(render_id: int) -> np.ndarray:
    """The 144 codeword bits (uint8 0/1) that carry `render_id`."""
    if isinstance(render_id, bool) or not isinstance(render_id, int):
        raise BadInput(f"render id must be an int, got {type(render_id).__name__}")
    if not 0 <= render_id <= MAX_RENDER_ID:
        raise BadInput(f"render id {render_id} does not fit in 64 unsigned bits",
                       hint="use an id in [0, 2**64)")
    id_bytes = render_id.to_bytes(RENDER_ID_BYTES, "big")
    codeword = bytes(_CODEC.encode(id_bytes + _check(id_bytes)))
    return np.unpackbits(np.frombuffer(codeword, dtype=np.uint8))


def _binomial_tail_at_least(agree: int, n: int) -> float:
    """P(X >= agree) for X ~ Binomial(n, 1/2), exact (n is small)."""
    total = sum(math.comb(n, k) for k in range(agree, n + 1))
    return total / float(2**n)


def _info_for(codeword_bits: np.ndarray, soft: np.ndarray, corrected: int) -> PayloadInfo:
    signs = codeword_bits.astype(np.float64) * 2.0 - 1.0
    agree = int(np.count_nonzero((soft > 0) == (codeword_bits == 1)))
    scale = float(np.mean(np.abs(soft)))
    margin = float(np.mean(signs * soft) / scale) if scale > 0 else 0.0
    confidence = 1.0 - _binomial_tail_at_least(agree, CODEWORD_BITS)
    return PayloadInfo(valid=True, bit_accuracy=agree / CODEWORD_BITS, margin=margin,
                       corrected_bytes=corrected, confidence=confidence)


_NOTHING = PayloadInfo(valid=False, bit_accuracy=0.0, margin=0.0, corrected_bytes=0,
                       confidence=0.0)


def decode(soft_bits: np.ndarray) -> tuple[int | None, PayloadInfo]:
    """Recover the render id from 144 soft bits, or None when no valid codeword is there.

    Tries errors-only Reed–Solomon decoding first, then once more with the least
    reliable bytes marked as erasures; either way the check must match.
    """
    soft = np.asarray(soft_bits, dtype=np.float64).reshape(-1)
    if soft.size != CODEWORD_BITS:
        raise BadInput(f"expected {CODEWORD_BITS} soft bits, got {soft.size}")
    if not np.all(np.isfinite(soft)) or not np.any(soft):
        return None, _NOTHING
    hard = (soft > 0).astype(np.uint8)
    received = bytearray(np.packbits(hard).tobytes())
    byte_reliability = np.abs(soft).reshape(CODEWORD_BYTES, 8).min(axis=1)
    weakest = [int(i) for i in np.argsort(byte_reliability)[:_ERASED_BYTES_SECOND_TRY]]
    for erasures in (None, weakest):
        try:
            message, full, errata = _CODEC.decode(bytearray(received), erase_pos=erasures)
        except ReedSolomonError:
            continue
        id_bytes = bytes(message[:RENDER_ID_BYTES])
        if bytes(message[RENDER_ID_BYTES:]) != _check(id_bytes):
            continue
        bits = np.unpackbits(np.frombuffer(bytes(full), dtype=np.uint8))
        return int.from_bytes(id_bytes, "big"), _info_for(bits, soft, len(errata))
    return None, _NOTHING
