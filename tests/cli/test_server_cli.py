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


def test_the_temporary_server_fallback_never_imports_the_users_secrets(tmp_path: Path) -> None:
    """Without a running server a render starts Prefect's temporary one (`python -m
    uvicorn` in the current folder); the user's `secrets.py` there must stay unimported."""
    import subprocess
    import sys

    from tests.support.cli import ROOT

    user = tmp_path / "user"
    user.mkdir()
    (user / "secrets.py").write_text(
        f"open({str(user / MARKER)!r}, 'w').write('x')\n", encoding="utf-8")
    program = (
        "from pathlib import Path\n"
        "from flows.prefect_env import flow, offline_prefect\n"
        "@flow(name='isolation-check', persist_result=False)\n"
        "def check() -> int:\n    return 7\n"
        f"with offline_prefect(home=Path({str(tmp_path / 'studio')!r})):\n"
        "    print('result', check())\n")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PREFECT_") and k != "PYTHONSAFEPATH"}
    env["PYTHONPATH"] = str(ROOT)
    # -P: like the `likeness` console script, the caller itself has no cwd on sys.path
    done = subprocess.run([sys.executable, "-P", "-c", program], cwd=user, env=env,  # noqa: S603
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "result 7" in done.stdout
    assert not (user / MARKER).exists(), "the temporary server imported the user's secrets.py"
