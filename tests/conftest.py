"""Shared fixtures: studio homes on SQLite and on a real PostgreSQL server, and the CLI."""

from __future__ import annotations

import io
import itertools
import json
import os
import sys
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FACES = ROOT / "assets" / "faces"

os.environ.setdefault("DO_NOT_TRACK", "1")

_db_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[object]:
    from pg_server import PgServer, find_pg_bin

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


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> object:
        return json.loads(self.out)


def run_cli(*args: str | Path) -> CliResult:
    """Run `likeness` in-process (fast); SystemExit gives the exit code."""
    from likeness.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with redirect_stdout(out), redirect_stderr(err):
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            code = int(exc.code or 0)
    return CliResult(code, out.getvalue(), err.getvalue())


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


def snapshot_db() -> dict[str, list[tuple]]:
    """Every row of every registry and ledger table, to prove a failure changed nothing."""
    from sqlalchemy import text

    from likeness.settings import load_settings
    from likeness.db import make_engine

    engine = make_engine(load_settings().database_url)
    tables = ["performers", "performer_faces", "grants", "revocations", "ledger_entries",
              "ledger_tree_heads"]
    try:
        with engine.connect() as conn:
            return {t: [tuple(r) for r in conn.execute(text(f"SELECT * FROM {t} ORDER BY 1"))]
                    for t in tables}
    finally:
        engine.dispose()
