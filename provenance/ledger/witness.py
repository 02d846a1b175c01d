"""The witness: signed tree heads kept outside the database, and the consistency check.

Deleting the newest entries together with their tree heads (or emptying both tables)
leaves a ledger that verifies on its own: every remaining head still matches. As
Certificate Transparency does, the answer is a head someone else has seen: each
signed tree head is also appended to a file in the studio home (mode 0600), and to
any mirror files the config names, and sent (HTTP POST or PUT) to any mirror URLs it
names -- a service someone else runs; `audit verify` then proves, with an RFC 9162
consistency proof, that the current ledger extends the latest witnessed head, and
`audit verify --against FILE...` does the same for heads carried by published files
or kept by others. A witness the operator can also edit only helps against someone
who can write the database but not the home; a mirror on another machine or with
another party is what stops the operator too (docs/threat-model.md).
"""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from consent.signing import VerifyKey
from likeness.errors import BadInput, IntegrityFailure
from provenance.ledger.log import SignedTreeHead, ledger_tree, verify_tree_head
from provenance.ledger.merkle import verify_consistency

WITNESS_FILE = "witness/tree-heads.jsonl"
WITNESS_MODE = 0o600
MIRROR_TIMEOUT_S = 5.0
MIRROR_METHODS = ("POST", "PUT")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WitnessedHead:
    head: SignedTreeHead
    source: str  # where it was seen (the witness file, a published file, ...)


class Witness:
    """Appends each signed tree head to the studio's witness file and its mirrors."""

    def __init__(self, path: Path, mirrors: Sequence[Path] = (), *,
                 urls: Sequence[str] = (), method: str = "POST") -> None:
        if method not in MIRROR_METHODS:
            raise BadInput(f"witness mirror method {method!r} must be one of "
                           f"{', '.join(MIRROR_METHODS)}")
        self.path = path
        self.mirrors = tuple(mirrors)
        self.urls = tuple(urls)
        self.method = method

    def record(self, head: SignedTreeHead) -> None:
        """Append ``head`` (after its transaction committed). The studio's own file must
        take it; a mirror that cannot is skipped (and a URL that fails is logged), since
        the change is already recorded: a missed head weakens the next check, the next
        head that arrives covers it (consistency proofs are transitive)."""
        line = (json.dumps(asdict(head), sort_keys=True) + "\n").encode()
        _append(self.path, line)
        for mirror in self.mirrors:
            try:
                _append(mirror, line)
            except OSError:
                continue
        for url in self.urls:
            try:
                send_head(url, line, method=self.method)
            except (OSError, ValueError) as exc:  # URLError and HTTPError are OSErrors
                log.warning("witness mirror %s did not take tree head %d: %s",
                            url, head.tree_size, exc)

    def heads(self) -> list[WitnessedHead]:
        return read_witness_file(self.path) if self.path.exists() else []


def send_head(url: str, line: bytes, *, method: str = "POST",
              timeout_s: float = MIRROR_TIMEOUT_S) -> None:
    """Send one signed tree head (a JSON object, as the witness file line) to ``url``.

    POST suits a witness that appends what it is sent; PUT one that keeps the latest
    head (an object store). Only the head travels: its size, root hash, time and the
    studio's signature -- nothing about performers or renders."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"witness mirror {url!r} is not an http(s) URL")
    request = urllib.request.Request(url, data=line.rstrip(b"\n"), method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 -- scheme checked
        if not 200 <= response.status < 300:
            raise urllib.error.HTTPError(url, response.status, "witness mirror refused",
                                         response.headers, None)


def _append(path: Path, line: bytes) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, WITNESS_MODE)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_witness_file(path: Path) -> list[WitnessedHead]:
    """Signed tree heads from a witness file (JSON lines), as written by `Witness`."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read witness file {path}: {exc}") from None
    found: list[WitnessedHead] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
            head = SignedTreeHead(tree_size=int(doc["tree_size"]),
                                  root_hash=str(doc["root_hash"]), at=str(doc["at"]),
                                  signature=str(doc["signature"]))
        except (ValueError, KeyError, TypeError):
            raise IntegrityFailure(f"witness file {path} line {number} is malformed") from None
        found.append(WitnessedHead(head, f"{path}:{number}"))
    return found


def heads_from_media(path: Path) -> list[WitnessedHead]:
    """The signed tree head a published file carries in its C2PA ledger assertion."""
    from provenance.c2pa import LedgerAssertion, MalformedAssertion, read_assertion, read_manifest

    manifest = read_manifest(path, trust_anchor_pem=None)
    if not manifest.present:
        raise BadInput(f"{path} carries no C2PA manifest, so no tree head")
    try:
        claim = read_assertion(manifest.assertions, LedgerAssertion)
    except MalformedAssertion as exc:
        raise BadInput(f"{path}: its ledger assertion is malformed: {exc}") from None
    if claim is None:
        raise BadInput(f"{path} carries no Likeness ledger assertion")
    head = SignedTreeHead(claim.tree_size, claim.root_hash, claim.tree_head_at,
                          claim.tree_head_signature)
    return [WitnessedHead(head, str(path))]


def heads_from_files(paths: Iterable[Path]) -> list[WitnessedHead]:
    """Heads from witness files (``.jsonl``/``.json``) or published media files."""
    found: list[WitnessedHead] = []
    for path in paths:
        if not Path(path).is_file():
            raise BadInput(f"cannot read {path}: no such file")
        if path.suffix.lower() in {".jsonl", ".json"}:
            found.extend(read_witness_file(path))
        else:
            found.extend(heads_from_media(path))
    return found


def check_consistency(session: Session, witnessed: Sequence[WitnessedHead],
                      studio_key: VerifyKey) -> int:
    """Raise `IntegrityFailure` unless the ledger extends every witnessed head (each
    verified first: a forged head proves nothing); returns how many were checked."""
    if not witnessed:
        return 0
    tree = ledger_tree(session)
    for seen in sorted(witnessed, key=lambda w: w.head.tree_size):
        head = seen.head
        try:
            verify_tree_head(head, studio_key)
        except IntegrityFailure:
            raise IntegrityFailure(f"the tree head from {seen.source} is not signed by this "
                                   "studio") from None
        if head.tree_size > tree.size:
            raise IntegrityFailure(
                f"the ledger has {tree.size} entries, but a tree head witnessed in "
                f"{seen.source} covers {head.tree_size}: entries were deleted (truncated)")
        proof = tree.consistency_proof(head.tree_size) if head.tree_size else []
        try:
            verify_consistency(old_size=head.tree_size, new_size=tree.size,
                               old_root=bytes.fromhex(head.root_hash), new_root=tree.root(),
                               proof=proof)
        except (ValueError, IntegrityFailure):
            raise IntegrityFailure(
                f"the ledger is not consistent with the tree head of size {head.tree_size} "
                f"witnessed in {seen.source}: history was rewritten") from None
    return len(witnessed)
