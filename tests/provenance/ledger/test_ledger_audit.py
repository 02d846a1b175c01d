"""`likeness audit verify` catches every kind of tampering, names the first bad entry,
and the log stays valid under concurrent writers."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import run_cli
from tests.support.people import add_performer, registered_grant


def _seal() -> None:
    """Sign a tree head over the current ledger (what publishing does)."""
    from likeness.settings import load_settings
    from likeness.studio import Studio
    from provenance.ledger.log import sign_tree_head

    studio = Studio(load_settings())
    with studio.session() as session:
        sign_tree_head(session, studio.signing_key)
    studio.close()


@pytest.fixture
def ledger_db(sqlite_home: Path, tmp_path: Path) -> Path:
    key = add_performer(tmp_path)
    registered_grant(tmp_path, key)
    for lang in ("es", "fr"):
        run_cli("consent", "check", "--performer", "ava", "--use", "dubbing", "--language", lang)
    _seal()
    run_cli("consent", "check", "--performer", "ava", "--use", "avatar")  # after the head
    assert run_cli("audit", "verify").code == 0
    return sqlite_home / "registry.db"


def _sql(db: Path, *statements: str) -> None:
    con = sqlite3.connect(db)
    with con:
        for s in statements:
            con.execute(s)
    con.close()


def _expect_tampered(message: str) -> None:
    r = run_cli("audit", "verify", "--json")
    assert r.code == 4, (r.out, r.err)
    assert r.err.startswith("error: ") and message in r.err, r.err


def test_edited_entry(ledger_db: Path) -> None:
    _sql(ledger_db, "UPDATE ledger_entries SET body = replace(body, 'ava', 'eve') WHERE seq = 1")
    _expect_tampered("ledger entry 1 was edited")


def test_deleted_entry(ledger_db: Path) -> None:
    _sql(ledger_db, "DELETE FROM ledger_entries WHERE seq = 2")
    _expect_tampered("ledger entry 2 is missing")


def test_deleted_tail_under_a_head(ledger_db: Path) -> None:
    _sql(ledger_db, "DELETE FROM ledger_entries WHERE seq >= 3")
    _expect_tampered("larger than the ledger")


def test_reordered_entries(ledger_db: Path) -> None:
    _sql(ledger_db, "UPDATE ledger_entries SET seq = 100 WHERE seq = 1",
         "UPDATE ledger_entries SET seq = 1 WHERE seq = 2",
         "UPDATE ledger_entries SET seq = 2 WHERE seq = 100")
    _expect_tampered("ledger entry 1")


def test_rewritten_history_under_a_signed_head(ledger_db: Path) -> None:
    """Edit an entry and recompute every hash: only the signed tree head can tell."""
    con = sqlite3.connect(ledger_db)
    rows = con.execute("SELECT seq, body FROM ledger_entries ORDER BY seq").fetchall()
    prev = "0" * 64
    with con:
        for seq, body in rows:
            doc = json.loads(body)
            if seq == 1:
                doc["payload"]["uses"] = ["avatar", "dubbing"]
            doc["prev"] = prev
            new_body = json.dumps(doc, separators=(",", ":"), sort_keys=True)
            leaf = hashlib.sha256(b"\x00" + new_body.encode()).hexdigest()
            con.execute("UPDATE ledger_entries SET body=?, leaf_hash=?, prev_hash=? WHERE seq=?",
                        (new_body, leaf, prev, seq))
            prev = leaf
    con.close()
    _expect_tampered("do not match the signed tree head")


def test_forged_tree_head(ledger_db: Path) -> None:
    _sql(ledger_db, "UPDATE ledger_tree_heads SET root_hash = '" + "ab" * 32 + "'")
    _expect_tampered("invalid signature (forged)")


def test_inserted_entry_after_the_head(ledger_db: Path) -> None:
    con = sqlite3.connect(ledger_db)
    seq, leaf = con.execute(
        "SELECT seq, leaf_hash FROM ledger_entries ORDER BY seq DESC LIMIT 1").fetchone()
    body = json.dumps({"v": 1, "seq": seq + 1, "kind": "grant_registered", "at": "x",
                       "payload": {"grant_id": "forged"}, "prev": leaf},
                      separators=(",", ":"), sort_keys=True)
    new_leaf = hashlib.sha256(b"\x00" + body.encode()).hexdigest()
    with con:
        con.execute("INSERT INTO ledger_entries (seq, kind, at, body, leaf_hash, prev_hash, "
                    "signature) VALUES (?, 'grant_registered', '2026-01-01 00:00:00', ?, ?, ?, ?)",
                    (seq + 1, body, new_leaf, leaf, "AAAA"))
    con.close()
    _expect_tampered(f"ledger entry {seq + 1} has an invalid studio signature")


def test_export_verifies_offline_and_catches_edits(ledger_db: Path, tmp_path: Path,
                                                   sqlite_home: Path) -> None:
    export = tmp_path / "ledger.jsonl"
    assert run_cli("audit", "export", "--out", export).code == 0
    pub = sqlite_home / "keys" / "studio_ed25519.pem.pub"
    r = run_cli("audit", "verify", "--export", export, "--public-key", pub, "--json")
    assert r.code == 0 and r.json()["status"] == "intact"
    lines = export.read_text().splitlines()
    lines[2] = lines[2].replace("dubbing", "avatar")
    export.write_text("\n".join(lines) + "\n")
    r = run_cli("audit", "verify", "--export", export, "--public-key", pub)
    assert r.code == 4 and "ledger entry 1 was edited" in r.err


WRITER = """
import sys
from likeness.settings import load_settings
from likeness.studio import Studio
from provenance.ledger.log import sign_tree_head
studio = Studio(load_settings())
for i in range(int(sys.argv[1])):
    with studio.session() as session:
        studio.ledger.record(session, "render_published",
                             {"render_id": f"{int(sys.argv[2]) * 1000 + i:016x}"})
        if i % 5 == 0:
            sign_tree_head(session, studio.signing_key)
"""


def test_eight_concurrent_writers_keep_a_valid_log(home: Path) -> None:
    before = run_cli("audit", "verify", "--json").json()["entries"]
    per_process = 15
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(per_process), str(n)],
                              env=dict(os.environ), stderr=subprocess.PIPE, text=True)
             for n in range(8)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    r = run_cli("audit", "verify", "--json")
    assert r.code == 0, r.err
    assert r.json()["entries"] == before + 8 * per_process


def test_high_bit_render_ids_round_trip(home: Path) -> None:
    """Render ids are unsigned 64-bit; the BIGINT column stores them two's-complement."""
    from likeness.settings import load_settings
    from likeness.studio import Studio
    from provenance.ledger.log import entries_for_render

    studio = Studio(load_settings())
    for rid in ("ffffffffffffffff", "8000000000000000", "0000000000000001"):
        with studio.session() as session:
            studio.ledger.record(session, "render_published", {"render_id": rid})
        with studio.session() as session:
            rows = entries_for_render(session, int(rid, 16))
        assert [json.loads(r.body)["payload"]["render_id"] for r in rows] == [rid]
    studio.close()
    assert run_cli("audit", "verify").code == 0
