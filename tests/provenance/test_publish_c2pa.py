"""C2PA conformance of what the publish path signs: created assertions, the standard
description field, the configured label namespace, RFC 3161 time-stamps from a real
local TSA, and avatars' `c2pa.created` with trainedAlgorithmicMedia."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from consent.models import Decision, Use
from provenance.c2pa import (
    C2paAction,
    ConsentAssertion,
    LedgerAssertion,
    digital_source_type_url,
    read_assertion,
    read_manifest,
)
from provenance.ledger.log import InclusionProof, SignedTreeHead
from provenance.ledger.store import LedgerEntry
from provenance.publish import Rendered, manifest_for
from provenance.readback import AUDIO_NO_TRACK, ReadBack
from tests.support.cli import run_cli
from tests.support.media import face_clip
from tests.support.people import add_performer, registered_grant
from tests.support.tsa import LocalTsa, openssl_available, start_tsa

NAMESPACE = "org.acme-pictures"


def _ledger_parts() -> tuple[LedgerEntry, SignedTreeHead, InclusionProof]:
    entry = LedgerEntry(seq=3, kind="render_published", at=datetime(2026, 5, 1, tzinfo=UTC),
                        payload={}, prev_hash="aa" * 32, leaf_hash="bb" * 32, signature="s")
    head = SignedTreeHead(tree_size=4, root_hash="cc" * 32, at="2026-05-01T00:00:01Z",
                          signature="h")
    proof = InclusionProof(leaf_index=3, leaf_hash="bb" * 32, tree_size=4,
                           root_hash="cc" * 32, path=("dd" * 32,))
    return entry, head, proof


def test_an_avatar_manifest_says_created_with_trained_algorithmic_media() -> None:
    decision = Decision(allowed=True, performer_id="ava", uses=(Use.AVATAR,), language="en",
                        territory=None, production=None, reasons=(), grant_ids=("g-1",),
                        registry_state="00" * 32, decided_at=datetime(2026, 5, 1, tzinfo=UTC),
                        render_id="0123456789abcdef")
    rendered = Rendered(
        frames=iter(()), fps=25, audio=None, title="hello.mp4",
        source_type="trainedAlgorithmicMedia",
        actions=(C2paAction(action="c2pa.created",
                            description="new video of the performer generated from text"),),
        engines=("tts:piper",))
    spec = manifest_for(rendered, decision, *_ledger_parts(), studio="Test Studio",
                        found=ReadBack(visible_label=True, video_frames=30,
                                       audio=AUDIO_NO_TRACK, seconds=0.0),
                        namespace=NAMESPACE)
    definition = spec.manifest_definition()
    actions = definition["assertions"][0]["data"]["actions"]
    assert actions[0] == {"action": "c2pa.created",
                          "description": "new video of the performer generated from text",
                          "digitalSourceType": digital_source_type_url("trainedAlgorithmicMedia")}
    assert [a["action"] for a in actions] == ["c2pa.created", "c2pa.watermarked.unbound"]
    assert actions[1]["description"].endswith("carrying the render id")
    assert f"audio mark {AUDIO_NO_TRACK}" in actions[1]["description"]  # no audio: not claimed
    assert all(a["created"] is True for a in definition["assertions"])
    labels = [a["label"] for a in definition["assertions"][1:]]
    assert labels and all(label.startswith(NAMESPACE + ".") for label in labels)


@pytest.fixture
def tsa(tmp_path: Path) -> Iterator[LocalTsa]:
    if not openssl_available():
        pytest.skip("needs the openssl command line for the local RFC 3161 TSA")
    server = start_tsa(tmp_path / "tsa")
    yield server
    server.stop()


def test_a_stamped_file_is_time_stamped_created_and_namespaced(
        sqlite_home: Path, tmp_path: Path, tsa: LocalTsa) -> None:
    tsa_root = tmp_path / "tsa-root.pem"
    tsa_root.write_bytes(tsa.root_pem)
    config = sqlite_home / "config.toml"
    config.write_text(config.read_text() + f'assertion_namespace = "{NAMESPACE}"\n'
                      f'tsa_url = "{tsa.url}"\ntsa_trust_anchor = "{tsa_root}"\n')
    key = add_performer(tmp_path)
    registered_grant(tmp_path, key, "ava", "--language", "es")
    clip = face_clip(tmp_path / "ava.mp4", seconds=3.0)
    out = tmp_path / "stamped.mp4"
    r = run_cli("stamp", clip, "--performer", "ava", "--use", "dubbing", "--use", "lip_sync",
                "--language", "es", "--out", out, "--json")
    assert r.code == 0, r.err
    v = run_cli("verify", out, "--json")
    assert v.code == 0, v.out
    manifest = v.json()["manifest"]
    assert manifest["validation_state"] == "Trusted" and manifest["timestamp"] == "trusted"
    assert manifest["signature_time"]
    created = set(manifest["created_assertions"])
    assert "c2pa.actions.v2" in created
    assert {f"{NAMESPACE}.{n}" for n in ("consent", "ledger", "watermark", "label",
                                          "engines")} <= created

    anchor = (sqlite_home / "c2pa" / "root.pem").read_bytes()
    report = read_manifest(out, trust_anchor_pem=anchor)
    assert read_assertion(report.assertions, LedgerAssertion) is None  # not the default ns
    consent = read_assertion(report.assertions, ConsentAssertion, namespace=NAMESPACE)
    assert consent is not None and consent.performer_id == "ava"
    edited = next(a for a in report.actions if a["action"] == "c2pa.edited")
    assert edited["description"].startswith("published by Likeness")
