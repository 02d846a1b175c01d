"""Soft-decision payload decoding: more errors corrected, false positives still bounded."""

from __future__ import annotations

import math

import numpy as np

from provenance.watermark import payload, payload_osd
from provenance.watermark.video_softdecode import (
    decode_soft,
    erasure_ladder,
    false_positive_per_attempt,
)

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


def test_generator_spans_the_payload_code() -> None:
    rng = np.random.default_rng(5)
    generator = payload_osd._generator()
    for _ in range(20):
        render_id = int(rng.integers(0, 2**63))
        codeword = payload.encode(render_id)
        assert np.array_equal((codeword[:80] @ generator) % 2, codeword)


def _scattered(render_id: int, wrong_bytes: tuple[int, ...], seed: int) -> np.ndarray:
    """Strong soft bits with one wrong bit in each listed byte, that bit weak but the
    byte's weakest bit a right one (so the erasure ladder ranks the wrong bytes last)."""
    soft = _soft(render_id) * 4.0
    rng = np.random.default_rng(seed)
    for byte in range(payload.CODEWORD_BYTES):
        soft[8 * byte + int(rng.integers(0, 8))] *= 0.1  # each byte's weakest: right
    for byte in wrong_bytes:
        bits = [b for b in range(8 * byte, 8 * byte + 8) if abs(soft[b]) > 1.0]
        bit = int(rng.choice(bits))
        soft[bit] = -0.5 * np.sign(soft[bit])
    return soft


def test_scattered_single_bit_errors_decode_where_the_ladder_fails() -> None:
    """What a low-bitrate codec leaves: one wrong bit in each of seven bytes."""
    soft = _scattered(RENDER_ID, (0, 2, 5, 8, 11, 14, 17), seed=2)
    assert erasure_ladder(soft) is None
    render_id, info = decode_soft(soft)
    assert render_id == RENDER_ID and info.corrected_bytes == 7
    assert info.bit_accuracy == 137 / 144


def _parity_errors(render_id: int, wrong: list[int], *, magnitude: float) -> np.ndarray:
    """Soft bits of magnitude 1 with the listed parity bits (80-143) wrong at
    `magnitude`; the 80 message bits, the most reliable, are all right."""
    soft = _soft(render_id)
    soft[wrong] = -magnitude * soft[wrong]
    return soft


def test_equal_magnitudes_accept_what_the_binomial_tail_allows() -> None:
    """With equal magnitudes the soft distance counts wrong bits: 2**64 * P(Bin(144,
    1/2) <= 8) is below the bound and <= 9 is not, so 8 wrong bits pass and 9 do not."""
    def tail(k: int) -> float:
        return sum(math.comb(144, i) for i in range(k + 1)) / 2.0**144 * 2.0**64
    assert tail(8) <= payload_osd.FALSE_POSITIVE_BOUND < tail(9)
    assert payload_osd.soft_distance_threshold(np.ones(144)) == 9.0
    wrong = list(range(81, 144, 7))  # nine parity bits
    assert payload_osd.decode(_parity_errors(RENDER_ID, wrong[:8], magnitude=1.0))[0] \
        == RENDER_ID
    assert payload_osd.decode(_parity_errors(RENDER_ID, wrong, magnitude=1.0)) is None


def test_weak_wrong_bits_weigh_less_than_strong_ones() -> None:
    """Sixteen wrong bits read at a fifth of the others' strength: far past any bit
    count the bound allows, but close in soft distance."""
    wrong = list(range(82, 144, 4))[:16]
    soft = _parity_errors(RENDER_ID, wrong, magnitude=0.2)
    assert np.count_nonzero((soft > 0) != (payload.encode(RENDER_ID) == 1)) == 16
    found = payload_osd.decode(soft)
    assert found is not None and found[0] == RENDER_ID
    assert payload_osd.decode(_parity_errors(RENDER_ID, wrong, magnitude=0.6)) is None


def test_bits_without_evidence_weigh_nothing_and_too_few_never_pass() -> None:
    soft = _soft(RENDER_ID) * 2.0
    soft[80:100] = 0.0  # twenty parity bits carry nothing: the rest still decide
    assert payload_osd.decode(soft)[0] == RENDER_ID
    sparse = _soft(RENDER_ID) * 2.0
    sparse[40:] = 0.0  # only 40 bits of evidence: 2**-40 per payload is no proof
    assert payload_osd.soft_distance_threshold(np.abs(sparse)) == 0.0
    assert payload_osd.decode(sparse) is None


def test_random_soft_bits_of_any_magnitude_law_find_nothing() -> None:
    rng = np.random.default_rng(17)
    draws = [rng.standard_cauchy(144) for _ in range(500)]
    draws += [np.sign(rng.normal(size=144)) * rng.exponential(size=144) ** 3
              for _ in range(500)]
    draws += [rng.normal(size=144) * (rng.random(144) < 0.6) for _ in range(500)]
    assert all(payload_osd.decode(soft) is None for soft in draws)


def test_soft_distance_bound_is_what_the_module_states() -> None:
    assert payload_osd.false_positive_per_attempt() == payload_osd.FALSE_POSITIVE_BOUND
    assert 4e-11 < payload_osd.FALSE_POSITIVE_BOUND <= 5e-11
