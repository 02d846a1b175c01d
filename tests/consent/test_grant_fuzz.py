"""Issue 16, property-based fuzz of grant documents (hypothesis; skipped where it is not
installed -- it belongs in the dev extra). Three properties:
1. the CLI never exits 1 on a malformed grant file (2 or 4, one `error:` line);
2. nothing is stored unless every signature verifies;
3. a stored grant edited in the database never widens a decision.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
st = pytest.importorskip("hypothesis.strategies")

from hypothesis import HealthCheck, given, settings  # noqa: E402

from consent.models import RenderRequest, Use  # noqa: E402
from likeness.settings import load_settings  # noqa: E402
from likeness.studio import Studio  # noqa: E402
from provenance.ledger.consent_state import forget_cached_states  # noqa: E402
from tests.support.cli import db_execute, run_cli, snapshot_db  # noqa: E402
from tests.support.people import add_performer, signed_grant  # noqa: E402

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=4),
    max_leaves=12)
FIELDS = ["grant_id", "performer_id", "uses", "description", "languages", "territories",
          "productions", "valid_from", "valid_until", "max_renders", "content_tags",
          "schema_version", "studio_key_id", "compensation_ref"]
FUZZ = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@pytest.fixture
def signed(sqlite_home: Path, tmp_path: Path) -> tuple[Path, dict]:
    key = add_performer(tmp_path)
    path = signed_grant(tmp_path, key, "ava", "--max-renders", "3", "--language", "es")
    return path, json.loads(path.read_text())


@FUZZ
@given(field=st.sampled_from(FIELDS), value=JSON_VALUES, where=st.sampled_from(
    ["grant", "signature", "top"]))
def test_malformed_grants_never_exit_1_and_store_nothing(signed: tuple[Path, dict],
                                                         tmp_path: Path, field: str,
                                                         value: object, where: str) -> None:
    path, original = signed
    doc = json.loads(json.dumps(original))
    if where == "grant":
        doc["grant"][field] = value
    elif where == "signature":
        doc["signatures"][0][field if field in ("role", "value") else "value"] = value
    else:
        doc[field] = value
    bad = tmp_path / "fuzzed.json"
    bad.write_text(json.dumps(doc))
    before = snapshot_db()
    r = run_cli("consent", "register", bad)
    assert r.code != 1, r.err
    if r.code != 0:
        assert r.code in (2, 4) and r.err.startswith("error: ") and "Traceback" not in r.err
        assert snapshot_db() == before
    else:  # accepted: then it must still be exactly what the performer signed
        stored = run_cli("consent", "list", "--json").json()["grants"]  # type: ignore[index]
        gid = doc["grant"]["grant_id"]
        assert any(g["grant_id"] == gid for g in stored)
        assert run_cli("audit", "verify").code == 0
        db_execute("DELETE FROM grants WHERE grant_id = :g", {"g": gid})  # next example
        db_execute("DELETE FROM ledger_tree_heads")


@FUZZ
@given(edit=st.fixed_dictionaries({}, optional={
    "uses": st.lists(st.sampled_from([u.value for u in Use]), min_size=1, unique=True),
    "languages": st.lists(st.sampled_from(["es", "fr", "de"]), unique=True),
    "max_renders": st.none() | st.integers(min_value=1, max_value=1000),
    "valid_until": st.sampled_from(["2035-01-01T00:00:00Z", "2026-12-31T00:00:00Z"]),
    "productions": st.lists(st.sampled_from(["a", "b"]), unique=True)}))
def test_edited_stored_grant_never_widens_a_decision(signed: tuple[Path, dict],
                                                     edit: dict) -> None:
    path, original = signed
    if not snapshot_db()["grants"]:
        assert run_cli("consent", "register", path).code == 0
    requests = [RenderRequest(performer_id="ava", uses=(u,), language=lang, reserve=False)
                for u in Use for lang in ("es", "fr", None)]

    def decide() -> list[bool]:
        forget_cached_states()
        studio = Studio(load_settings())
        try:
            return [studio.authorize(r).allowed for r in requests]
        finally:
            studio.close()

    honest = decide()
    document = snapshot_db()["grants"][0][2]
    stored = json.loads(document)
    stored["grant"].update(edit)
    db_execute("UPDATE grants SET document = :d", {"d": json.dumps(stored)})
    try:
        edited = decide()
        assert all(h or not e for h, e in zip(honest, edited, strict=True))
    finally:
        db_execute("UPDATE grants SET document = :d", {"d": document})
