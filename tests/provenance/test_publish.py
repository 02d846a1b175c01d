"""The one publish path: stamped files verify; every failure leaves nothing behind.

Media: a fictional flare-game portrait animated by ffmpeg, with espeak-ng speech
(tests/support/media.py).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from provenance.c2pa import (
    ConsentAssertion,
    EnginesAssertion,
    LabelAssertion,
    LedgerAssertion,
    WatermarkAssertion,
    read_assertion,
    read_manifest,
)
from provenance.c2pa.certs import ROOT_CERT_NAME
from provenance.readback import AUDIO_VERIFIED
from provenance.watermark.audio import ALGORITHM as AUDIO_ALGORITHM
from provenance.watermark.video import ALGORITHM as VIDEO_ALGORITHM
from tests.support.cli import run_cli
from tests.support.media import face_clip
from tests.support.people import add_performer, registered_grant


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return face_clip(tmp_path_factory.mktemp("media") / "ava.mp4", seconds=5.0)


@pytest.fixture
def studio_with_grant(sqlite_home: Path, tmp_path: Path) -> tuple[Path, str]:
    key = add_performer(tmp_path)
    gid = registered_grant(tmp_path, key, "ava", "--language", "es", "--max-renders", "10")
    return key, gid


def _stamp(clip: Path, out: Path, *extra: str) -> object:
    return run_cli("stamp", clip, "--performer", "ava", "--use", "dubbing", "--use", "lip_sync",
                   "--language", "es", "--out", out, "--json", *extra)


def _last_entry() -> dict:
    entries = run_cli("audit", "show", "--json").json()["entries"]
    return entries[-1]


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_stamp_verifies_intact_then_derived(studio_with_grant: tuple, clip: Path,
                                            tmp_path: Path, sqlite_home: Path) -> None:
    out = tmp_path / "out" / "stamped.mp4"
    out.parent.mkdir()
    r = _stamp(clip, out)
    assert r.code == 0, r.err
    receipt = r.json()
    assert {"faces", "consent", "publish"} <= set(receipt["stages_s"])  # the bench's table
    assert {"encode", "label", "watermark_video", "c2pa"} <= set(receipt["publish_stages_s"])
    v = run_cli("verify", out, "--json")
    report = v.json()
    assert v.code == 0, report
    assert report["status"] == "intact"
    assert report["render_id"] == receipt["render_id"]
    assert report["video_watermark"]["render_id"] == receipt["render_id"]
    assert report["audio_watermark"]["render_id"] == receipt["render_id"]
    assert report["manifest"]["validation_state"] == "Trusted"
    assert report["ledger"]["inclusion"] == "proven"
    assert report["performer_id"] == "ava" and report["grant_ids"] == [studio_with_grant[1]]

    # the studio's assertions say what the receipt says, in the one schema
    anchor = (sqlite_home / "c2pa" / ROOT_CERT_NAME).read_bytes()
    claims = read_manifest(out, trust_anchor_pem=anchor).assertions
    ledger = read_assertion(claims, LedgerAssertion)
    assert ledger is not None and (ledger.render_id, ledger.seq, ledger.entry_hash) == (
        receipt["render_id"], receipt["ledger_seq"], receipt["entry_hash"])
    consent = read_assertion(claims, ConsentAssertion)
    assert consent is not None and consent.decision_id == receipt["decision_id"]
    assert consent.grant_ids == (studio_with_grant[1],) and consent.studio == "Test Studio"
    assert read_assertion(claims, WatermarkAssertion) == WatermarkAssertion(
        video_algorithm=VIDEO_ALGORITHM, audio_algorithm=AUDIO_ALGORITHM,
        payload=receipt["render_id"], audio_status=AUDIO_VERIFIED, video_status=AUDIO_VERIFIED)
    assert read_assertion(claims, LabelAssertion) == LabelAssertion(visible_label=True)
    engines = read_assertion(claims, EnginesAssertion)
    assert engines is not None and engines.engines == ("face:dlib",)

    derived = tmp_path / "derived.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(out), "-vf", "scale=640:360",
                    "-c:v", "libx264", "-crf", "28", "-c:a", "aac", "-b:a", "96k", str(derived)],
                   check=True)
    v = run_cli("verify", derived, "--json")
    assert v.code == 5, v.out
    assert v.json()["status"] == "derived" and v.json()["render_id"] == receipt["render_id"]

    # a one-byte change in the media data breaks the manifest: tampered
    data = bytearray(out.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tampered = tmp_path / "tampered.mp4"
    tampered.write_bytes(bytes(data))
    v = run_cli("verify", tampered, "--json")
    assert v.code == 4 and v.json()["status"] == "tampered"
    assert v.err.startswith("error: ")

    # the unmarked source is unknown
    v = run_cli("verify", clip, "--json")
    assert v.code == 6 and v.json()["status"] == "unknown"

    # revoked since publishing is reported
    assert run_cli("consent", "revoke", studio_with_grant[1], "--studio").code == 0
    report = run_cli("verify", out, "--json").json()
    assert report["revoked_since"] and studio_with_grant[1] in report["revoked_since"][0]


STAGES = {
    "label+watermark+encode": ("provenance.label.LabelBurner.burn_yuv", None),  # a stamp: I420
    "watermark": ("provenance.watermark.video.VideoWatermarker.embed_luma", None),
    "audio-watermark": ("provenance.watermark.audio.AudioWatermarker.embed_checked", None),
    "ledger": ("provenance.publish.append_published", None),
    "c2pa": ("provenance.publish.sign_media", None),
    "rename": ("provenance.publish.os.replace", None),
    # read in a thread beside the encode: its failure still fails the render cleanly
    "source provenance": ("provenance.publish.inspect_source", None),
}


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_failure_at_each_step_leaves_no_output(stage: str, studio_with_grant: tuple,
                                               clip: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    target, _ = STAGES[stage]

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"injected failure in {stage}")

    monkeypatch.setattr(target, boom)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "x.mp4"
    r = _stamp(clip, out)
    assert r.code == 1, r.err
    assert r.err.startswith("error: ") and "injected failure" in r.err
    assert not out.exists()
    assert _leftovers(out_dir) == []
    last = _last_entry()
    assert last["kind"] == "render_failed"
    assert "injected failure" in last["payload"]["reason"]
    if stage == "source provenance":
        assert last["payload"]["stage"] == stage
    assert run_cli("audit", "verify").code == 0


def test_revocation_between_decision_and_publish(studio_with_grant: tuple, clip: Path,
                                                 tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The grant is revoked while the render runs: nothing is published."""
    import provenance.publish as publish_module

    real = publish_module.encode_marked
    gid = studio_with_grant[1]

    def encode_then_revoke(*args: object, **kwargs: object) -> int:
        frames = real(*args, **kwargs)
        assert run_cli("consent", "revoke", gid, "--studio", "--reason", "mid-render").code == 0
        return frames

    monkeypatch.setattr(publish_module, "encode_marked", encode_then_revoke)
    out = tmp_path / "late.mp4"
    r = _stamp(clip, out)
    assert r.code == 3, r.err
    assert "revoked after the decision" in r.err
    assert not out.exists() and _leftovers(tmp_path) == []
    last = _last_entry()
    assert last["kind"] == "render_failed" and last["payload"]["stage"] == "ledger"


