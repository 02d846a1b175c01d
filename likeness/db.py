"""Database engines and migrations for the registry and the ledger.

SQLite (default): WAL journal, foreign keys, a 30 s busy timeout, and every
transaction opened with ``BEGIN IMMEDIATE`` so concurrent processes serialize
writers instead of failing mid-transaction. PostgreSQL: psycopg 3.
The schema is owned by Alembic (likeness/migrations), applied on ``init``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from likeness.errors import BadInput, EnvironmentFailure, IntegrityFailure, LikenessError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version"  # Alembic's own bookkeeping table
_REVISION_LINE = re.compile(r"""^(down_revision|revision)\s*=\s*['"]?([^'"\s]+)['"]?\s*$""",
                            re.MULTILINE)
SQLITE_BUSY_TIMEOUT_MS = 30_000
READ_ONLY_OPTION = "likeness_read_only"
# what the database driver says when the machine, not the data, is at fault
_ENVIRONMENT_MARKERS = ("readonly", "read-only", "disk is full", "no space", "unable to open",
                        "could not connect", "connection refused", "connection failed",
                        "server closed", "timeout expired", "disk i/o error")


def read_only(engine: Engine) -> Engine:
    """The same engine, for transactions that only read (no ``BEGIN IMMEDIATE``)."""
    return engine.execution_options(**{READ_ONLY_OPTION: True})


def database_error(exc: DBAPIError | SQLAlchemyError) -> LikenessError:
    """Classify a database error: corrupt (4), the environment (7) or bad input (2)."""
    orig = getattr(exc, "orig", None)
    msg = (str(orig) if orig is not None else str(exc)).splitlines()[0]
    low = msg.lower()
    if "malformed" in low or "not a database" in low:
        return IntegrityFailure(f"registry database is corrupt: {msg}")
    if any(marker in low for marker in _ENVIRONMENT_MARKERS):
        return EnvironmentFailure(f"registry database unavailable: {msg}",
                                  hint="check that the studio home and its database are "
                                       "writable, the disk has room and the server is up")
    return BadInput(f"registry database error: {msg}")


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # let SQLAlchemy's BEGIN below rule
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            # readers take no write lock, so they work on a read-only database too
            readonly = conn.get_execution_options().get(READ_ONLY_OPTION, False)
            conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True)


def _alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    from alembic import command

    command.upgrade(_alembic_config(engine), "head")


def head_revisions() -> frozenset[str]:
    """The revisions no other migration builds on, read from the version files' own
    ``revision``/``down_revision`` lines: every command checks the schema when it opens the
    studio, and importing Alembic for that costs ~0.15 s (``tests/consent/test_schema_check.py``
    checks this against Alembic's own answer)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        for key, value in _REVISION_LINE.findall(path.read_text(encoding="utf-8")):
            if value == "None":
                continue
            (revisions if key == "revision" else parents).add(value)
    return frozenset(revisions - parents)


def schema_is_current(engine: Engine) -> bool:
    """Whether the database's recorded revisions are exactly the migrations' heads."""
    with engine.connect() as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return False
        current = {row[0] for row in conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))}
    return current == set(head_revisions())


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error, map DB errors."""
    session = factory()
    try:
        yield session
        session.commit()
    except (DBAPIError, SQLAlchemyError) as exc:
        with suppress(Exception):
            session.rollback()
        raise database_error(exc) from None
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
