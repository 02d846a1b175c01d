"""`likeness server start|status|stop`: a real long-lived Prefect server on 127.0.0.1.

It is started from a folder holding a `secrets.py` that would leave a marker when
imported (issue 16, D9: Prefect imports the stdlib `secrets`, and a server run with the
user's folder on `sys.path` would import theirs): the isolated child must not.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.cli import run_cli

MARKER = "imported-user-secrets"


def test_server_start_status_stop_and_renders_find_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "studio"
    monkeypatch.setenv("LIKENESS_HOME", str(home))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    user = tmp_path / "user"
    user.mkdir()
    (user / "secrets.py").write_text(
        f"open({str(user / MARKER)!r}, 'w').write('x')\n", encoding="utf-8")
    monkeypatch.chdir(user)

    assert run_cli("server", "status", "--json").json()["running"] is False
    started = run_cli("server", "start", "--json")
    try:
        assert started.code == 0, started.err
        state = started.json()
        assert state["running"] and state["url"].startswith("http://127.0.0.1:")
        assert (home / "prefect" / "server.json").is_file()
        assert (home / "prefect" / "server.log").is_file()
        assert not (user / MARKER).exists(), "the server imported the user's secrets.py"

        again = run_cli("server", "start", "--json").json()  # idempotent: the same server
        assert again["pid"] == state["pid"]
        status = run_cli("server", "status", "--json").json()
        assert status["running"] and status["pid"] == state["pid"]
        assert status["runs"] == 0 and status["uptime_s"] >= 0

        from prefect.settings import PREFECT_API_URL

        from flows.prefect_env import offline_prefect

        with offline_prefect(home=home):  # what every render does
            assert PREFECT_API_URL.value() == state["url"]
    finally:
        stopped = run_cli("server", "stop", "--json")
    assert stopped.code == 0, stopped.err
    assert not (home / "prefect" / "server.json").exists()
    with pytest.raises(ProcessLookupError):
        os.kill(state["pid"], 0)
    assert run_cli("server", "status", "--json").json()["running"] is False
    assert run_cli("server", "stop").code == 2  # nothing to stop: one error line
