"""Scale-out for real (docs/scale-out.md): a long-lived Prefect server on 127.0.0.1, a
throw-away PostgreSQL registry, a process work pool with a concurrency limit, two
workers, the batch deployment from prefect.yaml (created by `likeness deploy`), and a
job file of four jobs (one denied) submitted as one flow run per job. Outputs verify
intact; the ledger verifies.

Slow (a server, two workers and a Python process per flow run): `make test-all`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import ROOT, run_cli
from tests.support.media import face_clip
from tests.support.people import add_performer, registered_grant

POOL = "likeness"  # the work pool prefect.yaml names
SLOTS = 2
RUN_TIMEOUT_S = 900.0
JOB = """  - name: {name}
    kind: stamp
    input: media/ava.mp4
    use: [dubbing]
    language: {language}
    performer: ava
    out: out/{name}.mp4
"""
JOBS = {"clip-1": "es", "clip-2": "es", "clip-3": "es", "clip-fr": "fr"}  # fr is not granted


@pytest.fixture
def pg_studio(pg_server: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    url = pg_server.create_database(f"scale_{os.getpid()}")  # type: ignore[attr-defined]
    home = tmp_path / "studio"
    monkeypatch.setenv("LIKENESS_HOME", str(home))
    monkeypatch.setenv("LIKENESS_DATABASE_URL", url)
    assert run_cli("init", "--studio", "Scale Studio").code == 0
    key = add_performer(tmp_path)
    registered_grant(tmp_path, key, "ava", "--language", "es", "--use", "dubbing",
                     "--max-renders", "10")
    return home


@pytest.fixture
def prefect_stack(pg_studio: Path, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Server, pool with SLOTS render slots, the batch deployment, two workers."""
    from flows import server

    state = server.start(pg_studio)
    assert state.url is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update({"PREFECT_API_URL": state.url, "PREFECT_HOME": str(tmp_path / "prefect-client"),
                "PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_LOGGING_LEVEL": "WARNING",
                "DO_NOT_TRACK": "1", "PYTHONPATH": str(ROOT)})
    workers: list[subprocess.Popen[bytes]] = []
    try:
        deployed = run_cli("deploy", "--pool", POOL, "--slots", str(SLOTS), "--json")
        assert deployed.code == 0, deployed.err
        assert "batch" in deployed.json()["deployments"]
        for name in ("worker-a", "worker-b"):
            log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - closed with the worker
            workers.append(subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", "prefect", "worker", "start", "--pool", POOL,
                 "--name", name], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True))
        yield env
    finally:
        for worker in workers:
            for sig in (signal.SIGINT, signal.SIGINT, signal.SIGKILL):
                if worker.poll() is not None:
                    break
                os.killpg(worker.pid, sig)
                try:
                    worker.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    continue
        server.stop(pg_studio)


@pytest.mark.slow
def test_four_jobs_through_two_workers_on_a_pool(
        pg_studio: Path, prefect_stack: dict[str, str], tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    began = time.perf_counter()
    batch = tmp_path / "batch"
    (batch / "media").mkdir(parents=True)
    (batch / "out").mkdir()
    face_clip(batch / "media" / "ava.mp4", seconds=3.0)
    jobs_file = batch / "jobs.yaml"
    jobs_file.write_text("jobs:\n" + "".join(JOB.format(name=n, language=lang)
                                             for n, lang in JOBS.items()), encoding="utf-8")

    with temporary_settings(updates={PREFECT_API_URL: prefect_stack["PREFECT_API_URL"]}):
        runs = {name: run_deployment("batch-deployment/batch", timeout=0, parameters={
            "jobs_file": str(jobs_file), "only": [name]}) for name in JOBS}
        deadline = time.monotonic() + RUN_TIMEOUT_S
        with get_client(sync_client=True) as client:
            assert client.read_work_pool(POOL).concurrency_limit == SLOTS
            while True:
                states = {n: client.read_flow_run(r.id).state for n, r in runs.items()}
                if all(s is not None and s.is_final() for s in states.values()):
                    break
                assert time.monotonic() < deadline, {n: s and s.name for n, s in states.items()}
                time.sleep(2)
    elapsed = time.perf_counter() - began
    print(f"scale-out: 4 jobs through 2 workers in {elapsed:.1f} s")

    assert {n: s.is_completed() for n, s in states.items()} == {
        "clip-1": True, "clip-2": True, "clip-3": True, "clip-fr": False}
    assert sorted(p.name for p in (batch / "out").iterdir()) == [
        "clip-1.mp4", "clip-2.mp4", "clip-3.mp4"]
    for name in ("clip-1", "clip-2", "clip-3"):
        report = run_cli("verify", batch / "out" / f"{name}.mp4", "--json")
        assert report.code == 0 and report.json()["status"] == "intact", report.out
    assert run_cli("audit", "verify").code == 0
    entries = run_cli("audit", "show", "--json").json()["entries"]
    kinds = [e["kind"] for e in entries]
    assert kinds.count("render_published") == 3
    denied = [e for e in entries if e["kind"] == "decision" and not e["payload"].get("allowed")]
    assert denied, "the French job's denial is on the ledger"