def test_a_malformed_ledger_assertion_verifies_as_tampered(
        studio_with_grant: tuple, clip: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A trusted manifest whose ledger assertion lacks a field is not mistaken for one
    without the assertion: verify names the malformed field."""
    import provenance.publish as publish_module

    real = publish_module.manifest_for

    def without_seq(*args: object, **kwargs: object) -> object:
        spec = real(*args, **kwargs)  # type: ignore[arg-type]
        written = dict(spec.custom_assertions)
        ledger = dict(written[LedgerAssertion.label()])  # type: ignore[arg-type]
        del ledger["seq"]
        written[LedgerAssertion.label()] = ledger
        return spec.model_copy(update={"custom_assertions": written})

    monkeypatch.setattr(publish_module, "manifest_for", without_seq)
    out = tmp_path / "malformed.mp4"
    assert _stamp(clip, out).code == 0
    v = run_cli("verify", out, "--json")
    assert v.code == 4 and v.json()["status"] == "tampered"
    assert any("ledger assertion is malformed" in r and "seq" in r
               for r in v.json()["reasons"]), v.json()["reasons"]


def test_stamp_refuses_a_stranger(studio_with_grant: tuple, tmp_path: Path) -> None:
    stranger = face_clip(tmp_path / "stranger.mp4", face="male02.png", seconds=1.0, audio=False)
    out = tmp_path / "s.mp4"
    r = _stamp(stranger, out)
    assert r.code == 3 and "identity mismatch" in r.err
    assert not out.exists()


@pytest.mark.parametrize("content,message", [(b"", "cannot read"), (b"not a video" * 10,
                                                                   "cannot read")])
def test_stamp_bad_input(studio_with_grant: tuple, tmp_path: Path, content: bytes,
                         message: str) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content)
    before = run_cli("audit", "show", "--json").json()["entries"]
    r = _stamp(bad, tmp_path / "o.mp4")
    assert r.code == 2 and r.err.startswith("error: ") and message in r.err
    assert not (tmp_path / "o.mp4").exists()
    assert run_cli("audit", "show", "--json").json()["entries"] == before


def test_unlabelled_studio_records_it(studio_with_grant: tuple, clip: Path, tmp_path: Path,
                                      sqlite_home: Path) -> None:
    cfg = sqlite_home / "config.toml"
    cfg.write_text(cfg.read_text().replace("visible_label = true", "visible_label = false"))
    out = tmp_path / "nolabel.mp4"
    r = _stamp(clip, out)
    assert r.code == 0, r.err
    assert r.json()["visible_label"] is False
    assert json.dumps(_last_entry()["payload"]).count('"visible_label": false') == 1


def test_bad_destination_is_refused_before_the_gate(studio_with_grant: tuple, clip: Path,
                                                    tmp_path: Path) -> None:
    before = run_cli("consent", "list", "--json").json()["grants"][0]["renders_used"]
    for out in (tmp_path / "x.mov", tmp_path / "missing-folder" / "x.mp4"):
        r = _stamp(clip, out)
        assert r.code == 2 and r.err.startswith("error: "), r.err
        assert not out.exists()
    assert run_cli("consent", "list", "--json").json()["grants"][0]["renders_used"] == before


def test_audio_too_short_for_the_watermark_is_refused_before_the_gate(
        studio_with_grant: tuple, tmp_path: Path) -> None:
    short = face_clip(tmp_path / "short.mp4", seconds=1.5)
    before = run_cli("consent", "list", "--json").json()["grants"][0]["renders_used"]
    r = _stamp(short, tmp_path / "o.mp4")
    assert r.code == 2 and "audio watermark needs at least" in r.err
    assert not (tmp_path / "o.mp4").exists()
    assert run_cli("consent", "list", "--json").json()["grants"][0]["renders_used"] == before
