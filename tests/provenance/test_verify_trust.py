"""Issue 16 D13: `verify` says what it can prove. A file validly signed by another studio
is `unknown` naming its signer (exit 6), not tampered; the ledger entry is judged by its
re-hashed body, not by the leaf_hash/at/render_id columns; `likeness verify F | head -1`
is not an internal error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import ROOT, db_execute, run_cli
from tests.support.media import face_clip
from tests.support.people import add_performer, registered_grant


def _stamp(clip: Path, out: Path) -> dict:
    r = run_cli("stamp", clip, "--performer", "ava", "--use", "dubbing", "--out", out,
                "--json")
    assert r.code == 0, r.err
    return r.json()  # type: ignore[return-value]


@pytest.fixture
def stamped(sqlite_home: Path, tmp_path: Path) -> tuple[Path, dict]:
    key = add_performer(tmp_path)
    registered_grant(tmp_path, key)
    clip = face_clip(tmp_path / "ava.mp4", seconds=3.0)
    out = tmp_path / "stamped.mp4"
    return out, _stamp(clip, out)


def test_file_signed_by_another_studio_is_unknown_naming_it(
        sqlite_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home_b = tmp_path / "studio-b"
    monkeypatch.setenv("LIKENESS_HOME", str(home_b))
    assert run_cli("init", "--studio", "Other Pictures").code == 0
    key = add_performer(tmp_path)
    registered_grant(tmp_path, key)
    out = tmp_path / "theirs.mp4"
    _stamp(face_clip(tmp_path / "ava.mp4", seconds=3.0), out)
    assert run_cli("verify", out).code == 0  # intact at the studio that made it
    monkeypatch.setenv("LIKENESS_HOME", str(sqlite_home))
    r = run_cli("verify", out, "--json")
    assert r.code == 6, r.out
    report = r.json()
    assert report["status"] == "unknown"  # type: ignore[index]
    assert "Other Pictures" in (report["signer"] or "")  # type: ignore[index]
    assert "signed by another party" in report["reasons"][0]  # type: ignore[index]
    r = run_cli("verify", out)
    assert r.code == 6 and "Other Pictures" in r.out and "tampered" not in r.out + r.err


def test_edited_entry_body_under_an_intact_leaf_hash_is_tampered(
        stamped: tuple[Path, dict]) -> None:
    out, receipt = stamped
    seq = receipt["ledger_seq"]
    # the columns verify reads are edited, the body stays: nothing changes in the report
    db_execute("UPDATE ledger_entries SET at = '2001-01-01 00:00:00' WHERE seq = :s",
               {"s": seq})
    r = run_cli("verify", out, "--json")
    assert r.code == 0, r.out
    assert not r.json()["rendered_at"].startswith("2001")  # type: ignore[index]
    # the body names another performer; the stored leaf hash is left as it was
    assert db_execute("UPDATE ledger_entries SET body = REPLACE(body, '\"performer_id\":\"ava\"',"
                      " '\"performer_id\":\"bob\"') WHERE seq = :s", {"s": seq}) == 1
    r = run_cli("verify", out, "--json")
    assert r.code == 4, r.out
    assert "bob" not in str(r.json()["performer_id"])  # type: ignore[index]
    assert any(f"ledger entry {seq} was edited" in x for x in r.json()["reasons"])  # type: ignore[index]


def test_verify_into_a_closed_pipe_keeps_its_exit_code(stamped: tuple[Path, dict]) -> None:
    out, _ = stamped
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for extra in ([], ["--json"]):
        proc = subprocess.Popen(
            [sys.executable, "-c", "from likeness.cli import main; main()", "verify", out,
             *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT)
        assert proc.stdout is not None
        proc.stdout.close()  # `| head -0`: the reader is gone before anything is printed
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert b"internal error" not in err and b"Traceback" not in err
        assert b"BrokenPipe" not in err
