"""Issue 16 D9: `likeness dub` in a folder holding a `secrets.py` executed it (the
temporary Prefect server child runs `python -m uvicorn` with the cwd on sys.path).
Children started during a flow run get PYTHONSAFEPATH, so the cwd is not importable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from flows.prefect_env import SAFE_PATH_VARIABLE, offline_prefect


def test_children_of_a_flow_run_do_not_import_from_the_cwd(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    (tmp_path / "secrets.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    (tmp_path / "uvicorn_probe.py").write_text("import secrets\n")
    before = os.environ.get(SAFE_PATH_VARIABLE)
    with offline_prefect(home=tmp_path / "studio"):
        proc = subprocess.run([sys.executable, "-m", "uvicorn_probe"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode != 0 and "No module named uvicorn_probe" in proc.stderr
    assert not marker.exists()
    assert os.environ.get(SAFE_PATH_VARIABLE) == before  # only for the run
    # the same child outside a run shows what the setting prevents
    env = {k: v for k, v in os.environ.items() if k != SAFE_PATH_VARIABLE}
    subprocess.run([sys.executable, "-m", "uvicorn_probe"], cwd=tmp_path, env=env,
                   capture_output=True, timeout=120, check=False)
    assert marker.exists()
