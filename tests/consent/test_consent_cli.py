"""The consent story through the CLI, on SQLite and on a real PostgreSQL server.

Faces: fictional flare-game portraits shipped in assets/faces (CC-BY-SA-3.0+).
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tests.support.cli import run_cli, snapshot_db
from tests.support.people import add_performer, draft, grant_id_of, registered_grant, signed_grant


def test_init_is_idempotent_and_key_is_private(home: Path) -> None:
    key = home / "keys" / "studio_ed25519.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE((home / "keys" / "watermark.key").stat().st_mode) == 0o600
    before = key.read_bytes()
    r = run_cli("init", "--json")
    assert r.code == 0
    assert r.json()["changed"] is False
    assert key.read_bytes() == before


def test_allowed_then_revoked(home: Path, tmp_path: Path) -> None:
    key = add_performer(tmp_path)
    gid = registered_grant(tmp_path, key, "ava", "--language", "es")
    r = run_cli("consent", "check", "--performer", "ava", "--use", "dubbing", "--use",
                "lip_sync", "--language", "es-MX", "--json")
    assert r.code == 0, r.err
    assert r.json()["allowed"] is True and r.json()["grant_ids"] == [gid]

    r = run_cli("consent", "revoke", gid, "--key", key, "--reason", "changed my mind")
    assert r.code == 0, r.err
    r = run_cli("consent", "check", "--performer", "ava", "--use", "dubbing", "--json")
    assert r.code == 3
    assert "error: consent denied" in r.err
    assert any("revoked" in reason for reason in r.json()["reasons"])
    listed = run_cli("consent", "list", "--json").json()["grants"]
    assert listed[0]["status"] == "revoked"


@pytest.mark.parametrize("options,request_args,expect", [
    (["--language", "es"], ["--use", "dubbing", "--language", "fr"], "language fr not in es"),
    (["--production", "spring"], ["--use", "dubbing", "--production", "autumn"],
     "production autumn not in spring"),
    (["--territory", "ES"], ["--use", "dubbing", "--territory", "MX"], "territory MX not in ES"),
    ([], ["--use", "avatar"], "does not grant use avatar"),
    (["--valid-from", "2029-01-01"], ["--use", "dubbing"], "not valid before"),
])
def test_denied_with_reason(home: Path, tmp_path: Path, options: list[str],
                            request_args: list[str], expect: str) -> None:
    key = add_performer(tmp_path)
    registered_grant(tmp_path, key, "ava", *options)
    before = snapshot_db()
    r = run_cli("consent", "check", "--performer", "ava", *request_args, "--json")
    assert r.code == 3
    assert expect in " ".join(r.json()["reasons"])
    after = snapshot_db()
    # a denial changes nothing but the ledger, which gains exactly the decision entry
    assert {k: v for k, v in after.items() if k != "ledger_entries"} == \
        {k: v for k, v in before.items() if k != "ledger_entries"}
    assert len(after["ledger_entries"]) == len(before["ledger_entries"]) + 1
    assert '"kind":"decision"' in after["ledger_entries"][-1][3]


def test_unknown_performer_check_denied(home: Path) -> None:
    r = run_cli("consent", "check", "--performer", "nobody", "--use", "dubbing")
    assert r.code == 3
    assert "unknown performer nobody" in r.err


def _refused(args: list[str | Path], code: int, message: str) -> None:
    before = snapshot_db()
    r = run_cli(*args)
    assert r.code == code, (r.out, r.err)
    assert r.err.startswith("error: "), r.err
    assert message in r.err
    assert "Traceback" not in r.err
    assert snapshot_db() == before


def test_tampered_grant_is_refused(home: Path, tmp_path: Path) -> None:
    key = add_performer(tmp_path)
    path = signed_grant(tmp_path, key)
    doc = json.loads(path.read_text())
    doc["grant"]["uses"] = ["avatar", "dubbing", "lip_sync"]
    path.write_text(json.dumps(doc))
    _refused(["consent", "register", path], 4, "does not match the signed content")


def test_grant_signed_with_wrong_key_is_refused(home: Path, tmp_path: Path) -> None:
    add_performer(tmp_path)
    assert run_cli("keys", "new", "--out", tmp_path / "mallory.key").code == 0
    path = signed_grant(tmp_path, tmp_path / "mallory.key")
    _refused(["consent", "register", path], 4, "made with another key")


def test_unsigned_grant_is_refused(home: Path, tmp_path: Path) -> None:
    add_performer(tmp_path)
    _refused(["consent", "register", draft(tmp_path)], 4, "has not signed")


def test_grant_for_unknown_performer_is_refused(home: Path, tmp_path: Path) -> None:
    key = add_performer(tmp_path)
    path = signed_grant(tmp_path, key, "ghost")
    _refused(["consent", "register", path], 2, "unknown performer 'ghost'")


@pytest.mark.parametrize("content,message", [
    ("{not json", "grant"),
    ('{"grant": {"performer_id": "ava"}}', "grant.uses: Field required"),
    ("", "Invalid JSON"),
])
def test_malformed_grant_files(home: Path, tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    _refused(["consent", "register", path], 2, message)


def test_registering_twice_is_refused(home: Path, tmp_path: Path) -> None:
    key = add_performer(tmp_path)
    path = signed_grant(tmp_path, key)
    assert run_cli("consent", "register", path).code == 0
    _refused(["consent", "register", path], 2, "already registered")


@pytest.mark.parametrize("options,message", [
    (["--use", "telepathy"], "uses.1: Input should be 'dubbing'"),
    (["--language", "xx-YY"], "unknown language code"),
    (["--language", "spanish!"], "bad language code"),
    (["--territory", "QQ"], "unknown territory code"),
    (["--valid-until", "2020-01-01"], "valid_until must be after valid_from"),
    (["--valid-until", "2045-01-01"], "at most 10 years"),
    (["--valid-until", "someday"], "not an ISO date"),
])
def test_bad_draft_options(home: Path, tmp_path: Path, options: list[str], message: str) -> None:
    out = tmp_path / "g.json"
    args = ["consent", "draft", "--performer", "ava", "--out", out, "--description",
            "A description long enough to pass", "--use", "dubbing",
            "--valid-until", "2030-01-01", *options]
    _refused(args, 2, message)
    assert not out.exists()


def test_expired_grant_cannot_be_registered(home: Path, tmp_path: Path) -> None:
    key = add_performer(tmp_path)
    path = signed_grant(tmp_path, key, "ava", "--valid-from", "2019-01-01",
                        "--valid-until", "2020-01-01")
    _refused(["consent", "register", path], 2, "already expired")


def test_revoke_with_foreign_key_is_refused(home: Path, tmp_path: Path) -> None:
    key = add_performer(tmp_path)
    gid = registered_grant(tmp_path, key)
    assert run_cli("keys", "new", "--out", tmp_path / "other.key").code == 0
    _refused(["consent", "revoke", gid, "--key", tmp_path / "other.key"], 4,
             "neither the performer's nor the guardian's")
    assert run_cli("consent", "revoke", gid, "--studio").code == 0
    _refused(["consent", "revoke", gid, "--studio"], 2, "already revoked")


def test_minor_needs_guardian_and_short_term(home: Path, tmp_path: Path) -> None:
    assert run_cli("keys", "new", "--out", tmp_path / "guardian.key").code == 0
    key = add_performer(tmp_path, "kid", "male01.png", "--date-of-birth", "2010-06-01",
                        "--guardian-key", tmp_path / "guardian.key.pub")
    # performer alone cannot consent for a minor
    path = signed_grant(tmp_path, key, "kid", "--valid-until", "2028-01-01")
    _refused(["consent", "register", path], 4, "guardian's signature is required")
    # guardian signs, but the grant runs past the 18th birthday (2028-06-01)
    path = signed_grant(tmp_path, key, "kid", "--valid-until", "2029-01-01", name="g2.json")
    assert run_cli("consent", "sign", path, "--key", tmp_path / "guardian.key",
                   "--guardian").code == 0
    _refused(["consent", "register", path], 2, "18th birthday")
    path = signed_grant(tmp_path, key, "kid", "--valid-until", "2028-01-01", name="g3.json")
    assert run_cli("consent", "sign", path, "--key", tmp_path / "guardian.key",
                   "--guardian").code == 0
    r = run_cli("consent", "register", path)
    assert r.code == 0, r.err
    assert grant_id_of(path) in run_cli("consent", "list", "--performer", "kid").out


def test_keys_are_private_and_never_overwritten(tmp_path: Path) -> None:
    key = tmp_path / "k"
    assert run_cli("keys", "new", "--out", key).code == 0
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    before = key.read_bytes()
    r = run_cli("keys", "new", "--out", key)
    assert r.code == 2 and "refusing to overwrite" in r.err
    assert key.read_bytes() == before


def test_commands_without_a_studio_say_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIKENESS_HOME", str(tmp_path / "nowhere"))
    monkeypatch.delenv("LIKENESS_DATABASE_URL", raising=False)
    r = run_cli("consent", "list")
    assert r.code == 2 and "no studio at" in r.err and "likeness init" in r.err


def test_unusable_home_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("LIKENESS_HOME", str(blocker / "studio"))
    monkeypatch.delenv("LIKENESS_DATABASE_URL", raising=False)
    r = run_cli("init")
    assert r.code == 2 and "cannot use studio home" in r.err
    assert "Traceback" not in r.err


def test_read_only_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    if os.geteuid() == 0:
        pytest.skip("root ignores directory permissions; covered by the not-a-folder test")
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    monkeypatch.setenv("LIKENESS_HOME", str(ro / "studio"))
    r = run_cli("init")
    assert r.code == 2 and "cannot use studio home" in r.err


def test_corrupt_database_is_an_integrity_error(sqlite_home: Path) -> None:
    db = sqlite_home / "registry.db"
    for suffix in ("-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    db.write_bytes(b"garbage" * 1000)
    r = run_cli("consent", "list")
    assert r.code == 4, r.err
    assert r.err.startswith("error: ") and "Traceback" not in r.err
