"""Issue 16 E: truncating the ledger together with its tree heads. Signed tree heads are
also kept outside the database (the witness file in the studio home, mirrors, published
files); `audit verify` proves the ledger extends every head it has seen (RFC 9162
consistency), and `--against FILE...` adds heads kept elsewhere."""

from __future__ import annotations

import shutil
import socket
import stat
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from provenance.ledger.witness import WITNESS_FILE
from tests.support.cli import db_execute, run_cli
from tests.support.media import face_clip
from tests.support.people import add_performer, registered_grant

WIPE = ["DELETE FROM revocations", "DELETE FROM grants", "DELETE FROM performer_faces",
        "DELETE FROM performers", "DELETE FROM ledger_entries", "DELETE FROM ledger_tree_heads"]


def _story(tmp_path: Path) -> str:
    key = add_performer(tmp_path)
    gid = registered_grant(tmp_path, key)
    assert run_cli("consent", "revoke", gid, "--studio").code == 0
    return gid


def _audit_fails(*extra: str | Path, message: str) -> None:
    r = run_cli("audit", "verify", *extra)
    assert r.code == 4, (r.out, r.err)
    assert message in r.err, r.err


def test_newest_entries_deleted_with_their_heads(home: Path, tmp_path: Path) -> None:
    _story(tmp_path)
    witness = home / WITNESS_FILE
    assert stat.S_IMODE(witness.stat().st_mode) == 0o600
    assert len(witness.read_text().splitlines()) == 3  # performer, grant, revocation
    r = run_cli("audit", "verify", "--json")
    assert r.code == 0 and r.json()["witnessed_heads_checked"] == 3  # type: ignore[index]
    size = r.json()["entries"]  # type: ignore[index]
    db_execute("DELETE FROM ledger_entries WHERE seq >= :n", {"n": size - 2})
    db_execute("DELETE FROM ledger_tree_heads WHERE tree_size > :n", {"n": size - 2})
    db_execute("DELETE FROM revocations")
    _audit_fails(message="entries were deleted (truncated)")


def test_both_tables_emptied(home: Path, tmp_path: Path) -> None:
    _story(tmp_path)
    for sql in WIPE:
        db_execute(sql)
    _audit_fails(message="the ledger has 0 entries, but a tree head witnessed in")


def test_rewritten_history_is_inconsistent_with_the_witness(home: Path,
                                                            tmp_path: Path) -> None:
    _story(tmp_path)
    # the whole history is replaced by a new one at least as long (its own heads verify)
    for sql in WIPE:
        db_execute(sql)
    again = tmp_path / "again"
    again.mkdir()
    _story(again)
    _audit_fails(message="not consistent with the tree head")


def test_against_an_external_witness(home: Path, tmp_path: Path) -> None:
    _story(tmp_path)
    kept = tmp_path / "kept-by-a-partner.jsonl"
    shutil.copy(home / WITNESS_FILE, kept)
    assert run_cli("audit", "verify", "--against", kept).code == 0
    (home / WITNESS_FILE).unlink()  # whoever wiped the database wiped the home's copy too
    for sql in WIPE:
        db_execute(sql)
    r = run_cli("audit", "verify")
    assert r.code == 0  # nothing left to disagree with: what an outside witness is for
    _audit_fails("--against", kept, message="entries were deleted (truncated)")


def test_mirror_receives_every_head(home: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror" / "heads.jsonl"
    cfg = home / "config.toml"
    cfg.write_text(cfg.read_text() + f'witness_mirrors = ["{mirror}"]\n')
    _story(tmp_path)
    assert mirror.read_text() == (home / WITNESS_FILE).read_text()


@pytest.mark.parametrize("name", ["forged.jsonl"])
def test_forged_witness_head_is_refused(home: Path, tmp_path: Path, name: str) -> None:
    _story(tmp_path)
    forged = tmp_path / name
    line = (home / WITNESS_FILE).read_text().splitlines()[-1]
    forged.write_text(line.replace('"tree_size": ', '"tree_size": 9'))
    _audit_fails("--against", forged, message="is not signed by this studio")


def test_against_a_published_file(sqlite_home: Path, tmp_path: Path) -> None:
    key = add_performer(tmp_path)
    registered_grant(tmp_path, key)
    out = tmp_path / "stamped.mp4"
    r = run_cli("stamp", face_clip(tmp_path / "ava.mp4", seconds=3.0), "--performer", "ava",
                "--use", "dubbing", "--out", out)
    assert r.code == 0, r.err
    assert run_cli("audit", "verify", "--against", out).code == 0
    (sqlite_home / WITNESS_FILE).unlink()
    for sql in WIPE:
        db_execute(sql)
    _audit_fails("--against", out, message="entries were deleted (truncated)")


class _Heads(BaseHTTPRequestHandler):
    """A witness service that keeps what it is sent: POST appends, PUT replaces."""

    received: ClassVar[list[tuple[str, str]]] = []

    def _take(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        self.received.append((self.command, body))
        self.send_response(204)
        self.end_headers()

    do_POST = _take  # noqa: N815 -- the names http.server calls
    do_PUT = _take  # noqa: N815

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return


@pytest.fixture
def witness_service() -> Iterator[str]:
    _Heads.received = []
    server = HTTPServer(("127.0.0.1", 0), _Heads)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/heads"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_e_mirror_url_receives_every_head(home: Path, tmp_path: Path, witness_service: str,
                                          method: str) -> None:
    cfg = home / "config.toml"
    cfg.write_text(cfg.read_text() + f'witness_mirror_urls = ["{witness_service}"]\n'
                   f'witness_mirror_method = "{method}"\n')
    _story(tmp_path)
    lines = (home / WITNESS_FILE).read_text().splitlines()
    assert len(lines) == 3
    assert _Heads.received == [(method, line) for line in lines]
    # what the service kept is a witness `audit verify --against` accepts
    kept = tmp_path / "from-the-service.jsonl"
    kept.write_text("".join(body + "\n" for _, body in _Heads.received))
    (home / WITNESS_FILE).unlink()
    for sql in WIPE:
        db_execute(sql)
    _audit_fails("--against", kept, message="entries were deleted (truncated)")


def test_e_unreachable_mirror_url_does_not_fail_the_change(home: Path, tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cfg = home / "config.toml"
    cfg.write_text(cfg.read_text() + f'witness_mirror_urls = ["http://127.0.0.1:{port}/x"]\n')
    _story(tmp_path)  # every step asserts its own exit code 0
    assert len((home / WITNESS_FILE).read_text().splitlines()) == 3
    assert run_cli("audit", "verify").code == 0


def test_e_mirror_url_must_be_http(home: Path) -> None:
    cfg = home / "config.toml"
    cfg.write_text(cfg.read_text() + 'witness_mirror_urls = ["file:///etc/passwd"]\n')
    r = run_cli("audit", "verify")
    assert r.code == 2 and r.err.startswith("error: ") and "witness_mirror_urls" in r.err, r.err
