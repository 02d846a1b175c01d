"""The consent models' own rules: grant status, parsing options into a request, ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from consent.models import GrantTerms, RenderRequest, Use, check_identifier
from likeness.errors import BadInput

START = datetime(2030, 1, 1, tzinfo=UTC)


def _grant() -> GrantTerms:
    return GrantTerms(performer_id="ava", uses=(Use.DUBBING,), valid_from=START,
                      valid_until=START + timedelta(days=30),
                      description="Spanish dub of the spring catalogue video")


@pytest.mark.parametrize("now,revoked,status", [
    (START - timedelta(seconds=1), False, "not yet valid"),
    (START, False, "active"),
    (START + timedelta(days=30) - timedelta(seconds=1), False, "active"),
    (START + timedelta(days=30), False, "expired"),
    (START + timedelta(days=1), True, "revoked"),
    (START - timedelta(days=1), True, "revoked"),
])
def test_grant_status(now: datetime, revoked: bool, status: str) -> None:
    assert _grant().status(now=now, revoked=revoked) == status


def test_parse_builds_a_request_from_option_values() -> None:
    request = RenderRequest.parse(performer_id="ava", uses=["lip_sync", "dubbing"],
                                  language="es-mx", reserve=False)
    assert request.uses == (Use.DUBBING, Use.LIP_SYNC)
    assert request.language == "es-MX" and request.reserve is False


@pytest.mark.parametrize("fields,message", [
    ({"performer_id": "ava", "uses": ["dubbing", "telepathy"]}, "request: uses.1: Input"),
    ({"performer_id": "ava", "uses": []}, "request: uses: Tuple should have at least 1"),
    ({"performer_id": "a b", "uses": ["dubbing"]}, "request: performer_id: String should"),
])
def test_parse_errors_are_bad_input_naming_the_field(fields: dict[str, object],
                                                     message: str) -> None:
    with pytest.raises(BadInput) as caught:
        RenderRequest.parse(**fields)
    assert caught.value.message.startswith(message), caught.value.message


def test_grant_parse_names_the_grant() -> None:
    with pytest.raises(BadInput, match="^grant: document: valid_until must be after"):
        GrantTerms.parse(performer_id="ava", uses=["dubbing"], valid_from=START,
                         valid_until=START, description="Spanish dub of the spring video")


@pytest.mark.parametrize("value,ok", [
    ("ava", True), ("ava.2_b-c", True), ("a" * 64, True), ("a" * 65, False),
    ("-ava", False), ("a b", False), ("ava\n", False), ("", False)])
def test_check_identifier_matches_the_model_rule(value: str, ok: bool) -> None:
    if ok:
        assert check_identifier(value, field="--id") == value
        assert RenderRequest.parse(performer_id=value, uses=["dubbing"]).performer_id == value
    else:
        with pytest.raises(BadInput, match="^--id "):
            check_identifier(value, field="--id")
        with pytest.raises(BadInput):
            RenderRequest.parse(performer_id=value, uses=["dubbing"])
