"""Issue 16 A3: sock-puppet enrolment. An operator enrolled a real performer's face under
a new id with a key the operator held, self-signed a grant and rendered her. A face that
matches a registered performer cannot be enrolled again (a look-alike needs a logged
override), one key belongs to one performer, and ids are case-insensitive."""

from __future__ import annotations

from pathlib import Path

from tests.support.cli import FACES, run_cli, snapshot_db
from tests.support.people import add_performer


def _add(tmp_path: Path, pid: str, face: str, key: Path, *extra: str | Path) -> object:
    return run_cli("performer", "add", "--id", pid, "--name", pid, "--face", FACES / face,
                   "--public-key", f"{key}.pub", *extra)


def _new_key(tmp_path: Path, name: str) -> Path:
    key = tmp_path / f"{name}.key"
    assert run_cli("keys", "new", "--out", key).code == 0
    return key


def test_registered_face_under_a_new_id_is_refused(home: Path, tmp_path: Path) -> None:
    add_performer(tmp_path, "ava", "female01.png")
    mallory = _new_key(tmp_path, "mallory")
    before = snapshot_db()
    r = _add(tmp_path, "ava-2", "female01.png", mallory)
    assert r.code == 3, r.err
    assert "matches registered performer 'ava'" in r.err and "--look-alike-of ava" in r.err
    assert snapshot_db() == before


def test_look_alike_override_is_explicit_and_logged(home: Path, tmp_path: Path) -> None:
    add_performer(tmp_path, "ava", "female01.png")
    twin = _new_key(tmp_path, "twin")
    r = _add(tmp_path, "ava-twin", "female01.png", twin, "--look-alike-of", "ava")
    assert r.code == 0, r.err
    entries = run_cli("audit", "show", "--json").json()["entries"]
    added = [e for e in entries if e["kind"] == "performer_added"]
    assert added[-1]["payload"]["performer_id"] == "ava-twin"
    assert added[-1]["payload"]["look_alike_of"] == ["ava"]
    r = _add(tmp_path, "carl", "male01.png", _new_key(tmp_path, "carl"),
             "--look-alike-of", "nobody")
    assert r.code == 2 and "no such performer" in r.err


def test_one_public_key_one_performer(home: Path, tmp_path: Path) -> None:
    key = add_performer(tmp_path, "ava", "female01.png")
    r = _add(tmp_path, "bob", "male01.png", key)
    assert r.code == 2 and "already belongs to performer 'ava'" in r.err


def test_ids_are_case_insensitive(home: Path, tmp_path: Path) -> None:
    add_performer(tmp_path, "ava", "female01.png")
    r = _add(tmp_path, "Ava", "male01.png", _new_key(tmp_path, "other"))
    assert r.code == 2 and "'ava' already exists (ids are case-insensitive)" in r.err


def test_different_people_enrol_normally(home: Path, tmp_path: Path) -> None:
    add_performer(tmp_path, "ava", "female01.png")
    r = _add(tmp_path, "bob", "male01.png", _new_key(tmp_path, "bob"))
    assert r.code == 0, r.err
