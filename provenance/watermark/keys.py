"""Per-studio watermark keys and the keyed pseudo-random streams derived from them.

Why keyed: the embedding patterns (which coefficient carries which bit, and with
which sign) come from the studio's secret, so someone without the key can neither
read the render id nor tell the pattern from noise, and detection with a wrong key
finds nothing. Each carrier asks for its own named stream so that the video and
audio patterns are independent even under one key.
"""

from __future__ import annotations

import hashlib
import secrets

import numpy as np

from likeness.errors import BadInput

WATERMARK_KEY_BYTES = 32
MIN_WATERMARK_KEY_BYTES = 16


def new_watermark_key() -> bytes:
    """A fresh 32-byte secret for one studio (store it like the signing key, 0600)."""
    return secrets.token_bytes(WATERMARK_KEY_BYTES)


def validate_key(key: bytes) -> bytes:
    """Return `key` as bytes, or raise BadInput when it is too short to be a secret."""
    if not isinstance(key, bytes | bytearray):
        raise BadInput(f"watermark key must be bytes, got {type(key).__name__}")
    if len(key) < MIN_WATERMARK_KEY_BYTES:
        raise BadInput(f"watermark key has {len(key)} bytes; at least "
                       f"{MIN_WATERMARK_KEY_BYTES} are needed",
                       hint="create one with new_watermark_key()")
    return bytes(key)


def keyed_rng(key: bytes, *, stream: str) -> np.random.Generator:
    """A deterministic generator for one named stream under `key` (BLAKE2b-derived seed)."""
    digest = hashlib.blake2b(stream.encode("utf-8"), key=validate_key(key)[:64],
                             digest_size=32).digest()
    return np.random.Generator(np.random.PCG64(np.frombuffer(digest, dtype=np.uint64)))


def balanced_assignment(rng: np.random.Generator, *, n_slots: int, n_bits: int) -> np.ndarray:
    """Keyed map slot -> bit index in which every bit gets the same number of slots.

    Slots beyond ``n_bits * (n_slots // n_bits)`` get -1 (unused), so no bit is
    favoured; the permutation spreads each bit over the whole carrier.
    """
    per_bit = n_slots // n_bits
    if per_bit < 1:
        raise BadInput(f"{n_slots} carrier slots cannot hold {n_bits} bits")
    owners = np.full(n_slots, -1, dtype=np.int64)
    owners[: per_bit * n_bits] = np.repeat(np.arange(n_bits), per_bit)
    return owners[rng.permutation(n_slots)]
