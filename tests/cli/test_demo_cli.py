"""`likeness demo` runs the whole story with no arguments beyond an output folder."""

from __future__ import annotations

from pathlib import Path

from tests.support.cli import run_cli


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    r = run_cli("demo", "--out", tmp_path / "demo", "--json")
    assert r.code == 0, r.err
    result = r.json()
    assert result["ok"] is True
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
