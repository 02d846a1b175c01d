"""The gate on its own (library level): validity windows, identity binding, budget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from consent.gate import recheck_consent
from consent.models import FaceTrackEvidence, RenderRequest, Use
from likeness.errors import ConsentDenied
from likeness.settings import load_settings
from likeness.studio import Studio
from tests.support.cli import FACES
from tests.support.people import add_performer, registered_grant


def _studio() -> Studio:
    return Studio(load_settings())


def test_expired_at_decision_time(home: Path, tmp_path: Path) -> None:
    key = add_performer(tmp_path)
    registered_grant(tmp_path, key, "ava", "--valid-until", "2030-01-01")
    studio = _studio()
    later = datetime(2030, 6, 1, tzinfo=UTC)
    d = studio.authorize(RenderRequest(performer_id="ava", uses=(Use.DUBBING,), at=later))
    assert not d.allowed and any("expired on 2030-01-01" in r for r in d.reasons)
    d = studio.authorize(RenderRequest(performer_id="ava", uses=(Use.DUBBING,),
                                       at=later - timedelta(days=365)))
    assert d.allowed and d.render_id and len(d.render_id) == 16
    studio.close()


def test_identity_binding(home: Path, tmp_path: Path) -> None:
    from models.face import load_image
    from tests.support.engines import engine as registry_engine

    key = add_performer(tmp_path, "ava", "female01.png")
    registered_grant(tmp_path, key)
    engine = registry_engine("face", "dlib")

    def embedding(name: str) -> tuple[float, ...]:
        image = load_image(FACES / name)
        return tuple(float(x) for x in engine.embed(image, engine.detect(image)[0]))

    def track(*vectors: tuple[float, ...]) -> tuple[FaceTrackEvidence, ...]:
        return (FaceTrackEvidence(track_id=0, start_s=0.0, end_s=1.0, samples=len(vectors),
                                  embeddings=vectors),)

    studio = _studio()
    same = np.asarray(embedding("female01.png"))
    shifted = tuple(float(x) for x in same + 0.01)
    ok = studio.authorize(RenderRequest(performer_id="ava", uses=(Use.DUBBING,),
                                        face_tracks=track(shifted)))
    assert ok.allowed and ok.identity_distance is not None and ok.identity_distance < 0.35
    assert ok.identity_threshold == 0.44 and ok.identity_tracks[0].performer
    used = [g for g in studio.grants("ava")][0][1]
    bad = studio.authorize(RenderRequest(performer_id="ava", uses=(Use.DUBBING,),
                                         face_tracks=track(embedding("male01.png"))))
    assert not bad.allowed and "identity mismatch" in bad.reasons[0]
    # a mismatch takes nothing from the budget
    assert [g for g in studio.grants("ava")][0][1] == used
    studio.close()


def test_check_does_not_take_from_the_budget(home: Path, tmp_path: Path) -> None:
    key = add_performer(tmp_path)
    registered_grant(tmp_path, key, "ava", "--max-renders", "1")
    studio = _studio()
    for _ in range(3):
        d = studio.authorize(RenderRequest(performer_id="ava", uses=(Use.DUBBING,),
                                           reserve=False))
        assert d.allowed and d.render_id is None
    assert studio.authorize(RenderRequest(performer_id="ava", uses=(Use.DUBBING,))).allowed
    last = studio.authorize(RenderRequest(performer_id="ava", uses=(Use.DUBBING,)))
    assert not last.allowed and "render budget used up (1/1)" in last.reasons[0]
    studio.close()


def test_recheck_at_publish_applies_the_gates_window_and_revocation(home: Path,
                                                                     tmp_path: Path) -> None:
    """The publish-time re-check judges revocation and the validity window as the gate
    does, and leaves alone what the decision already settled (the budget)."""
    key = add_performer(tmp_path)
    gid = registered_grant(tmp_path, key, "ava", "--max-renders", "1",
                           "--valid-until", "2030-01-01")
    studio = _studio()
    decision = studio.authorize(RenderRequest(performer_id="ava", uses=(Use.DUBBING,)))
    assert decision.allowed

    def denial(now: datetime) -> ConsentDenied | None:
        with studio.session() as session:
            try:
                recheck_consent(decision, session=session, now=now, audit=studio.ledger,
                                studio_key=studio.verify_key)
            except ConsentDenied as exc:
                return exc
        return None

    assert denial(datetime.now(UTC)) is None  # the budget is used up by this very render
    expired = denial(datetime(2030, 1, 1, tzinfo=UTC))
    assert expired is not None and expired.reasons == ["expired"]
    assert "expired on 2030-01-01" in expired.message
    early = denial(decision.decided_at - timedelta(days=1))
    assert early is not None and early.reasons == ["not_yet_valid"]
    studio.revoke(gid, key=None, reason="withdrawn mid-render")
    revoked = denial(datetime.now(UTC))
    assert revoked is not None and revoked.reasons == ["revoked"]
    assert "revoked after the decision" in revoked.message
    studio.close()
