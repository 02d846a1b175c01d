"""The CLI's shape: importing it stays light, and user text is printed as data.

Faces: the fictional flare-game portrait in assets/faces (CC-BY-SA-3.0+).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import FACES, ROOT, run_cli
from tests.support.people import add_performer, registered_grant

HEAVY_MODULES = ("prefect", "cv2", "av", "torch", "dlib")
# Runs one command in a fresh interpreter, then reports what it imported on stderr.
PROBE = """\
import json, sys
from likeness.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    heavy = sorted(m for m in {heavy!r} if m in sys.modules)
    sys.stderr.write("\\nPROBE " + json.dumps({{"code": exc.code, "heavy": heavy}}))
"""


def _fresh_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """The CLI in its own process, on a console wide enough that no table cell wraps."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "300"}
    return subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY_MODULES),
                           *map(str, args)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def _probe(result: subprocess.CompletedProcess[str]) -> dict[str, object]:
    return json.loads(result.stderr.rsplit("PROBE ", 1)[1])


def test_importing_the_cli_loads_no_media_models_or_prefect() -> None:
    code = ("import json, sys, likeness.cli; "
            f"print(json.dumps(sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules)))")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == []


@pytest.mark.parametrize("args,code", [
    (["--help"], 0),
    (["consent", "list", "--json"], 0),
    (["consent", "check", "--performer", "nobody", "--use", "dubbing"], 3),
])
def test_help_and_consent_commands_stay_light(sqlite_home: Path, args: list[str],
                                              code: int) -> None:
    report = _probe(_fresh_cli(*args))
    assert report == {"code": code, "heavy": []}


def test_the_exit_skips_the_last_garbage_collections() -> None:
    """A command's process freezes what is alive before the interpreter tears down (the
    exit-time collections cost a render up to ~3 s here): a hook registered before main
    runs after it and sees the objects frozen; a process that only imports the CLI
    keeps its usual exit."""
    def frozen_at_exit(runs: int) -> str:
        code = ("import atexit, gc; from likeness.cli import main\n"
                "atexit.register(lambda: print(gc.get_freeze_count() > 0))\n"
                f"for _ in range({runs}):\n"
                "    try:\n        main(['--help'])\n    except SystemExit:\n        pass\n")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=120, check=False)
        assert r.returncode == 0, r.stderr
        return r.stdout.splitlines()[-1]

    assert frozen_at_exit(2) == "True"
    assert frozen_at_exit(0) == "False"


@pytest.mark.parametrize("name", ["[bold]Ava[/]", "Ava [/red]"])
def test_a_performer_name_with_markup_prints_literally(sqlite_home: Path, tmp_path: Path,
                                                       name: str) -> None:
    key = tmp_path / "ava.key"
    assert run_cli("keys", "new", "--out", key).code == 0
    r = run_cli("performer", "add", "--id", "ava", "--name", name, "--face",
                FACES / "female01.png", "--public-key", f"{key}.pub")
    assert r.code == 0, r.err
    listed = run_cli("performer", "list")
    assert listed.code == 0, listed.err
    assert name in listed.out


def test_a_revocation_reason_with_markup_prints_literally(sqlite_home: Path,
                                                          tmp_path: Path) -> None:
    key = add_performer(tmp_path)
    gid = registered_grant(tmp_path, key)
    reason = "[red]changed[/] my mind [/b]"
    assert run_cli("consent", "revoke", gid, "--key", key, "--reason", reason).code == 0
    shown = _fresh_cli("audit", "show")
    assert _probe(shown)["code"] == 0, shown.stderr
    assert f"reason={reason}" in shown.stdout


def test_audit_show_limit_gives_the_newest_entries_oldest_first(sqlite_home: Path,
                                                                tmp_path: Path) -> None:
    key = add_performer(tmp_path)
    registered_grant(tmp_path, key)
    for language in ("es", "fr", "de"):
        run_cli("consent", "check", "--performer", "ava", "--use", "dubbing",
                "--language", language)
    everything = run_cli("audit", "show", "--json").json()["entries"]
    newest = run_cli("audit", "show", "--limit", "2", "--json").json()["entries"]
    assert len(everything) >= 4
    assert [e["seq"] for e in newest] == [e["seq"] for e in everything[-2:]]
    assert [e["payload"]["language"] for e in newest] == ["fr", "de"]
