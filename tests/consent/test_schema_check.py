"""The studio's cheap schema check (no Alembic import on every command) must agree with
Alembic itself, before and after migrating."""

from __future__ import annotations

from pathlib import Path

from alembic.script import ScriptDirectory

from likeness.db import _alembic_config, head_revisions, make_engine, migrate, schema_is_current


def test_heads_match_alembic(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    script = ScriptDirectory.from_config(_alembic_config(engine))
    assert head_revisions() == frozenset(script.get_heads())
    assert len(head_revisions()) == 1


def test_schema_check_before_and_after_migrating(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    assert not schema_is_current(engine)  # no version table yet
    migrate(engine)
    assert schema_is_current(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0001'")
    assert not schema_is_current(engine)  # an older revision is not current
