"""CLI and registry helpers shared by the tests (a plainly named module: every
`conftest.py` shares one module name, so helpers must not live there)."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FACES = ROOT / "assets" / "faces"


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


def snapshot_db() -> dict[str, list[tuple]]:
    """Every row of every registry and ledger table, to prove a failure changed nothing."""
    from sqlalchemy import text

    from likeness.db import make_engine
    from likeness.settings import load_settings

    engine = make_engine(load_settings().database_url)
    tables = ["performers", "performer_faces", "grants", "revocations", "ledger_entries",
              "ledger_tree_heads"]
    try:
        with engine.connect() as conn:
            return {t: [tuple(r) for r in conn.execute(text(f"SELECT * FROM {t} ORDER BY 1"))]
                    for t in tables}
    finally:
        engine.dispose()


def assert_published(out: Path, *, render_id: str, decision_id: str) -> dict:
    """`verify` says intact with this render id, and the ledger holds exactly one
    `render_published` entry for it; returns that entry's payload."""
    report = run_cli("verify", out, "--json")
    assert report.code == 0, report.out
    assert report.json()["status"] == "intact"
    assert report.json()["render_id"] == render_id
    entries = run_cli("audit", "show", "--render", render_id, "--json").json()["entries"]
    published = [e for e in entries if e["kind"] == "render_published"]
    assert len(published) == 1
    assert published[0]["payload"]["decision_id"] == decision_id
    return published[0]["payload"]


def db_execute(sql: str, params: dict | None = None) -> int:
    """Run one statement on the studio's database as an attacker with write access (and
    no key) would; returns the number of rows it changed."""
    from sqlalchemy import text

    from likeness.db import make_engine
    from likeness.settings import load_settings

    engine = make_engine(load_settings().database_url)
    try:
        with engine.begin() as conn:
            return int(conn.execute(text(sql), params or {}).rowcount)
    finally:
        engine.dispose()
