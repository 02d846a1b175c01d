"""Issue 16 D12 (and the text half of D8): grant documents are strict. Duplicate keys,
integers that are booleans or floats, budgets past 2^31-1, oversized files, control and
bidi characters: each is exit 2 with one error line, and nothing is stored. A minor
cannot be added without a guardian key (the record could never hold a grant)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import FACES, run_cli, snapshot_db
from tests.support.people import add_performer, draft, registered_grant, signed_grant


def _refused(args: list[str | Path], message: str) -> None:
    before = snapshot_db()
    r = run_cli(*args)
    assert r.code == 2, (r.out, r.err)
    assert r.err.startswith("error: ") and message in r.err and "Traceback" not in r.err, r.err
    assert snapshot_db() == before


def test_duplicate_json_keys_are_refused(home: Path, tmp_path: Path) -> None:
    key = add_performer(tmp_path)
    path = signed_grant(tmp_path, key, "ava", "--max-renders", "5")
    text = path.read_text()
    # a viewer that keeps the first key shows a budget of 5; "last wins" would read 500
    path.write_text(text.replace('"max_renders": 5,', '"max_renders": 5, "max_renders": 500,'))
    assert path.read_text() != text
    _refused(["consent", "register", path], "duplicate key 'max_renders'")
    _refused(["consent", "sign", path, "--key", key], "duplicate key 'max_renders'")


@pytest.mark.parametrize("value", [True, 5.0, 2**53 + 1, 0])
def test_max_renders_must_be_a_bounded_integer(home: Path, tmp_path: Path,
                                               value: object) -> None:
    key = add_performer(tmp_path)
    path = draft(tmp_path)
    doc = json.loads(path.read_text())
    doc["grant"]["max_renders"] = value
    path.write_text(json.dumps(doc))
    _refused(["consent", "sign", path, "--key", key], "max_renders")


def test_huge_budget_at_draft_is_bad_input(home: Path, tmp_path: Path) -> None:
    _refused(["consent", "draft", "--performer", "ava", "--use", "dubbing", "--valid-until",
              "2030-01-01", "--description", "A description long enough to pass",
              "--max-renders", str(2**60), "--out", tmp_path / "g.json"],
             "less than or equal to 2147483647")


def test_schema_version_true_is_not_1(home: Path, tmp_path: Path) -> None:
    key = add_performer(tmp_path)
    path = draft(tmp_path)
    doc = json.loads(path.read_text())
    doc["grant"]["schema_version"] = True
    path.write_text(json.dumps(doc))
    _refused(["consent", "sign", path, "--key", key], "schema_version: must be an integer")


def test_oversized_grant_file_is_refused(home: Path, tmp_path: Path) -> None:
    add_performer(tmp_path)
    path = draft(tmp_path)
    doc = json.loads(path.read_text())
    doc["grant"]["content_restrictions"] = "x" * (20 << 20)
    path.write_text(json.dumps(doc))
    _refused(["consent", "register", path], "at most 1048576 bytes")


@pytest.mark.parametrize("field,value", [
    ("description", "Spanish dub of the catalogue\x00 video"),
    ("description", "Spanish dub of the catalogue \x1b[2J video"),
    ("description", "Spanish dub of the catalogue \u202eoediv"),
    ("compensation_ref", "ref\x1b]8;;http://x\x07"),
])
def test_control_characters_in_grant_text_are_refused(home: Path, tmp_path: Path, field: str,
                                                      value: str) -> None:
    key = add_performer(tmp_path)
    path = draft(tmp_path)
    doc = json.loads(path.read_text())
    doc["grant"][field] = value
    path.write_text(json.dumps(doc))
    _refused(["consent", "sign", path, "--key", key], "plain text only")


def test_control_characters_in_names_and_reasons_are_refused(home: Path,
                                                             tmp_path: Path) -> None:
    assert run_cli("keys", "new", "--out", tmp_path / "k").code == 0
    _refused(["performer", "add", "--id", "eve", "--name", "Eve\x1b[31m", "--face",
              FACES / "female02.png", "--public-key", tmp_path / "k.pub"], "plain text only")
    key = add_performer(tmp_path)
    gid = registered_grant(tmp_path, key)
    _refused(["consent", "revoke", gid, "--studio", "--reason", "bye\u2066"], "plain text only")


def test_minor_without_guardian_key_is_refused(home: Path, tmp_path: Path) -> None:
    assert run_cli("keys", "new", "--out", tmp_path / "k").code == 0
    _refused(["performer", "add", "--id", "kid", "--name", "Kid", "--face",
              FACES / "male01.png", "--public-key", tmp_path / "k.pub",
              "--date-of-birth", "2015-01-01"], "--guardian-key is required")
