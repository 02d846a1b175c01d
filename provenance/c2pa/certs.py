"""The studio's own ES256 certificate chain for signing C2PA manifests offline.

Why a three-level chain: C2PA validators refuse a self-signed signing
certificate and expect a leaf with the claim-signing profile (digitalSignature key
usage, SKI/AKI, and an EKU: C2PA 2.2 requires ``c2pa-kp-claimSigning`` for the trust
list; emailProtection and documentSigning stay beside it for older validators). A root that stays
in the studio home (or a customer's trust list) plus an intermediate that issues
the leaf mirrors a real PKI, so a studio can later move the root offline or
swap in a CA-issued intermediate without changing how media is signed.

The leaf private key is created with mode 0600 in one ``os.open`` call, so it is
never readable by others, not even for a moment.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from likeness.errors import BadInput, IntegrityFailure, InternalError

ROOT_VALIDITY_DAYS = 3652  # ~10 years
INTERMEDIATE_VALIDITY_DAYS = 3652
LEAF_VALIDITY_DAYS = 1826  # ~5 years
CLOCK_SKEW_ALLOWANCE_SECONDS = 300
"""Back-date notBefore a little so a verifier with a slow clock does not reject a fresh cert."""

KEY_FILE_MODE = 0o600
ROOT_CERT_NAME = "root.pem"
CHAIN_CERT_NAME = "chain.pem"
LEAF_KEY_NAME = "leaf.key.pem"
_DOCUMENT_SIGNING_EKU = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")
"""id-kp-documentSigning (RFC 9336), accepted by C2PA for claim signers."""
C2PA_CLAIM_SIGNING_EKU = x509.ObjectIdentifier("1.3.6.1.4.1.62558.2.1")
"""c2pa-kp-claimSigning (C2PA 2.2 trust list / certificate policy)."""

__all__ = ["C2PA_CLAIM_SIGNING_EKU", "CertChainPaths", "SigningMaterial", "create_chain",
           "ensure_chain", "load_signing_material"]


@dataclass(frozen=True)
class CertChainPaths:
    """Where a studio's C2PA signing material lives.

    ``root_cert``: trust anchor (give it to verifiers); ``chain_cert``: leaf then
    intermediate, the chain embedded in every manifest; ``leaf_key``: the
    PKCS#8 PEM signing key (0600).
    """

    directory: Path
    root_cert: Path
    chain_cert: Path
    leaf_key: Path

    @classmethod
    def in_directory(cls, directory: Path) -> CertChainPaths:
        """The conventional file names inside ``directory``."""
        return cls(directory=directory, root_cert=directory / ROOT_CERT_NAME,
                   chain_cert=directory / CHAIN_CERT_NAME, leaf_key=directory / LEAF_KEY_NAME)

    def exists(self) -> bool:
        """True when all three files are present."""
        return all(p.is_file() for p in (self.root_cert, self.chain_cert, self.leaf_key))


def create_chain(directory: Path, *, studio_name: str) -> CertChainPaths:
    """Create root CA -> intermediate CA -> leaf (P-256/ES256) and write them to ``directory``.

    Refuses to overwrite an existing chain (use `ensure_chain` for "create if
    missing"): replacing a signing key silently would orphan the trust anchor
    already handed to verifiers.
    """
    name = studio_name.strip()
    if not name:
        raise BadInput("studio name for the C2PA certificate chain is empty")
    paths = CertChainPaths.in_directory(Path(directory))
    existing = [p for p in (paths.root_cert, paths.chain_cert, paths.leaf_key) if p.exists()]
    if existing:
        raise BadInput(f"C2PA certificate files already exist: {', '.join(map(str, existing))}",
                       hint="remove them first, or call ensure_chain to reuse them")
    try:
        paths.directory.mkdir(parents=True, exist_ok=True)
        now = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=CLOCK_SKEW_ALLOWANCE_SECONDS)

        root_key = ec.generate_private_key(ec.SECP256R1())
        root_name = _name(name, f"{name} C2PA Root CA")
        root_cert = _ca_cert(subject=root_name, subject_key=root_key, issuer=root_name,
                             issuer_key=root_key, issuer_cert=None, not_before=now,
                             days=ROOT_VALIDITY_DAYS, path_length=1)

        inter_key = ec.generate_private_key(ec.SECP256R1())
        inter_name = _name(name, f"{name} C2PA Intermediate CA")
        inter_cert = _ca_cert(subject=inter_name, subject_key=inter_key, issuer=root_name,
                              issuer_key=root_key, issuer_cert=root_cert, not_before=now,
                              days=INTERMEDIATE_VALIDITY_DAYS, path_length=0)

        leaf_key = ec.generate_private_key(ec.SECP256R1())
        leaf_cert = _leaf_cert(studio_name=name, leaf_key=leaf_key, issuer_cert=inter_cert,
                               issuer_key=inter_key, not_before=now)

        key_pem = leaf_key.private_bytes(serialization.Encoding.PEM,
                                         serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption())
        _write_private(paths.leaf_key, key_pem)
        _write_public(paths.root_cert, _pem(root_cert))
        _write_public(paths.chain_cert, _pem(leaf_cert) + _pem(inter_cert))
    except OSError as exc:
        raise InternalError(f"could not write the C2PA certificate chain in {directory}: {exc}",
                            hint="check that the studio home is writable") from exc
    return paths


def ensure_chain(directory: Path, studio_name: str) -> CertChainPaths:
    """Return the chain in ``directory``, creating it only when no file of it exists."""
    paths = CertChainPaths.in_directory(Path(directory))
    if paths.exists():
        return paths
    return create_chain(directory, studio_name=studio_name)


@dataclass(frozen=True)
class SigningMaterial:
    """The PEM bytes the C2PA signer needs, checked to belong together."""

    chain_pem: bytes
    key_pem: bytes


def load_signing_material(paths: CertChainPaths) -> SigningMaterial:
    """Read chain + key and check them before the SDK sees them.

    The SDK's own errors for a wrong file ("COSE Signer does not contain signing
    certificate") do not say which file is at fault; these do.
    """
    try:
        chain_pem = paths.chain_cert.read_bytes()
        key_pem = paths.leaf_key.read_bytes()
    except OSError as exc:
        raise BadInput(f"cannot read the studio C2PA signing material: {exc}",
                       hint="run `likeness init` to create the studio keys") from exc
    try:
        certs = x509.load_pem_x509_certificates(chain_pem)
    except ValueError as exc:
        raise BadInput(f"{paths.chain_cert} is not a PEM certificate chain") from exc
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise BadInput(f"{paths.leaf_key} is not an unencrypted PEM private key") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise BadInput(f"{paths.leaf_key} is not a P-256 key (C2PA ES256 needs one)")
    leaf = certs[0]
    if leaf.public_key() != key.public_key():
        raise IntegrityFailure(
            f"{paths.leaf_key} does not match the signing certificate in {paths.chain_cert}",
            hint="restore the matching pair or recreate the chain with `likeness init`")
    now = dt.datetime.now(dt.UTC)
    if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
        raise IntegrityFailure(
            f"the studio C2PA signing certificate is not valid now "
            f"({leaf.not_valid_before_utc:%Y-%m-%d} to {leaf.not_valid_after_utc:%Y-%m-%d})",
            hint="issue a new leaf certificate")
    return SigningMaterial(chain_pem=chain_pem, key_pem=key_pem)


def _name(studio_name: str, common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, studio_name),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def _ca_cert(*, subject: x509.Name, subject_key: ec.EllipticCurvePrivateKey,
             issuer: x509.Name, issuer_key: ec.EllipticCurvePrivateKey,
             issuer_cert: x509.Certificate | None, not_before: dt.datetime, days: int,
             path_length: int) -> x509.Certificate:
    """A CA certificate (root when ``issuer_cert`` is None)."""
    public_key = subject_key.public_key()
    authority_public = issuer_key.public_key() if issuer_cert is None else issuer_cert.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(authority_public),
                       critical=False)
    )
    return builder.sign(issuer_key, hashes.SHA256())


def _leaf_cert(*, studio_name: str, leaf_key: ec.EllipticCurvePrivateKey,
               issuer_cert: x509.Certificate, issuer_key: ec.EllipticCurvePrivateKey,
               not_before: dt.datetime) -> x509.Certificate:
    """The end-entity certificate with the C2PA claim-signing profile."""
    public_key = leaf_key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(studio_name, f"{studio_name} C2PA Signer"))
        .issuer_name(issuer_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + dt.timedelta(days=LEAF_VALIDITY_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=False, crl_sign=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([C2PA_CLAIM_SIGNING_EKU,
                                              ExtendedKeyUsageOID.EMAIL_PROTECTION,
                                              _DOCUMENT_SIGNING_EKU]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_cert.public_key()),
            critical=False)
    )
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _write_private(path: Path, data: bytes) -> None:
    """Create ``path`` exclusively with mode 0600 and write ``data`` (never chmod afterwards)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEY_FILE_MODE)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _write_public(path: Path, data: bytes) -> None:
    with open(path, "xb") as handle:
        handle.write(data)
