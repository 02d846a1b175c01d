"""Soft-decision payload decoding: more errors corrected, false positives still bounded."""

from __future__ import annotations

import numpy as np

from provenance.watermark import payload
from provenance.watermark.video_softdecode import decode_soft, false_positive_per_attempt

RENDER_ID = 0x0123_4567_89AB_CDEF


def _soft(render_id: int) -> np.ndarray:
    return payload.encode(render_id).astype(np.float64) * 2.0 - 1.0


def test_stated_false_positive_bound_is_small() -> None:
    assert 0.0 < false_positive_per_attempt() < 1e-9


def test_clean_codeword_decodes() -> None:
    render_id, info = decode_soft(_soft(RENDER_ID) * 3.0)
    assert render_id == RENDER_ID and info.bit_accuracy == 1.0 and info.corrected_bytes == 0


def test_weak_errors_in_six_bytes_decode_where_errors_only_fails() -> None:
    soft = _soft(RENDER_ID) * 4.0
    rng = np.random.default_rng(3)
    for byte in (0, 3, 7, 9, 12, 16):  # one unreliable wrong bit in each of six bytes
        bit = 8 * byte + int(rng.integers(0, 8))
        soft[bit] = -0.2 * np.sign(soft[bit])
        for other in range(8 * byte, 8 * byte + 8):  # the whole byte is read weakly
            if other != bit:
                soft[other] *= 0.3
    assert payload.decode(soft)[0] is None
    render_id, info = decode_soft(soft)
    assert render_id == RENDER_ID and info.corrected_bytes >= 6


def test_random_soft_bits_find_nothing() -> None:
    rng = np.random.default_rng(11)
    hits = [decode_soft(rng.normal(size=payload.CODEWORD_BITS))[0] for _ in range(3000)]
    assert hits.count(None) == len(hits)
    assert decode_soft(np.zeros(payload.CODEWORD_BITS))[0] is None
