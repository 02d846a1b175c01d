"""Consent statement videos (issue 12 §2): a statement made in the test passes; a wrong
phrase, an expired or reused challenge, another person's face, a silent still image
and audio from another recording each fail with their reason, and nothing is written.

Statements: a fictional flare-game portrait lip-synced by the viseme engine to Piper
speech (tests/support/statement.py); transcripts by faster-whisper base. Real footage
with sound: PsychoPy's two clips of its author talking (tests/support/real_footage.py,
fetched at set-up), for the face and lips checks.
"""

from __future__ import annotations

import json
import os
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import update

from consent.challenge import ChallengeRow
from flows.evidence import MIN_LIP_SYNC_CORRELATION, face_check, lips_check
from likeness.settings import load_settings
from likeness.studio import Studio
from media.ffmpeg import run_ffmpeg
from models.face import load_image
from tests.support.cli import run_cli
from tests.support.engines import engine as face_engine_of
from tests.support.people import add_performer, draft
from tests.support.real_footage import PSYCHOPY_INTRO, PSYCHOPY_TALK, real_footage
from tests.support.statement import statement_video

DESCRIPTION = "Spanish dub of the spring catalogue video, no endorsements"


@pytest.fixture(autouse=True)
def known_phrases(monkeypatch: pytest.MonkeyPatch) -> None:
    """Seeded challenge words: the figures then do not depend on which four words a run
    drew (random phrases gave synthetic replays 0.16-0.37, docs/consent-evidence.md)."""
    import secrets

    monkeypatch.setattr(secrets, "choice", random.Random(12).choice)


def _listed(phrase: str) -> str:
    """The phrase as a performer reads it from the screen: word, word, word."""
    return ", ".join(phrase.split())


def _challenge() -> tuple[str, str]:
    r = run_cli("consent", "challenge", "--performer", "ava", "--json")
    assert r.code == 0, r.err
    data = r.json()
    assert len(data["phrase"].split()) == 4
    return data["challenge_id"], data["phrase"]


def _evidence(grant: Path, video: Path, challenge: str) -> object:
    return run_cli("consent", "evidence", grant, "--video", video, "--challenge", challenge,
                   "--language", "en", "--json")


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
    video = statement_video(tmp_path / "ok.mp4",
                            text=f"My words are: {_listed(phrase)}. {DESCRIPTION}.")
    r = _evidence(grant, video, challenge)
    assert r.code == 0, r.err
    report = r.json()
    checks = {c["name"]: c for c in report["checks"]}
    assert all(c["passed"] for c in checks.values()), checks
    assert checks["face"]["figure"] <= 0.44
    assert checks["lips"]["figure"] >= MIN_LIP_SYNC_CORRELATION
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
    right = f"My words are: {_listed(phrase)}. {DESCRIPTION}."
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


@pytest.fixture(scope="module")
def real_talk() -> tuple[Path, Path]:
    talk, intro = PSYCHOPY_TALK.path(), PSYCHOPY_INTRO.path()
    if talk is None or intro is None:
        pytest.skip("PsychoPy's real talking clips are not available here")
    return talk, intro


def _mux(video: Path, audio: Path, out: Path) -> Path:
    run_ffmpeg(["-y", "-i", str(video), "-i", str(audio), "-map", "0:v", "-map", "1:a",
                "-c:v", "copy", "-c:a", "aac", "-shortest", str(out)], what="replay")
    return out


def test_a_real_person_talking_passes_the_lips_check_and_a_replay_over_him_fails(
        real_talk: tuple[Path, Path], tmp_path: Path) -> None:
    """Real speech from a real mouth: both takes pass; each take's picture with the other
    take's sound (the same man, the same kind of words: the hardest replay) fails."""
    talk, intro = real_talk
    engine = face_engine_of("face", "dlib")
    for genuine in (talk, intro):
        check = lips_check(engine, genuine)
        assert check.passed, check
    for replay in (_mux(talk, intro, tmp_path / "a.mp4"), _mux(intro, talk, tmp_path / "b.mp4")):
        check = lips_check(engine, replay)
        assert not check.passed and check.figure < MIN_LIP_SYNC_CORRELATION - 0.05, check


def test_a_real_person_enrolled_from_one_take_is_recognised_in_the_other(
        real_talk: tuple[Path, Path], tmp_path: Path) -> None:
    talk, intro = real_talk
    engine = face_engine_of("face", "dlib")

    def reference(clip: Path, at: float) -> np.ndarray:
        still = tmp_path / f"{clip.stem}-{at}.png"
        run_ffmpeg(["-y", "-ss", str(at), "-i", str(clip), "-frames:v", "1", str(still)],
                   what="reference frame")
        image = load_image(still)
        return engine.embed(image, engine.detect(image)[0])

    own = face_check(engine, talk, references=[reference(intro, 2.0)], threshold=0.44,
                     engine_name="dlib")
    assert own.passed and own.figure <= 0.44, own
    pexels = real_footage()
    if pexels is not None:  # another real person's face is refused
        other = face_check(engine, talk, references=[reference(pexels, 9.0)], threshold=0.44,
                           engine_name="dlib")
        assert not other.passed and other.figure > 0.6, other
