"""The studio's C2PA assertions: one builder, one reader, labels defined once."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from consent.models import Decision, Use
from provenance.c2pa import (
    ConsentAssertion,
    EnginesAssertion,
    LabelAssertion,
    LedgerAssertion,
    LikenessAssertions,
    MalformedAssertion,
    WatermarkAssertion,
    read_assertion,
)
from provenance.c2pa.assertions import (
    DEFAULT_NAMESPACE,
    LEGACY_NAMESPACE,
    check_namespace,
)
from provenance.ledger.log import InclusionProof, SignedTreeHead
from provenance.ledger.store import LedgerEntry

RENDER_ID = "0123456789abcdef"
MODELS = (ConsentAssertion, LedgerAssertion, WatermarkAssertion, LabelAssertion,
          EnginesAssertion)


def _decision(render_id: str | None = RENDER_ID) -> Decision:
    return Decision(allowed=True, performer_id="ava", uses=(Use.DUBBING, Use.LIP_SYNC),
                    language="es", territory=None, production="spring", reasons=(),
                    grant_ids=("grant-1",), registry_state="00" * 32,
                    decided_at=datetime(2026, 3, 1, tzinfo=UTC), render_id=render_id)


def _built(decision: Decision | None = None) -> LikenessAssertions:
    entry = LedgerEntry(seq=7, kind="render_published", at=datetime(2026, 3, 1, tzinfo=UTC),
                        payload={}, prev_hash="aa" * 32, leaf_hash="bb" * 32, signature="sig")
    head = SignedTreeHead(tree_size=8, root_hash="cc" * 32, at="2026-03-01T00:00:01Z",
                          signature="head-sig")
    proof = InclusionProof(leaf_index=7, leaf_hash="bb" * 32, tree_size=8,
                           root_hash="cc" * 32, path=("dd" * 32, "ee" * 32))
    return LikenessAssertions.build(
        decision=decision or _decision(), entry=entry, head=head, proof=proof,
        studio="Test Studio", visible_label=True, engines=("face:dlib", "tts:piper"),
        video_algorithm="video/1", audio_algorithm="audio/1")


def test_builder_states_the_decision_the_ledger_entry_and_the_marks() -> None:
    decision = _decision()
    claims = _built(decision)
    assert claims.consent.decision_id == decision.decision_id
    assert claims.consent.performer_id == "ava" and claims.consent.language == "es"
    assert claims.consent.grant_ids == ("grant-1",) and claims.consent.uses == ("dubbing",
                                                                                "lip_sync")
    assert claims.consent.production == "spring" and claims.consent.studio == "Test Studio"
    assert (claims.ledger.render_id, claims.ledger.seq, claims.ledger.entry_hash) == (
        RENDER_ID, 7, "bb" * 32)
    assert claims.ledger.tree_size == 8 and claims.ledger.tree_head_signature == "head-sig"
    assert claims.ledger.inclusion_path == ("dd" * 32, "ee" * 32)
    assert claims.watermark.payload == RENDER_ID and claims.watermark.payload_bits == 64
    assert (claims.watermark.video_algorithm, claims.watermark.audio_algorithm) == (
        "video/1", "audio/1")
    assert claims.label.visible_label is True
    assert claims.engines.engines == ("face:dlib", "tts:piper")


def test_written_map_has_one_distinct_namespaced_label_per_assertion() -> None:
    written = _built().custom_assertions()
    assert sorted(written) == sorted(m.label() for m in MODELS)
    assert len({m.label() for m in MODELS}) == len(MODELS)
    assert all(label.startswith(DEFAULT_NAMESPACE + ".") for label in written)


def test_labels_follow_the_configured_namespace_and_old_files_stay_readable() -> None:
    claims = _built()
    written = claims.custom_assertions("org.acme-studio")
    assert sorted(written) == sorted(f"org.acme-studio.{m.NAME}" for m in MODELS)
    assert read_assertion(written, LedgerAssertion, namespace="org.acme-studio") == claims.ledger
    assert read_assertion(written, LedgerAssertion) is None  # another namespace: absent
    legacy = {f"{LEGACY_NAMESPACE}.{m.NAME}": v for m, v in zip(
        MODELS, (claims.custom_assertions()[m.label()] for m in MODELS), strict=True)}
    assert read_assertion(legacy, LedgerAssertion, namespace="org.acme-studio") == claims.ledger


@pytest.mark.parametrize("namespace", ["likeness", "c2pa.mine", "Org.Acme", "org..acme", ""])
def test_a_namespace_that_is_not_a_reverse_domain_is_refused(namespace: str) -> None:
    with pytest.raises(ValueError, match="reverse domain"):
        check_namespace(namespace)


def test_reader_returns_what_the_builder_wrote() -> None:
    claims = _built()
    written = claims.custom_assertions()
    parts = (claims.consent, claims.ledger, claims.watermark, claims.label, claims.engines)
    for part in parts:
        assert read_assertion(written, type(part)) == part


def test_reader_tells_absent_from_malformed() -> None:
    written = _built().custom_assertions()
    assert read_assertion({}, LedgerAssertion) is None
    broken = dict(written)
    ledger = dict(broken[LedgerAssertion.label()])  # type: ignore[arg-type]
    del ledger["entry_hash"]
    broken[LedgerAssertion.label()] = ledger
    with pytest.raises(MalformedAssertion,
                       match=re.escape(f"{LedgerAssertion.label()}: entry_hash")):
        read_assertion(broken, LedgerAssertion)
    with pytest.raises(MalformedAssertion, match=re.escape(LabelAssertion.label())):
        read_assertion({LabelAssertion.label(): "yes"}, LabelAssertion)


def test_a_decision_without_a_render_id_cannot_be_stated() -> None:
    with pytest.raises(ValueError, match="render id"):
        _built(_decision(render_id=None))
