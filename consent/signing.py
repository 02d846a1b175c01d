"""Ed25519 keys and signatures over canonical JSON (RFC 8785).

Keys are typed objects (`SigningKey`, `VerifyKey`), never loose bytes. Private
keys are written with mode 0600 at creation (no window where they are readable)
and are never logged or put into the ledger.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from consent.models import Signature, SignerRole
from likeness.errors import BadInput, IntegrityFailure

PRIVATE_KEY_MODE = 0o600


_EXACT_INT = 2**53 - 1


def _plain(value: Any) -> bool:
    """JSON made only of objects with ASCII keys, lists, strings, booleans, null and
    integers within +-(2^53-1): no floats, whose RFC 8785 form needs ECMAScript's
    number formatting, and no key whose UTF-16 order could differ from code-point order."""
    if isinstance(value, str) or value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -_EXACT_INT <= value <= _EXACT_INT
    if isinstance(value, dict):
        return all(isinstance(k, str) and k.isascii() and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return False


def canonical_json(value: Any) -> bytes:
    """RFC 8785 bytes: the only form we ever sign or hash.

    For plain JSON (see `_plain`) RFC 8785 is exactly sorted keys, no whitespace, UTF-8,
    and only ``"``, ``\\`` and control characters escaped -- which is what the C-accelerated
    `json.dumps` writes with these options, ~10x faster than the pure-Python encoder the
    gate's cold path would otherwise spend most of its time in. Anything else (floats,
    huge integers, lone surrogates) goes to `rfc8785`, which formats or refuses it.
    """
    if _plain(value):
        try:
            return json.dumps(value, sort_keys=True, separators=(",", ":"),
                              ensure_ascii=False, allow_nan=False).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: not valid JSON text
            pass
    return rfc8785.dumps(value)


@dataclass(frozen=True, eq=False)
class VerifyKey:
    """A public key, equal to and hashed as its raw bytes (so it can key the gate's caches)."""

    key: Ed25519PublicKey
    _raw: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_raw", self.key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw))

    def __hash__(self) -> int:
        return hash(self._raw)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VerifyKey) and other._raw == self._raw

    @property
    def raw(self) -> bytes:
        return self._raw

    @property
    def key_id(self) -> str:
        return hashlib.sha256(self._raw).hexdigest()

    def pem(self) -> bytes:
        return self.key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @classmethod
    def from_pem(cls, data: bytes, *, source: str = "public key") -> VerifyKey:
        try:
            key = serialization.load_pem_public_key(data)
        except ValueError:
            raise BadInput(f"{source} is not a PEM public key") from None
        if not isinstance(key, Ed25519PublicKey):
            raise BadInput(f"{source} is not an Ed25519 public key")
        return cls(key)

    @classmethod
    def from_raw(cls, raw: bytes) -> VerifyKey:
        return cls(Ed25519PublicKey.from_public_bytes(raw))

    @classmethod
    def from_file(cls, path: Path) -> VerifyKey:
        return cls.from_pem(_read(path), source=str(path))

    def verify(self, signature: Signature, payload: Any, *, what: str) -> None:
        """Raise `IntegrityFailure` unless ``signature`` signs ``payload`` with this key."""
        self.verify_canonical(signature, canonical_json(payload), what=what)

    def verify_canonical(self, signature: Signature, data: bytes, *, what: str) -> None:
        """`verify` for a payload already in canonical form (the caller built the bytes)."""
        if signature.key_id != self.key_id:
            raise IntegrityFailure(f"{what}: {signature.role} signature was made with another key")
        try:
            self.key.verify(signature.raw(), data)
        except InvalidSignature:
            raise IntegrityFailure(
                f"{what}: {signature.role} signature does not match the signed content",
                hint="the file was changed after signing, or signed by another key",
            ) from None


@dataclass(frozen=True)
class SigningKey:
    key: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @property
    def verify_key(self) -> VerifyKey:
        return VerifyKey(self.key.public_key())

    def sign(self, payload: Any, *, role: SignerRole) -> Signature:
        value = self.key.sign(canonical_json(payload))
        return Signature(role=role, key_id=self.verify_key.key_id,
                         value=base64.b64encode(value).decode())

    def write(self, path: Path) -> None:
        """Write the private key (0600, refusing to overwrite) and ``path``.pub."""
        pem = self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        write_secret(path, pem)
        pub = path.with_name(path.name + ".pub")
        pub.write_bytes(self.verify_key.pem())

    @classmethod
    def from_file(cls, path: Path) -> SigningKey:
        data = _read(path)
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError):
            raise BadInput(f"{path} is not an unencrypted PEM private key") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise BadInput(f"{path} is not an Ed25519 private key")
        return cls(key)

    def __repr__(self) -> str:  # never show key material
        return f"SigningKey(key_id={self.verify_key.key_id[:16]}...)"


def write_secret(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600 atomically; never overwrite an existing secret."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_KEY_MODE)
    except FileExistsError:
        raise BadInput(f"{path} already exists; refusing to overwrite a key") from None
    except OSError as exc:
        raise BadInput(f"cannot create {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _read(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror or exc}") from None
