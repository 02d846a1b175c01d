"""A real RFC 3161 time-stamp authority on 127.0.0.1 for tests: OpenSSL's ``openssl ts
-reply`` behind a small `http.server` handler, with its own root -> TSA chain.

Why OpenSSL and not a fake: the C2PA SDK embeds the token the TSA returns in the COSE
signature and validates it (message imprint, the TSA's signature, its EKU), so only a
real RFC 3161 responder proves that a studio's `tsa_url` works.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

MAX_QUERY_BYTES = 64 * 1024
OPENSSL_TIMEOUT_SECONDS = 20

_TSA_CONFIG = """\
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
dir = {directory}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
certs = $dir/tsa-chain.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.55555.1.1
other_policies = 1.3.6.1.4.1.55555.1.2
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


@dataclass(frozen=True)
class LocalTsa:
    """A running TSA: POST a TimeStampReq (DER) to ``url``, get a TimeStampResp back."""

    url: str
    root_pem: bytes  # the TSA's trust anchor
    directory: Path
    server: ThreadingHTTPServer

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def openssl_available() -> bool:
    return shutil.which("openssl") is not None


def start_tsa(directory: Path) -> LocalTsa:
    """Create the TSA's chain and config in ``directory`` and serve on an ephemeral port."""
    directory.mkdir(parents=True, exist_ok=True)
    root_pem = _write_chain(directory)
    (directory / "serial").write_text("01\n")
    config = directory / "tsa.cnf"
    config.write_text(_TSA_CONFIG.format(directory=directory))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server hook name
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_QUERY_BYTES:
                self.send_error(400, "bad time-stamp query length")
                return
            query = self.rfile.read(length)
            reply = _reply(query, config=config, directory=directory)
            if reply is None:
                self.send_error(500, "openssl ts -reply failed")
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            """Quiet: the test output is not the place for access logs."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True, name="local-tsa").start()
    host, port = server.server_address[:2]
    return LocalTsa(url=f"http://{host}:{port}/tsa", root_pem=root_pem, directory=directory,
                    server=server)


def _reply(query: bytes, *, config: Path, directory: Path) -> bytes | None:
    with tempfile.TemporaryDirectory(dir=directory) as work:
        query_path, reply_path = Path(work) / "q.tsq", Path(work) / "r.tsr"
        query_path.write_bytes(query)
        done = subprocess.run(
            ["openssl", "ts", "-reply", "-config", str(config), "-queryfile", str(query_path),
             "-out", str(reply_path)],
            capture_output=True, timeout=OPENSSL_TIMEOUT_SECONDS, check=False)
        if done.returncode != 0 or not reply_path.is_file():
            return None
        return reply_path.read_bytes()


def _write_chain(directory: Path) -> bytes:
    """Root CA -> TSA certificate (critical timeStamping EKU, as RFC 3161 requires)."""
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test TSA Root")])
    root = (x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name)
            .public_key(root_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                         False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()),
                           critical=False)
            .sign(root_key, hashes.SHA256()))
    tsa_key = ec.generate_private_key(ec.SECP256R1())
    tsa = (x509.CertificateBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test TSA")]))
           .issuer_name(root_name).public_key(tsa_key.public_key())
           .serial_number(x509.random_serial_number())
           .not_valid_before(now).not_valid_after(now + dt.timedelta(days=3650))
           .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
           .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False,
                                        False), critical=True)
           .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]),
                          critical=True)
           .add_extension(x509.SubjectKeyIdentifier.from_public_key(tsa_key.public_key()),
                          critical=False)
           .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
               root_key.public_key()), critical=False)
           .sign(root_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (directory / "tsa.key").write_bytes(tsa_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (directory / "tsa.pem").write_bytes(tsa.public_bytes(pem))
    root_pem = root.public_bytes(pem)
    (directory / "tsa-chain.pem").write_bytes(tsa.public_bytes(pem) + root_pem)
    (directory / "root.pem").write_bytes(root_pem)
    return root_pem
