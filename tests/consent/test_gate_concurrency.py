"""The render budget under concurrency: several processes race for the last renders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.cli import run_cli
from tests.support.people import add_performer, registered_grant

RACER = """
import json, sys
from consent.models import RenderRequest
from likeness.settings import load_settings
from likeness.studio import Studio
studio = Studio(load_settings())
allowed = 0
for _ in range(int(sys.argv[1])):
    d = studio.authorize(RenderRequest(performer_id="ava", uses=["dubbing"], language="es"))
    allowed += d.allowed
print(json.dumps({"allowed": allowed}))
"""

PROCESSES = 4
ATTEMPTS_EACH = 3
BUDGET = 5


def test_budget_is_never_overspent(home: Path, tmp_path: Path) -> None:
    key = add_performer(tmp_path)
    gid = registered_grant(tmp_path, key, "ava", "--max-renders", str(BUDGET))
    env = dict(os.environ)
    procs = [subprocess.Popen([sys.executable, "-c", RACER, str(ATTEMPTS_EACH)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(PROCESSES)]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1])["allowed"])
    assert sum(results) == BUDGET
    grants = run_cli("consent", "list", "--json").json()["grants"]
    assert grants[0]["grant_id"] == gid and grants[0]["renders_used"] == BUDGET
    # every decision was logged: registration entries + one per attempt
    r = run_cli("consent", "check", "--performer", "ava", "--use", "dubbing", "--json")
    assert r.code == 3 and "render budget used up" in " ".join(r.json()["reasons"])
