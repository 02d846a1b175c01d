"""Input provenance is kept: re-publishing a published file keeps its manifest as the
parentOf ingredient, records our earlier watermark, and `verify` prints the chain."""

from __future__ import annotations

from pathlib import Path

import pytest

from provenance.c2pa import SourceAssertion, read_assertion, read_manifest
from tests.support.cli import run_cli
from tests.support.media import face_clip
from tests.support.people import add_performer, registered_grant


def _stamp(source: Path, out: Path) -> dict:
    r = run_cli("stamp", source, "--performer", "ava", "--use", "dubbing", "--use", "lip_sync",
                "--language", "es", "--out", out, "--json")
    assert r.code == 0, r.err
    return r.json()  # type: ignore[return-value]


@pytest.fixture
def stamped_once(sqlite_home: Path, tmp_path: Path) -> tuple[dict, Path]:
    key = add_performer(tmp_path)
    registered_grant(tmp_path, key, "ava", "--language", "es")
    clip = face_clip(tmp_path / "ava.mp4", seconds=3.0)
    return _stamp(clip, tmp_path / "first.mp4"), clip


@pytest.fixture
def twice_stamped(stamped_once: tuple[dict, Path], tmp_path: Path
                  ) -> tuple[Path, dict, dict, Path]:
    first, clip = stamped_once
    second = _stamp(tmp_path / "first.mp4", tmp_path / "second.mp4")
    return tmp_path / "second.mp4", first, second, clip


def test_stamp_of_a_stamped_file_shows_both_renders(
        twice_stamped: tuple[Path, dict, dict, Path], sqlite_home: Path) -> None:
    out, first, second, _ = twice_stamped
    assert first["render_id"] != second["render_id"]
    v = run_cli("verify", out, "--json")
    assert v.code == 0, v.out
    report = v.json()
    assert report["status"] == "intact" and report["render_id"] == second["render_id"]
    chain = report["chain"]
    # the unsigned clip under first.mp4 has no manifest: the chain ends there
    assert [link["render_id"] for link in chain] == [second["render_id"], first["render_id"]]
    assert [link["title"] for link in chain] == ["second.mp4", "first.mp4"]
    assert chain[0]["source_watermark_ids"] == [first["render_id"]]  # our earlier mark
    assert chain[1]["ingredient_failures"] == []  # the parent manifest still validates
    assert chain[0]["actions"][0] == "c2pa.opened"

    text = run_cli("verify", out)
    assert text.code == 0
    assert "this file: second.mp4" in text.out and "made from: first.mp4" in text.out
    assert first["render_id"] in text.out and second["render_id"] in text.out

    anchor = (sqlite_home / "c2pa" / "root.pem").read_bytes()
    manifest = read_manifest(out, trust_anchor_pem=anchor)
    source = read_assertion(manifest.assertions, SourceAssertion)
    assert source is not None and source.title == "first.mp4"
    assert source.c2pa_validation == "Trusted" and source.c2pa_manifest == manifest.chain[1].label
    assert source.watermark_render_ids == (first["render_id"],)


def test_an_unmarked_source_records_that_it_carried_nothing(
        stamped_once: tuple[dict, Path], sqlite_home: Path) -> None:
    _, clip = stamped_once
    anchor = (sqlite_home / "c2pa" / "root.pem").read_bytes()
    manifest = read_manifest(clip.with_name("first.mp4"), trust_anchor_pem=anchor)
    source = read_assertion(manifest.assertions, SourceAssertion)
    assert source is not None and source.title == clip.name
    assert source.c2pa_manifest is None and source.watermark_render_ids == ()
    assert [link.title for link in manifest.chain] == ["first.mp4"]
