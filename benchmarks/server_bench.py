"""What Prefect costs a render: a `likeness dub` process with and without the studio's
long-lived server, and each further job inside one `likeness batch` process.

A 4 s generated face clip (fictional portrait, espeak-ng speech) is dubbed into Spanish
from a script with the viseme lip-sync, as a separate CLI process each time, so the
figure includes Python start-up, ``import prefect`` and Prefect's run bookkeeping.
Overhead = the process's wall time minus the render's own stages (the dub result's
``stages_s``, without its ``orchestration`` entry).

Goal (issue 10): with the server up, a dub costs <= 3 s more than its stages.

    .venv/bin/python benchmarks/server_bench.py [--jobs 3]

Prints a table and writes benchmarks/results/server.json. One more dub with the server up
runs under `benchmarks.dub_phases`, which splits its overhead into phases (start-up and
imports, studio and checks, Prefect's part of the flow run, exit).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import dub_phases  # noqa: E402
from benchmarks.report import write_results  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "server.json"
GOAL_OVERHEAD_S = 3.0
CLIP_S = 4.0
SRT = """1
00:00:00,300 --> 00:00:01,700
Hola, soy Ava.

2
00:00:02,000 --> 00:00:03,800
Este vídeo está doblado con permiso.
"""
ORCHESTRATION = "orchestration"


def _cli(*args: str | Path, env: dict[str, str]) -> tuple[float, dict[str, object], int]:
    """Run `likeness` as its own process; its wall time, its --json document, exit code."""
    began = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - our own interpreter and CLI
        [sys.executable, "-c", "from likeness.cli import main; main()", *map(str, args)],
        env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - began
    try:
        data = json.loads(done.stdout)
    except ValueError:
        raise RuntimeError(f"likeness {' '.join(map(str, args))} failed ({done.returncode}): "
                           f"{done.stderr[-2000:]}") from None
    return wall, data, done.returncode


def _import_s(env: dict[str, str]) -> tuple[float, float]:
    """A process that only imports what `likeness dub` imports (Python, Prefect, media,
    engines): the part of the overhead that no server can remove. Its wall time, and its
    CPU time (user + system), which other work on the machine inflates far less."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import likeness.cli, likeness.studio, flows.dub"],  # noqa: S603
                   env=env, check=True, capture_output=True)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return round(wall, 2), round(cpu, 2)


def _stage_sum(stages: dict[str, float]) -> float:
    return sum(v for k, v in stages.items() if k != ORCHESTRATION)


def _dub(work: Path, clip: Path, script: Path, out: str, env: dict[str, str]
         ) -> dict[str, float]:
    wall, data, code = _cli("dub", clip, "--language", "es", "--script", script,
                            "--lipsync", "viseme", "--performer", "ava",
                            "--out", work / out, "--json", env=env)
    if code != 0:
        raise RuntimeError(f"dub exited {code}: {data}")
    stages = dict(data["stages_s"])  # type: ignore[arg-type]
    inside = _stage_sum(stages)
    return {"wall_s": round(wall, 2), "stages_s": round(inside, 2),
            "flow_orchestration_s": stages.get(ORCHESTRATION, 0.0),
            "overhead_s": round(wall - inside, 2)}


def _dub_phases(work: Path, clip: Path, script: Path, env: dict[str, str]
                ) -> dict[str, float]:
    """One more dub, its overhead split into phases (`benchmarks.dub_phases`)."""
    out = work / "phases.mp4"
    began = time.time()
    done = subprocess.run(  # noqa: S603 - our own interpreter and benchmark
        [sys.executable, str(Path(dub_phases.__file__)), "dub", str(clip), "--language", "es",
         "--script", str(script), "--lipsync", "viseme", "--performer", "ava", "--out",
         str(out), "--json"],
        env={**env, dub_phases.SPAWN_ENV: repr(began)}, capture_output=True, text=True,
        check=False)
    wall = time.time() - began
    if done.returncode != 0:
        raise RuntimeError(f"dub (phases) exited {done.returncode}: {done.stderr[-2000:]}")
    stages = _stage_sum(json.loads(done.stdout)["stages_s"])
    return {"wall_s": round(wall, 2), "stages_s": round(stages, 2),
            "overhead_s": round(wall - stages, 2),
            **dub_phases.split(wall, stages, done.stderr)}


