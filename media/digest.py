"""File digests: the SHA-256 we record for sources, renders, contracts and weights."""

from __future__ import annotations

import hashlib
from pathlib import Path

from likeness.errors import BadInput

HASH_CHUNK_BYTES = 1 << 20  # stream: weights and videos run to hundreds of MB


def sha256_file(path: Path | str) -> str:
    """Hex SHA-256 of a file; an unreadable file is `BadInput` naming it."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(HASH_CHUNK_BYTES):
                digest.update(chunk)
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror or exc}") from None
    return digest.hexdigest()
