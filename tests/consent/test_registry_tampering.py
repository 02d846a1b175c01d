"""Issue 16 A1: the registry rows are copies; the gate trusts signed documents and the
ledger. Each test is one incident of the hostile-user run: a database edit made without
any key, which used to publish renders while `audit verify` said intact."""

from __future__ import annotations

import json
from pathlib import Path

from consent.models import RenderRequest, Use
from likeness.settings import load_settings
from likeness.studio import Studio
from provenance.ledger.consent_state import forget_cached_states
from tests.support.cli import db_execute, run_cli
from tests.support.people import add_performer, registered_grant, signed_grant


def _decide(*uses: Use, reserve: bool = True) -> tuple[bool, str]:
    forget_cached_states()  # as a fresh process would: nothing remembered from before
    studio = Studio(load_settings())
    try:
        d = studio.authorize(RenderRequest(performer_id="ava", uses=uses or (Use.DUBBING,),
                                           reserve=reserve))
    finally:
        studio.close()
    return d.allowed, " | ".join(d.reasons)


def _audit_names(message: str) -> None:
    r = run_cli("audit", "verify")
    assert r.code == 4, (r.out, r.err)
    assert r.err.startswith("error: ") and message in r.err, r.err


def test_max_renders_nulled_in_the_database_keeps_the_budget(home: Path, tmp_path: Path) -> None:
    key = add_performer(tmp_path)
    gid = registered_grant(tmp_path, key, "ava", "--max-renders", "1")
    assert _decide()[0]
    assert db_execute("UPDATE grants SET max_renders = NULL, renders_used = 0") == 1
    allowed, reasons = _decide()
    assert not allowed and "render budget used up (1/1)" in reasons
    _audit_names(f"grant {gid}")


def test_renders_used_reset_is_reconciled_with_the_ledger(home: Path, tmp_path: Path) -> None:
    key = add_performer(tmp_path)
    registered_grant(tmp_path, key, "ava", "--max-renders", "2")
    assert _decide()[0] and _decide()[0]
    db_execute("UPDATE grants SET renders_used = 0")
    allowed, reasons = _decide()
    assert not allowed and "render budget used up (2/2)" in reasons
    _audit_names("renders_used is 0, the ledger records 2 reservations")


def test_use_added_to_the_stored_grant_is_refused(home: Path, tmp_path: Path) -> None:
    key = add_performer(tmp_path)
    registered_grant(tmp_path, key)
    assert not _decide(Use.REENACTMENT)[0]
    from sqlalchemy import text

    from likeness.db import make_engine

    engine = make_engine(load_settings().database_url)
    with engine.begin() as conn:
        doc = json.loads(conn.execute(text("SELECT document FROM grants")).scalar_one())
        doc["grant"]["uses"] = sorted([*doc["grant"]["uses"], "reenactment"])
        conn.execute(text("UPDATE grants SET document = :d"), {"d": json.dumps(doc)})
    engine.dispose()
    allowed, reasons = _decide(Use.REENACTMENT)
    assert not allowed and "signatures do not verify" in reasons
    assert not _decide(Use.DUBBING)[0]  # an edited grant covers nothing any more
    _audit_names("differs from the one logged at registration")


def test_deleted_revocation_row_does_not_unrevoke(home: Path, tmp_path: Path) -> None:
    key = add_performer(tmp_path)
    gid = registered_grant(tmp_path, key)
    assert run_cli("consent", "revoke", gid, "--key", key, "--reason", "no").code == 0
    assert db_execute("DELETE FROM revocations") == 1
    allowed, reasons = _decide()
    assert not allowed and "revoked" in reasons
    r = run_cli("consent", "check", "--performer", "ava", "--use", "dubbing")
    assert r.code == 3 and "revoked" in r.err
    _audit_names(f"revocation of grant {gid} is in the ledger but not in the registry")


def test_swapped_performer_key_is_refused(home: Path, tmp_path: Path) -> None:
    from consent.signing import VerifyKey

    key = add_performer(tmp_path)
    registered_grant(tmp_path, key)
    assert run_cli("keys", "new", "--out", tmp_path / "mallory.key").code == 0
    mallory = VerifyKey.from_file(tmp_path / "mallory.key.pub")
    db_execute("UPDATE performers SET public_key_pem = :pem, public_key_id = :kid",
               {"pem": mallory.pem().decode(), "kid": mallory.key_id})
    allowed, reasons = _decide()
    assert not allowed and "does not match the studio's seal" in reasons
    # nor can the operator register a grant the swapped-in key signed
    path = signed_grant(tmp_path, tmp_path / "mallory.key", name="mallory.json")
    r = run_cli("consent", "register", path)
    assert r.code == 4 and "does not match the studio's seal" in r.err
    _audit_names("performer ava")


def test_inserted_grant_row_without_countersignature_is_refused(home: Path,
                                                                tmp_path: Path) -> None:
    key = add_performer(tmp_path)
    path = signed_grant(tmp_path, key, "ava", "--use", "reenactment")
    doc = path.read_text()
    gid = json.loads(doc)["grant"]["grant_id"]
    db_execute("INSERT INTO grants (grant_id, performer_id, document, valid_from, valid_until,"
               " max_renders, renders_used, registered_at) VALUES (:g, 'ava', :d, "
               "'2020-01-01 00:00:00', '2030-01-01 00:00:00', NULL, 0, '2020-01-01 00:00:00')",
               {"g": gid, "d": doc})
    allowed, reasons = _decide(Use.REENACTMENT)
    assert not allowed and "lacks the studio's countersignature" in reasons
    _audit_names(f"grant {gid} is in the registry but was never logged")


def test_untouched_registry_passes_the_cross_check(home: Path, tmp_path: Path) -> None:
    key = add_performer(tmp_path)
    gid = registered_grant(tmp_path, key, "ava", "--max-renders", "3")
    assert _decide()[0]
    assert run_cli("consent", "revoke", gid, "--studio").code == 0
    r = run_cli("audit", "verify", "--json")
    assert r.code == 0, r.err
    assert r.json()["registry"] == {"performers": 1, "grants": 1, "revocations": 1,
                                    "matches_ledger": True}
