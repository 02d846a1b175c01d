"""Issue 16 D11: environment failures are not "tampered". An unreachable PostgreSQL, a
read-only database and a full disk exit 7 with a clear line (4 stays for integrity);
the commands that only read work on a read-only database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from likeness.db import database_error
from likeness.errors import EnvironmentFailure, IntegrityFailure
from tests.support.cli import run_cli
from tests.support.media import face_clip
from tests.support.people import add_performer, registered_grant


def test_unreachable_postgresql_is_an_environment_failure(
        sqlite_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIKENESS_DATABASE_URL",
                       "postgresql+psycopg://likeness:secret@127.0.0.1:1/likeness")
    r = run_cli("consent", "list")
    assert r.code == 7, r.err
    assert r.err.startswith("error: registry database unavailable") and "secret" not in r.err


def test_read_only_database_serves_readers(sqlite_home: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    key = add_performer(tmp_path)
    registered_grant(tmp_path, key)
    clip = face_clip(tmp_path / "clip.mp4", seconds=2.0)
    db = sqlite_home / "registry.db"
    monkeypatch.setenv("LIKENESS_DATABASE_URL", f"sqlite:///file:{db}?mode=ro&uri=true")
    for args in (["consent", "list"], ["performer", "list"], ["audit", "verify"],
                 ["audit", "show"]):
        r = run_cli(*args)
        assert r.code == 0, (args, r.err)
    assert run_cli("verify", clip).code == 6  # read, judged, nothing written
    r = run_cli("consent", "check", "--performer", "ava", "--use", "dubbing")
    assert r.code == 7, r.err
    assert "unavailable" in r.err and "readonly" in r.err


@pytest.mark.parametrize("message,kind", [
    ("database or disk is full", EnvironmentFailure),
    ("attempt to write a readonly database", EnvironmentFailure),
    ("disk I/O error", EnvironmentFailure),
    ("database disk image is malformed", IntegrityFailure),
    ("file is not a database", IntegrityFailure),
])
def test_database_errors_are_classified(message: str, kind: type) -> None:
    exc = OperationalError("INSERT ...", {}, sqlite3.OperationalError(message))
    found = database_error(exc)
    assert isinstance(found, kind)
    assert found.exit_code == (7 if kind is EnvironmentFailure else 4)
