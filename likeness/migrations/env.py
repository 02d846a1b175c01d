"""Alembic environment: runs on the engine the studio hands over (no alembic.ini)."""

from __future__ import annotations

from alembic import context

import consent.challenge  # noqa: F401 - registers their tables on RegistryBase
import consent.erasure  # noqa: F401
import consent.evidence  # noqa: F401
from consent.registry import RegistryBase
from provenance.ledger.store import LedgerBase

target_metadata = [RegistryBase.metadata, LedgerBase.metadata]

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
