"""Issue 16 A2: grant replay across studios. A grant names the studio it is given to (the
fingerprint of its public key); another studio refuses to register it (exit 4), and
grants registered before the field existed stay valid where they were countersigned."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from consent.grants import countersign, sign_as_person
from consent.models import GrantTerms, RenderRequest, SignedGrant, Use
from consent.registry import Registry
from consent.signing import SigningKey, VerifyKey
from likeness.settings import load_settings
from likeness.studio import STUDIO_KEY_FILE, Studio
from tests.support.cli import FACES, run_cli, snapshot_db
from tests.support.people import add_performer, signed_grant


def _other_studio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: Path) -> Path:
    """Studio B on its own SQLite home, holding only ava's public key and a photo."""
    home_b = tmp_path / "studio-b"
    monkeypatch.setenv("LIKENESS_HOME", str(home_b))
    monkeypatch.setenv("LIKENESS_DATABASE_URL", f"sqlite:///{home_b / 'registry.db'}")
    assert run_cli("init", "--studio", "Studio B").code == 0
    r = run_cli("performer", "add", "--id", "ava", "--name", "Ava", "--face",
                FACES / "female01.png", "--public-key", f"{key}.pub")
    assert r.code == 0, r.err
    return home_b


def test_grant_for_studio_a_is_refused_at_studio_b(home: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    key = add_performer(tmp_path)
    path = signed_grant(tmp_path, key)
    named = json.loads(path.read_text())["grant"]["studio_key_id"]
    studio_a = VerifyKey.from_file(home / (STUDIO_KEY_FILE + ".pub"))
    assert named == studio_a.key_id
    assert run_cli("consent", "register", path).code == 0
    _other_studio(tmp_path, monkeypatch, key)
    before = snapshot_db()
    r = run_cli("consent", "register", path)
    assert r.code == 4, r.err
    assert "is given to another studio" in r.err and "Traceback" not in r.err
    assert snapshot_db() == before


def test_grant_naming_no_studio_is_refused(home: Path, tmp_path: Path) -> None:
    key = add_performer(tmp_path)
    now = datetime.now(UTC)
    terms = GrantTerms(performer_id="ava", uses=(Use.DUBBING,), valid_from=now,
                       valid_until=now + timedelta(days=30),
                       description="A grant drafted before grants named their studio")
    signed = sign_as_person(SignedGrant(grant=terms), SigningKey.from_file(key),
                            guardian=False)
    path = tmp_path / "legacy.json"
    path.write_text(signed.model_dump_json())
    assert "studio_key_id" not in signed.grant.signed_fields()
    r = run_cli("consent", "register", path)
    assert r.code == 4 and "names no studio" in r.err


def test_draft_for_a_named_studio(home: Path, tmp_path: Path) -> None:
    other = SigningKey.generate()
    other.write(tmp_path / "other.pem")
    out = tmp_path / "g.json"
    r = run_cli("consent", "draft", "--performer", "ava", "--use", "dubbing",
                "--valid-until", "2030-01-01", "--description", "A description long enough",
                "--studio-key", tmp_path / "other.pem.pub", "--out", out)
    assert r.code == 0, r.err
    assert json.loads(out.read_text())["grant"]["studio_key_id"] == other.verify_key.key_id


def test_grant_registered_before_the_field_stays_valid(home: Path, tmp_path: Path) -> None:
    key = add_performer(tmp_path)
    now = datetime.now(UTC)
    terms = GrantTerms(performer_id="ava", uses=(Use.DUBBING,), valid_from=now,
                       valid_until=now + timedelta(days=30),
                       description="A grant countersigned before grants named their studio")
    studio = Studio(load_settings())
    person_signed = sign_as_person(SignedGrant(grant=terms), SigningKey.from_file(key),
                                   guardian=False)
    registered = countersign(person_signed, studio.signing_key)
    with studio.session() as session:  # what `register` stored before this change
        Registry(session).add_grant(registered, now=now)
        studio.ledger.record(session, "grant_registered", {
            "grant_id": terms.grant_id, "performer_id": "ava", "uses": ["dubbing"],
            "grant_sha256": hashlib.sha256(registered.model_dump_json().encode()).hexdigest()})
    decision = studio.authorize(RenderRequest(performer_id="ava", uses=(Use.DUBBING,)))
    studio.close()
    assert decision.allowed, decision.reasons
    assert run_cli("audit", "verify").code == 0