def _batch(work: Path, clip: Path, script: Path, jobs: int, env: dict[str, str]
           ) -> dict[str, float]:
    lines = ["jobs:"]
    for i in range(jobs):
        lines += [f"  - name: job-{i}", "    kind: dub", f"    input: {clip}",
                  f"    script: {script}", "    language: es", "    lipsync: viseme",
                  "    performer: ava", f"    out: batch-{i}.mp4"]
    job_file = work / "jobs.yaml"
    job_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    wall, data, code = _cli("batch", job_file, "--concurrency", "1", "--json", env=env)
    if code != 0:
        raise RuntimeError(f"batch exited {code}: {data}")
    results = data["jobs"]  # type: ignore[index]
    inside = sum(_stage_sum(j["stages_s"]) for j in results)  # type: ignore[index]
    per_job = [j["seconds"] - _stage_sum(j["stages_s"]) for j in results]  # type: ignore[index]
    return {"jobs": jobs, "wall_s": round(wall, 2), "stages_s": round(inside, 2),
            "process_overhead_s": round(wall - inside, 2),
            "per_job_overhead_s": round(sum(per_job[1:]) / max(1, len(per_job) - 1), 2),
            "first_job_overhead_s": round(per_job[0], 2)}


def run(jobs: int) -> dict[str, object]:
    from flows import server
    from tests.support.media import face_clip
    from tests.support.people import add_performer, registered_grant

    with tempfile.TemporaryDirectory(prefix="likeness-server-bench-") as tmp:
        work = Path(tmp)
        home = work / "studio"
        os.environ["LIKENESS_HOME"] = str(home)
        os.environ.pop("LIKENESS_DATABASE_URL", None)
        env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
        env["PYTHONPATH"] = str(ROOT)
        _cli("init", "--studio", "Bench Studio", "--json", env=env)
        key = add_performer(work)
        registered_grant(work, key, "ava", "--language", "es", "--max-renders", "100")
        clip = face_clip(work / "ava.mp4", seconds=CLIP_S)
        script = work / "ava.es.srt"
        script.write_text(SRT, encoding="utf-8")

        _dub(work, clip, script, "warm.mp4", env)  # first run with a new Prefect home: db setup
        imports, imports_cpu = _import_s(env)
        temporary = _dub(work, clip, script, "temporary.mp4", env)
        began = time.perf_counter()
        server.start(home)
        start_s = time.perf_counter() - began
        try:
            _dub(work, clip, script, "server-warm.mp4", env)
            long_lived = _dub(work, clip, script, "server.mp4", env)
            phases = _dub_phases(work, clip, script, env)
            batch = _batch(work, clip, script, jobs, env)
            runs = server.status(home).runs
        finally:
            server.stop(home)
    return {"clip_s": CLIP_S, "cpu_count": os.cpu_count(), "platform": platform.platform(),
            "load_average_1m": round(os.getloadavg()[0], 1),  # other work slows every figure
            "temporary_server": temporary, "long_lived_server": long_lived,
            "long_lived_server_phases": phases,
            "server_start_s": round(start_s, 1), "process_imports_s": imports,
            "process_imports_cpu_s": imports_cpu,
            "batch_with_server": batch,
            "flow_runs_recorded": runs, "goal_overhead_s": GOAL_OVERHEAD_S,
            "goal_met": long_lived["overhead_s"] <= GOAL_OVERHEAD_S}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=3, help="dub jobs in the batch")
    args = parser.parse_args(argv)
    figures = run(args.jobs)
    t, s, b = (figures["temporary_server"], figures["long_lived_server"],
               figures["batch_with_server"])
    print(f"{'likeness dub of a 4 s clip':34} {'wall s':>8} {'stages s':>9} {'overhead s':>11}")
    for label, row in (("temporary in-process server", t), ("long-lived server", s)):
        print(f"{label:34} {row['wall_s']:8.2f} {row['stages_s']:9.2f} {row['overhead_s']:11.2f}")
    print(f"of which a process importing the CLI, Prefect and the dub flow: "
          f"{figures['process_imports_s']} s ({figures['process_imports_cpu_s']} s CPU)")
    p = figures["long_lived_server_phases"]
    print(f"one more dub with the server up, overhead {p['overhead_s']} s, by phase:")
    for name, seconds in p.items():
        if name.endswith("_s") and name not in ("wall_s", "stages_s", "overhead_s"):
            print(f"  {name.removesuffix('_s').replace('_', ' '):44} {seconds:6.2f}")
    print(f"server start (once): {figures['server_start_s']} s; load average "
          f"{figures['load_average_1m']} on {figures['cpu_count']} cores")
    print(f"batch of {b['jobs']} dubs, one process: wall {b['wall_s']} s, "
          f"stages {b['stages_s']} s, "
          f"first job +{b['first_job_overhead_s']} s, each further job "
          f"+{b['per_job_overhead_s']} s")
    verdict = "met" if figures["goal_met"] else "NOT met"
    print(f"goal: overhead <= {GOAL_OVERHEAD_S} s with the server up: {verdict}")
    write_results(RESULTS, figures)
    return 0 if figures["goal_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
