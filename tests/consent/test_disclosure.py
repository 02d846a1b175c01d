"""Selective disclosure: the signed grant travels without its private values, and its
signatures and scope check from the embedded form alone; format-1 grants still verify."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from consent.disclosure import DIGESTS_KEY, signed_form
from consent.embedded import RenderScope, check_grants, embed_grant
from consent.grants import (
    countersign,
    sign_as_person,
    verify_person_signatures,
    verify_studio_signature,
)
from consent.models import PRIVATE_FIELDS, GrantTerms, Performer, SignedGrant, Use
from consent.signing import SigningKey
from tests.support.cli import run_cli

START = datetime(2026, 1, 1, tzinfo=UTC)


def _terms(**extra: object) -> GrantTerms:
    fields: dict[str, object] = {
        "performer_id": "ava", "uses": ["dubbing", "lip_sync"], "languages": ["es"],
        "description": "Spanish dub of the spring catalogue video, no endorsements",
        "valid_from": START, "valid_until": START + timedelta(days=365),
        "compensation_ref": "INV-2026-0042 / 1200 EUR", "contract_sha256": "ab" * 32}
    fields.update(extra)
    return GrantTerms.parse(**fields)


def _registered(terms: GrantTerms) -> tuple[SignedGrant, SigningKey, SigningKey]:
    performer, studio = SigningKey.generate(), SigningKey.generate()
    signed = sign_as_person(SignedGrant(grant=terms), performer, guardian=False)
    return countersign(signed, studio), performer, studio


def _scope(**extra: object) -> RenderScope:
    fields: dict[str, object] = {"performer_id": "ava", "uses": ("dubbing", "lip_sync"),
                                 "language": "es", "production": None,
                                 "rendered_at": START + timedelta(days=10)}
    fields.update(extra)
    return RenderScope.model_validate(fields)


def _studio_b64(studio: SigningKey) -> str:
    import base64

    return base64.b64encode(studio.verify_key.raw).decode()


def test_the_signed_form_hides_private_values_behind_salted_digests() -> None:
    terms = _terms()
    form = signed_form(terms)
    assert terms.schema_version == 2 and set(terms.salts) == set(PRIVATE_FIELDS)
    assert not set(PRIVATE_FIELDS) & set(form) and "salts" not in form
    assert set(form[DIGESTS_KEY]) == set(PRIVATE_FIELDS)
    assert "INV-2026" not in str(form)
    other = _terms(grant_id=terms.grant_id, created_at=terms.created_at)
    assert signed_form(other)[DIGESTS_KEY] != form[DIGESTS_KEY]  # fresh salts per draft
    reread = GrantTerms.from_json(terms.model_dump_json())
    assert signed_form(reread) == form  # re-reading the file never changes what is signed


def test_embedded_grant_verifies_from_the_file_alone_and_discloses_only_what_was_agreed() -> None:
    registered, performer, studio = _registered(_terms(disclose=["contract_sha256"]))
    embedded = embed_grant(registered, performer_key=performer.verify_key, guardian_key=None)
    assert "INV-2026" not in embedded.model_dump_json()
    [check] = check_grants((embedded,), studio_key=_studio_b64(studio), scope=_scope())
    assert check.verified and check.problems == ()
    assert check.performer_key_fingerprint == performer.verify_key.key_id
    assert check.studio_key_fingerprint == studio.verify_key.key_id
    assert check.signed_by == ("performer",)
    assert check.disclosed == {"contract_sha256": "ab" * 32}
    assert check.withheld == ("compensation_ref", "consent_evidence_sha256")


@pytest.mark.parametrize(("scope", "problem"), [
    ({"uses": ("avatar",)}, "does not allow avatar"),
    ({"language": "fr"}, "does not cover language fr"),
    ({"performer_id": "bob"}, "is for performer ava"),
    ({"rendered_at": START + timedelta(days=400)}, "not valid at the render time"),
])
def test_a_render_outside_the_grant_is_reported(scope: dict, problem: str) -> None:
    registered, performer, studio = _registered(_terms())
    embedded = embed_grant(registered, performer_key=performer.verify_key, guardian_key=None)
    [check] = check_grants((embedded,), studio_key=_studio_b64(studio), scope=_scope(**scope))
    assert not check.verified and any(problem in p for p in check.problems)


def test_changed_terms_a_forged_disclosure_or_another_studio_key_are_caught() -> None:
    registered, performer, studio = _registered(_terms(disclose=["compensation_ref"]))
    embedded = embed_grant(registered, performer_key=performer.verify_key, guardian_key=None)
    assert embedded.signed_terms is not None
    widened = embedded.model_copy(update={"signed_terms": {**embedded.signed_terms,
                                                           "uses": ["avatar", "dubbing"]}})
    [check] = check_grants((widened,), studio_key=_studio_b64(studio), scope=_scope())
    assert any("performer signature does not match" in p for p in check.problems)
    lied = embedded.model_copy(update={"disclosed": {
        "compensation_ref": (embedded.disclosed["compensation_ref"][0], "5000 EUR")}})
    [check] = check_grants((lied,), studio_key=_studio_b64(studio), scope=_scope())
    assert any("disclosed compensation_ref does not match" in p for p in check.problems)
    [check] = check_grants((embedded,), studio_key=_studio_b64(SigningKey.generate()),
                           scope=_scope())
    assert any("studio signature was made with another key" in p for p in check.problems)


def test_format_1_grants_stay_verifiable_and_are_embedded_only_without_private_values(
) -> None:
    performer, studio = SigningKey.generate(), SigningKey.generate()
    old = GrantTerms.parse(schema_version=1, performer_id="ava", uses=["dubbing"],
                           description="An older grant signed before selective disclosure",
                           valid_from=START, valid_until=START + timedelta(days=30))
    document = old.model_dump(mode="json", exclude={"salts", "disclose", "studio_key_id"})
    assert "salts" not in document  # exactly the fields format 1 had
    signed = SignedGrant(grant=old, signatures=(performer.sign(document, role="performer"),))
    record = Performer(performer_id="ava", name="Ava", public_key_id=performer.verify_key.key_id,
                       created_at=START)
    verify_person_signatures(signed, performer=record, performer_key=performer.verify_key,
                             guardian_key=None, now=START)
    registered = countersign(signed, studio)
    verify_studio_signature(registered, studio.verify_key)
    [check] = check_grants((embed_grant(registered, performer_key=performer.verify_key,
                                        guardian_key=None),),
                           studio_key=_studio_b64(studio),
                           scope=_scope(uses=("dubbing",), language=None))
    assert check.verified and check.format == 1

    private = old.model_copy(update={"compensation_ref": "INV-1"})
    kept_out = embed_grant(SignedGrant(grant=private), performer_key=performer.verify_key,
                           guardian_key=None)
    assert kept_out.signed_terms is None and "INV-1" not in kept_out.model_dump_json()
    [check] = check_grants((kept_out,), studio_key=_studio_b64(studio), scope=_scope())
    assert not check.verified and check.problems == () and check.note
    assert Use.DUBBING in old.uses


def test_the_draft_command_records_what_the_performer_agrees_to_disclose(
        sqlite_home: Path, tmp_path: Path) -> None:
    out = tmp_path / "grant.json"
    base = ("consent", "draft", "--performer", "ava", "--use", "dubbing", "--valid-until",
            "2030-01-01", "--description", "Spanish dub of the spring catalogue video",
            "--compensation-ref", "INV-9", "--out", out)
    r = run_cli(*base, "--disclose", "compensation_ref")
    assert r.code == 0, r.err
    grant = SignedGrant.from_file(out).grant
    assert grant.disclose == ("compensation_ref",) and grant.schema_version == 2
    out.unlink()
    bad = run_cli(*base, "--disclose", "description")
    assert bad.code == 2 and bad.err.startswith("error: grant: disclose")
