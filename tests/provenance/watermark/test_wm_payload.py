"""Payload codec: round trip, error correction, and no false positives on noise."""

from __future__ import annotations

import numpy as np
import pytest

from likeness.errors import BadInput
from provenance.watermark import payload
from provenance.watermark.keys import balanced_assignment, keyed_rng, new_watermark_key


def _soft(bits: np.ndarray) -> np.ndarray:
    return bits.astype(np.float64) * 2.0 - 1.0


@pytest.mark.parametrize("render_id", [0, 1, 0xDEADBEEF, payload.MAX_RENDER_ID])
def test_round_trip_exact(render_id: int) -> None:
    bits = payload.encode(render_id)
    assert bits.shape == (payload.CODEWORD_BITS,) and set(np.unique(bits)) <= {0, 1}
    found, info = payload.decode(_soft(bits))
    assert found == render_id
    assert info.valid and info.bit_accuracy == 1.0 and info.confidence > 0.999999


def test_corrects_byte_errors_and_uses_erasures() -> None:
    render_id = 0x0123456789ABCDEF
    soft = _soft(payload.encode(render_id))
    soft[0:8] *= -1.0  # one whole byte wrong
    soft[40:48] *= -1.0
    soft[100:104] *= -1.0
    soft[130] *= -1.0  # four bytes touched: the errors-only limit for 8 parity bytes
    found, info = payload.decode(soft)
    assert found == render_id and info.corrected_bytes == 4
    # Five bad bytes exceed errors-only decoding; weak bits mark two as erasures.
    soft2 = _soft(payload.encode(render_id))
    for start in (0, 16, 48, 80, 120):
        soft2[start] = -0.05 * soft2[start]
    found2, _ = payload.decode(soft2)
    assert found2 == render_id


def test_random_soft_bits_never_decode() -> None:
    rng = np.random.default_rng(7)
    hits = sum(payload.decode(rng.normal(size=payload.CODEWORD_BITS))[0] is not None
               for _ in range(3000))
    assert hits == 0


def test_zero_and_bad_input() -> None:
    assert payload.decode(np.zeros(payload.CODEWORD_BITS))[0] is None
    with pytest.raises(BadInput):
        payload.decode(np.ones(10))
    with pytest.raises(BadInput):
        payload.encode(-1)
    with pytest.raises(BadInput):
        payload.encode(1 << 64)


def test_keys_are_fresh_and_streams_keyed() -> None:
    a, b = new_watermark_key(), new_watermark_key()
    assert len(a) == 32 and a != b
    x = keyed_rng(a, stream="s").integers(0, 1 << 30, 8)
    assert np.array_equal(x, keyed_rng(a, stream="s").integers(0, 1 << 30, 8))
    assert not np.array_equal(x, keyed_rng(b, stream="s").integers(0, 1 << 30, 8))
    assert not np.array_equal(x, keyed_rng(a, stream="t").integers(0, 1 << 30, 8))
    with pytest.raises(BadInput):
        keyed_rng(b"short", stream="s")
    owners = balanced_assignment(keyed_rng(a, stream="s"), n_slots=100, n_bits=7)
    counts = np.bincount(owners[owners >= 0])
    assert counts.tolist() == [14] * 7 and np.count_nonzero(owners < 0) == 2
