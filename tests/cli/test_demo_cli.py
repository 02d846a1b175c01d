"""`likeness demo` runs the whole story with no arguments beyond an output folder."""

from __future__ import annotations

from pathlib import Path

from tests.support.cli import run_cli


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    """With the optional consent-statement step, so one run covers the whole story."""
    r = run_cli("demo", "--out", tmp_path / "demo", "--statement", "--json")
    assert r.code == 0, r.err
    result = r.json()
    assert result["ok"] is True
    checks = {c["name"]: c for c in result["evidence"]["checks"]}
    assert set(checks) >= {"face", "words", "lips"} and all(c["passed"] for c in checks.values())
    stored = Path(result["home"]) / "performers" / "ava" / "consent"
    kept = list(stored.iterdir())
    assert [p.stem for p in kept] == [result["evidence"]["video_sha256"]]
    assert kept[0].stat().st_mode & 0o777 == 0o600
    assert result["verify"] == {"published": "intact", "re-encoded": "derived",
                                "one byte changed": "tampered", "the source": "unknown",
                                "dubbed": "intact", "avatar": "intact",
                                "avatar dubbed": "intact"}
    assert Path(result["published"]).is_file() and Path(result["dubbed"]).is_file()
    # only the published outputs and the throw-away studio/keys land in the folder
    names = sorted(p.name for p in (tmp_path / "demo").iterdir())
    assert result["batch"] == {"restamp": "published", "hello-again": "published",
                               "intro-fr": "denied"}
    assert sorted(p.name for p in (tmp_path / "demo" / "batch").iterdir() if p.suffix == ".mp4"
                  ) == ["hello-again.mp4", "restamp.mp4"]  # the denied job wrote nothing
    assert names == ["ava.key", "ava.key.pub", "batch", "hello-avatar.es.cues.json",
                     "hello-avatar.es.mp4", "hello-avatar.mp4", "intro-es.cues.json",
                     "intro-es.mp4", "intro-stamped.mp4", "studio"]  # the dubs' cue reports


def test_help_is_fast_and_lists_commands() -> None:
    r = run_cli("--help")
    assert r.code == 0
    for command in ("init", "consent", "stamp", "verify", "audit", "models", "demo"):
        assert command in r.out
