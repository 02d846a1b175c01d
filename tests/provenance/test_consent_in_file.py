"""The performer's signed consent travels in the published file and verifies from the
file alone, with the studio's database gone; private grant fields never leak."""

from __future__ import annotations

import shutil
from pathlib import Path

from provenance.c2pa import read_manifest
from provenance.c2pa.assertions import DEFAULT_NAMESPACE
from provenance.consent_check import consent_from_file
from tests.support.cli import run_cli
from tests.support.media import face_clip
from tests.support.people import add_performer, registered_grant

COMPENSATION = "INV-7781 day rate 950 EUR"


def test_consent_verifies_from_the_file_with_the_database_gone(
        sqlite_home: Path, tmp_path: Path) -> None:
    key = add_performer(tmp_path)
    gid = registered_grant(tmp_path, key, "ava", "--language", "es",
                           "--compensation-ref", COMPENSATION)
    clip = face_clip(tmp_path / "ava.mp4", seconds=3.0)
    out = tmp_path / "stamped.mp4"
    r = run_cli("stamp", clip, "--performer", "ava", "--use", "dubbing", "--use", "lip_sync",
                "--language", "es", "--out", out, "--json")
    assert r.code == 0, r.err

    v = run_cli("verify", out, "--json")
    assert v.code == 0, v.out
    consent = v.json()["consent"]
    assert consent["verified"] is True
    [grant] = consent["grants"]
    assert grant["grant_id"] == gid and grant["signed_by"] == ["performer"]
    assert "compensation_ref" in grant["withheld"]
    text = run_cli("verify", out).out
    assert f"consent {gid}: verified from the file" in text

    assert COMPENSATION.encode() not in out.read_bytes()
    shutil.rmtree(sqlite_home)  # no registry, no ledger, no keys: the file alone
    manifest = read_manifest(out, trust_anchor_pem=None)
    summary, problems = consent_from_file(manifest, namespace=DEFAULT_NAMESPACE)
    assert problems == [] and summary["verified"] is True
    [alone] = summary["grants"]
    assert alone["performer_id"] == "ava" and alone["uses"] == ["dubbing", "lip_sync"]
    assert alone["performer_key_fingerprint"] == grant["performer_key_fingerprint"]
    assert summary["time_source"] == "ledger tree head"
