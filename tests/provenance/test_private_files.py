"""Issue 16 D10: the studio home is 0700 and the SQLite registry (face embeddings) 0600;
`render_failed` ledger entries name files, never the folders they were in."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from consent.models import Decision
from likeness.settings import load_settings
from likeness.studio import Studio
from provenance.publish import record_failure
from tests.support.cli import run_cli


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_home_and_registry_are_private(sqlite_home: Path) -> None:
    assert _mode(sqlite_home) == 0o700
    assert _mode(sqlite_home / "registry.db") == 0o600
    for suffix in ("-wal", "-shm"):
        extra = Path(f"{sqlite_home / 'registry.db'}{suffix}")
        if extra.exists():
            assert _mode(extra) == 0o600


def test_init_tightens_an_older_home(sqlite_home: Path) -> None:
    os.chmod(sqlite_home, 0o755)
    os.chmod(sqlite_home / "registry.db", 0o644)
    assert run_cli("init").code == 0
    assert _mode(sqlite_home) == 0o700 and _mode(sqlite_home / "registry.db") == 0o600


def test_render_failed_entry_keeps_names_only(sqlite_home: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, datetime

    studio = Studio(load_settings())
    out = tmp_path / "deliveries" / "client" / "out.mp4"
    decision = Decision(allowed=True, performer_id="ava", uses=(), language=None,
                        territory=None, production=None, reasons=(), grant_ids=(),
                        registry_state="0" * 64, decided_at=datetime.now(UTC),
                        render_id="00000000000000ab")
    reason = (f"OSError: [Errno 28] No space left on device: "
              f"'{out.parent}/.out.mp4.00000000000000ab.encoded.mp4' (tmp /var/tmp/x/y.wav)")
    record_failure(studio.render_context.publish, decision, stage="encode", reason=reason,
                   out=out)
    studio.close()
    entry = run_cli("audit", "show", "--json").json()["entries"][-1]  # type: ignore[index]
    assert entry["kind"] == "render_failed"
    text = entry["payload"]["reason"]
    assert ".out.mp4.00000000000000ab.encoded.mp4" in text and "y.wav" in text
    assert str(tmp_path) not in text and "/var/tmp" not in text and "deliveries" not in text
