"""Shared fixtures: studio homes on SQLite and on a real PostgreSQL server, and the CLI."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import run_cli

ROOT = Path(__file__).resolve().parents[1]

os.environ.setdefault("DO_NOT_TRACK", "1")

_db_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[object]:
    from tests.support.pg_server import PgServer, find_pg_bin

    if find_pg_bin() is None:
        pytest.skip("PostgreSQL server binaries (Debian postgresql) are not installed")
    server = PgServer.start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.db'}"
    server = request.getfixturevalue("pg_server")
    return server.create_database(f"likeness_{os.getpid()}_{next(_db_counter)}")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> Path:
    """An initialized studio home (registry on SQLite or PostgreSQL)."""
    home = tmp_path / "studio"
    monkeypatch.setenv("LIKENESS_HOME", str(home))
    monkeypatch.setenv("LIKENESS_DATABASE_URL", database_url)
    result = run_cli("init", "--studio", "Test Studio")
    assert result.code == 0, result.err
    return home


@pytest.fixture
def sqlite_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "studio"
    monkeypatch.setenv("LIKENESS_HOME", str(home))
    monkeypatch.delenv("LIKENESS_DATABASE_URL", raising=False)
    result = run_cli("init", "--studio", "Test Studio")
    assert result.code == 0, result.err
    return home
