"""Consent statement videos (issue 12 §2): a statement made in the test passes; a wrong
phrase, an expired or reused challenge, another person's face, a silent still image
and audio from another recording each fail with their reason, and nothing is written.

Statements: a fictional flare-game portrait lip-synced by the viseme engine to Piper
speech (tests/support/statement.py); transcripts by faster-whisper base.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from consent.challenge import ChallengeRow
from likeness.settings import load_settings
from likeness.studio import Studio
from tests.support.cli import run_cli
from tests.support.people import add_performer, draft
from tests.support.statement import statement_video

DESCRIPTION = "Spanish dub of the spring catalogue video, no endorsements"


def _challenge() -> tuple[str, str]:
    r = run_cli("consent", "challenge", "--performer", "ava", "--json")
    assert r.code == 0, r.err
    data = r.json()
    assert len(data["phrase"].split()) == 4
    return data["challenge_id"], data["phrase"]


def _evidence(grant: Path, video: Path, challenge: str) -> object:
    return run_cli("consent", "evidence", grant, "--video", video, "--challenge", challenge,
                   "--json")


@pytest.fixture
def ava(sqlite_home: Path, tmp_path: Path) -> tuple[Path, Path]:
    key = add_performer(tmp_path, "ava", "female01.png")
    return key, draft(tmp_path, "ava")


def _unchanged(grant: Path, before: bytes, home: Path) -> None:
    assert grant.read_bytes() == before
    assert not (home / "performers" / "ava" / "consent").exists()


def test_statement_passes_binds_the_grant_and_cannot_be_reused(
        ava: tuple[Path, Path], sqlite_home: Path, tmp_path: Path) -> None:
    key, grant = ava
    challenge, phrase = _challenge()
    video = statement_video(tmp_path / "ok.mp4", text=f"My words are {phrase}. {DESCRIPTION}.")
    r = _evidence(grant, video, challenge)
    assert r.code == 0, r.err
    report = r.json()
    checks = {c["name"]: c for c in report["checks"]}
    assert all(c["passed"] for c in checks.values()), checks
    assert checks["face"]["figure"] <= 0.44 and checks["lips"]["figure"] >= 0.45
    assert checks["words"]["figure"] >= 0.6
    bound = json.loads(grant.read_text())["grant"]["consent_evidence_sha256"]
    assert bound == report["video_sha256"]
    stored = Path(report["stored"])
    assert stored.is_file() and (os.stat(stored).st_mode & 0o777) == 0o600
    kinds = [e["kind"] for e in run_cli("audit", "show", "--json").json()["entries"]]
    assert "consent_evidence_verified" in kinds
    assert run_cli("audit", "verify").code == 0
    # the grant can be signed and registered; the gate may now require evidence
    assert run_cli("consent", "sign", grant, "--key", key).code == 0
    assert run_cli("consent", "register", grant).code == 0
    (sqlite_home / "config.toml").write_text("require_consent_evidence = true\n")
    assert run_cli("consent", "check", "--performer", "ava", "--use", "dubbing").code == 0
    # the same challenge again: used
    again = tmp_path / "again.json"
    again.write_text(json.dumps({"grant": json.loads(grant.read_text())["grant"],
                                 "signatures": []}))
    reused = _evidence(again, video, challenge)
    assert reused.code == 3 and "already used" in reused.err


def test_gate_denies_a_grant_without_evidence_when_required(
        ava: tuple[Path, Path], sqlite_home: Path) -> None:
    key, grant = ava
    assert run_cli("consent", "sign", grant, "--key", key).code == 0
    assert run_cli("consent", "register", grant).code == 0
    assert run_cli("consent", "check", "--performer", "ava", "--use", "dubbing").code == 0
    (sqlite_home / "config.toml").write_text("require_consent_evidence = true\n")
    r = run_cli("consent", "check", "--performer", "ava", "--use", "dubbing", "--json")
    assert r.code == 3 and "no verified consent statement" in r.out


@pytest.mark.parametrize("case", ["wrong-phrase", "other-face", "silent-still", "replayed"])
def test_statements_that_do_not_show_consent(case: str, ava: tuple[Path, Path],
                                             sqlite_home: Path, tmp_path: Path) -> None:
    _, grant = ava
    before = grant.read_bytes()
    challenge, phrase = _challenge()
    right = f"My words are {phrase}. {DESCRIPTION}."
    video = tmp_path / f"{case}.mp4"
    if case == "wrong-phrase":
        statement_video(video, text=f"{DESCRIPTION}. My words are lemon comet violin zebra.")
        reason = "words"
    elif case == "other-face":
        statement_video(video, text=right, face="male01.png")
        reason = "face"
    elif case == "silent-still":
        statement_video(video, text=right, still=True, silent=True)
        reason = "lips"
    else:  # the right words, over a recording whose mouth says something else
        statement_video(video, text="Hello, this is a recording about the weather today, "
                                    "nothing more and nothing less than that.",
                        audio_text=right)
        reason = "lips"
    r = _evidence(grant, video, challenge)
    assert r.code == 3, (r.out, r.err)
    assert r.err.startswith("error:") and f"{reason}:" in r.err
    _unchanged(grant, before, sqlite_home)


def test_expired_and_unknown_challenges(ava: tuple[Path, Path], sqlite_home: Path,
                                        tmp_path: Path) -> None:
    _, grant = ava
    before = grant.read_bytes()
    challenge, phrase = _challenge()
    studio = Studio(load_settings())
    with studio.session() as session:
        session.execute(update(ChallengeRow).values(
            expires_at=datetime.now(UTC) - timedelta(minutes=1)))
    studio.close()
    video = statement_video(tmp_path / "late.mp4", text=f"{DESCRIPTION}. {phrase}.")
    expired = _evidence(grant, video, challenge)
    assert expired.code == 3 and "expired" in expired.err
    assert _evidence(grant, video, "challenge_nope").code == 2
    _unchanged(grant, before, sqlite_home)
