"""`likeness batch`: a job file of allowed, denied and broken jobs through the real CLI.

Media: a fictional flare-game portrait clip with espeak-ng speech (tests/support/media.py);
Prefect runs against the test harness's temporary server.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import assert_published, run_cli
from tests.support.media import face_clip
from tests.support.people import add_performer, registered_grant

SPANISH_SRT = """1
00:00:00,300 --> 00:00:01,700
Hola, soy Ava.
"""

JOBS = """jobs:
  - name: intro-es
    kind: dub
    input: media/ava.mp4
    script: media/ava.es.srt
    language: es
    lipsync: viseme
    performer: ava
    production: spring
    out: out/intro-es.mp4
  - name: stamped
    kind: stamp
    input: media/ava.mp4
    use: [dubbing]
    language: es
    performer: ava
    out: out/stamped.mp4
  - name: intro-fr
    kind: dub
    input: media/ava.mp4
    script: media/ava.es.srt
    language: fr
    lipsync: viseme
    performer: ava
    out: out/intro-fr.mp4
  - name: broken
    kind: dub
    input: media/ava.mp4
    script: media/garbage.srt
    language: es
    lipsync: viseme
    performer: ava
    out: out/broken.mp4
"""


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return face_clip(tmp_path_factory.mktemp("media") / "ava.mp4", seconds=3.0)


def _batch_folder(tmp_path: Path, clip: Path, *, max_renders: int) -> Path:
    key = add_performer(tmp_path)
    grant = registered_grant(tmp_path, key, "ava", "--language", "es", "--max-renders",
                             str(max_renders))
    (tmp_path / "grant.id").write_text(grant, encoding="utf-8")
    media = tmp_path / "batch" / "media"
    media.mkdir(parents=True)
    (tmp_path / "batch" / "out").mkdir()
    (media / "ava.mp4").write_bytes(clip.read_bytes())
    return tmp_path / "batch"


@pytest.fixture
def job_file(sqlite_home: Path, tmp_path: Path, clip: Path) -> Path:
    folder = _batch_folder(tmp_path, clip, max_renders=10)
    (folder / "media" / "ava.es.srt").write_text(SPANISH_SRT, encoding="utf-8")
    (folder / "media" / "garbage.srt").write_text("this is not a subtitle file\n",
                                                  encoding="utf-8")
    path = folder / "jobs.yaml"
    path.write_text(JOBS, encoding="utf-8")
    return path


def test_bad_jobs_are_all_reported_with_their_lines_before_anything_renders(
        job_file: Path) -> None:
    text = job_file.read_text(encoding="utf-8")
    text = text.replace("lipsync: viseme\n    performer: ava\n    production",
                        "lipsync: magic\n    performer: ava\n    production")
    text = text.replace("input: media/ava.mp4\n    use:", "input: media/missing.mp4\n    use:")
    text = text.replace("name: broken", "name: intro-es")
    bad = job_file.with_name("bad.yaml")
    bad.write_text(text, encoding="utf-8")
    result = run_cli("batch", bad)
    assert result.code == 2, result.err
    assert result.err.startswith("error: ") and "3 problem(s)" in result.err
    assert "line 7: job 1 (intro-es) lipsync: Input should be" in result.err
    assert "line 13: job 2 (stamped) input: no such file" in result.err
    assert "line 26: job 4 (intro-es) name: used by job 1" in result.err
    assert list((job_file.parent / "out").iterdir()) == []


def test_batch_publishes_each_job_on_its_own_and_a_rerun_skips_what_is_published(
        prefect_server: None, job_file: Path) -> None:
    first = run_cli("batch", job_file, "--concurrency", "2", "--json")
    assert first.code == 3, first.err  # a denied job makes the batch exit 3
    report = first.json()
    by_name = {j["name"]: j for j in report["jobs"]}
    assert [j["name"] for j in report["jobs"]] == ["intro-es", "stamped", "intro-fr", "broken"]
    assert by_name["intro-es"]["status"] == "published"
    assert by_name["stamped"]["status"] == "published"
    assert by_name["intro-fr"]["status"] == "denied" and by_name["intro-fr"]["reason"]
    assert by_name["broken"]["status"] == "failed" and by_name["broken"]["reason"]
    assert "orchestration" in by_name["intro-es"]["stages_s"]
    outs = job_file.parent / "out"
    assert sorted(p.name for p in outs.iterdir()) == [
        "intro-es.cues.json", "intro-es.mp4", "stamped.mp4"]  # the dub's cue report beside it
    for name in ("intro-es", "stamped"):
        assert_published(Path(by_name[name]["out"]), render_id=by_name[name]["render_id"],
                         decision_id=by_name[name]["decision_id"])

    # the dub ran as a subflow named after the job, tagged for the Prefect UI
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            name=FlowRunFilterName(any_=["intro-es"])))
    assert runs and {"performer:ava", "use:dubbing", "language:es",
                     "production:spring", "kind:dub"} <= set(runs[0].tags)

    before = {p.name: p.stat().st_mtime_ns for p in outs.iterdir()}
    second = run_cli("batch", job_file, "--json")
    assert second.code == 3, second.err
    again = {j["name"]: j for j in second.json()["jobs"]}
    assert again["intro-es"]["status"] == again["stamped"]["status"] == "skipped"
    assert again["intro-es"]["render_id"] == by_name["intro-es"]["render_id"]
    assert again["intro-fr"]["status"] == "denied" and again["broken"]["status"] == "failed"
    assert {p.name: p.stat().st_mtime_ns for p in outs.iterdir()} == before

    # a changed input is a different job: the dub renders again
    (job_file.parent / "media" / "ava.es.srt").write_text(
        SPANISH_SRT.replace("Hola", "Buenas"), encoding="utf-8")
    only_dub = job_file.with_name("one.yaml")
    only_dub.write_text(JOBS.split("  - name: stamped")[0], encoding="utf-8")
    third = run_cli("batch", only_dub, "--json")
    assert third.code == 0, third.err
    rerendered = third.json()["jobs"][0]
    assert rerendered["status"] == "published"
    assert rerendered["render_id"] != by_name["intro-es"]["render_id"]


def test_ctrl_c_leaves_no_output_and_logs_render_cancelled(
        prefect_server: None, job_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C arrives while the first job encodes: it must not publish, the queued job
    must not start, and the ledger names the cancelled render."""
    import signal
    import threading

    import provenance.publish

    encode = provenance.publish.encode_marked

    def interrupted(*args: object, **kwargs: object) -> int:
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)  # the user's Ctrl-C
        return encode(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(provenance.publish, "encode_marked", interrupted)
    # Python's own Ctrl-C, whatever an earlier in-process server (uvicorn captures SIGINT)
    # left installed: the user's terminal always delivers KeyboardInterrupt to the CLI
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    two = job_file.with_name("two.yaml")
    two.write_text(JOBS.split("  - name: intro-fr")[0].replace(
        "kind: dub\n    input: media/ava.mp4\n    script: media/ava.es.srt\n    language: es\n"
        "    lipsync: viseme\n", "kind: stamp\n    input: media/ava.mp4\n    use: [dubbing]\n"
        "    language: es\n"), encoding="utf-8")
    try:
        result = run_cli("batch", two, "--concurrency", "1")
    finally:
        signal.signal(signal.SIGINT, previous)
    assert result.code == 130, (result.err, previous)
    assert list((job_file.parent / "out").iterdir()) == []  # not even a temporary file
    entries = run_cli("audit", "show", "--json").json()["entries"]
    kinds = [e["kind"] for e in entries]
    assert "render_published" not in kinds
    assert kinds.count("render_cancelled") == 1
    cancelled = next(e for e in entries if e["kind"] == "render_cancelled")
    assert cancelled["payload"]["output"] == "intro-es.mp4"
    decisions = [e for e in entries if e["kind"] == "decision"]
    assert len(decisions) == 1  # the queued job never reached the gate


@pytest.mark.slow  # ~50 s; the gate's own race test (tests/consent/test_gate_concurrency.py) stays
def test_eight_concurrent_jobs_on_a_budget_of_five_publish_exactly_five(
        prefect_server: None, sqlite_home: Path, tmp_path: Path, clip: Path) -> None:
    folder = _batch_folder(tmp_path, clip, max_renders=5)
    jobs = "jobs:\n" + "".join(
        f"  - name: s{i}\n    kind: stamp\n    input: media/ava.mp4\n    use: [dubbing]\n"
        f"    language: es\n    performer: ava\n    out: out/s{i}.mp4\n" for i in range(8))
    path = folder / "jobs.yaml"
    path.write_text(jobs, encoding="utf-8")
    result = run_cli("batch", path, "--concurrency", "8", "--json")
    assert result.code == 3, result.err
    statuses = [j["status"] for j in result.json()["jobs"]]
    reasons = [j["reason"] for j in result.json()["jobs"] if j["status"] != "published"]
    assert statuses.count("published") == 5 and statuses.count("denied") == 3, reasons
    assert all("budget" in r for r in reasons), reasons
    assert len(list((folder / "out").iterdir())) == 5


def test_a_revocation_during_a_batch_stops_every_job_not_yet_published(
        prefect_server: None, sqlite_home: Path, tmp_path: Path, clip: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The performer's grant is revoked while the first job encodes: that job is refused
    at publish (the second registry check) and the later ones at the gate."""
    import provenance.publish
    from likeness.settings import load_settings
    from likeness.studio import Studio

    folder = _batch_folder(tmp_path, clip, max_renders=10)
    grant_id = (tmp_path / "grant.id").read_text(encoding="utf-8")
    encode = provenance.publish.encode_marked
    revoked: list[bool] = []

    def revoke_then_encode(*args: object, **kwargs: object) -> int:
        if not revoked:
            studio = Studio(load_settings())
            try:
                studio.revoke(grant_id, key=None, reason="the performer withdrew consent")
            finally:
                studio.close()
            revoked.append(True)
        return encode(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(provenance.publish, "encode_marked", revoke_then_encode)
    jobs = "jobs:\n" + "".join(
        f"  - name: r{i}\n    kind: stamp\n    input: media/ava.mp4\n    use: [dubbing]\n"
        f"    language: es\n    performer: ava\n    out: out/r{i}.mp4\n" for i in range(3))
    path = folder / "jobs.yaml"
    path.write_text(jobs, encoding="utf-8")
    result = run_cli("batch", path, "--concurrency", "1", "--json")
    assert result.code == 3, result.err
    assert [j["status"] for j in result.json()["jobs"]] == ["denied"] * 3
    assert list((folder / "out").iterdir()) == []


def test_dub_jobs_take_review_and_subtitles(prefect_server: None, sqlite_home: Path,
                                            tmp_path: Path, clip: Path) -> None:
    """Issue 17: `review:` writes the lines and stops (no render, no budget), and
    `subtitles:` writes the new lines timed to the new speech beside the output."""
    folder = _batch_folder(tmp_path, clip, max_renders=1)
    (folder / "media" / "ava.es.srt").write_text(SPANISH_SRT, encoding="utf-8")
    jobs = folder / "jobs.yaml"
    jobs.write_text("""jobs:
  - name: proofread
    kind: dub
    input: media/ava.mp4
    script: media/ava.es.srt
    language: es
    performer: ava
    review: true
    out: out/proofread.mp4
  - name: subtitled
    kind: dub
    input: media/ava.mp4
    script: media/ava.es.srt
    language: es
    lipsync: viseme
    performer: ava
    subtitles: true
    out: out/subtitled.mp4
""", encoding="utf-8")
    r = run_cli("batch", jobs, "--concurrency", "1", "--json")
    assert r.code == 0, r.err  # a reviewed job is a success
    by_name = {j["name"]: j for j in r.json()["jobs"]}
    assert by_name["proofread"]["status"] == "reviewed" and "proofread.srt" in \
        by_name["proofread"]["reason"]
    assert by_name["subtitled"]["status"] == "published"  # the budget of 1 was not spent
    outs = folder / "out"
    assert sorted(p.name for p in outs.iterdir()) == [
        "proofread.srt", "subtitled.cues.json", "subtitled.mp4", "subtitled.srt"]
    assert "Hola" in (outs / "proofread.srt").read_text(encoding="utf-8")
    assert "Hola" in (outs / "subtitled.srt").read_text(encoding="utf-8")
