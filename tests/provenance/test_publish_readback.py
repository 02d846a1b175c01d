"""Issue 16 C5: publish reads back, from the encoded file, what the manifest will claim.

A label that draws nothing is refused before the gate; a label, video mark or (long)
audio mark missing from the encoded file fails the render with its reservation
released; a short clip whose audio mark does not read back is published with the audio
mark not claimed, and says so in the manifest and the ledger."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from provenance.c2pa import LabelAssertion, WatermarkAssertion, read_assertion, read_manifest
from provenance.c2pa.certs import ROOT_CERT_NAME
from provenance.readback import AUDIO_REQUIRED_S, AUDIO_VERIFIED
from provenance.watermark.video import ALGORITHM as VIDEO_ALGORITHM
from tests.support.cli import run_cli, snapshot_db
from tests.support.media import face_clip
from tests.support.people import add_performer, registered_grant


@pytest.fixture
def clip(sqlite_home: Path, tmp_path: Path) -> Path:
    key = add_performer(tmp_path)
    registered_grant(tmp_path, key, "ava", "--max-renders", "3")
    return face_clip(tmp_path / "ava.mp4", seconds=3.0)


def _stamp(clip: Path, out: Path) -> object:
    return run_cli("stamp", clip, "--performer", "ava", "--use", "dubbing", "--out", out,
                   "--json")


def _used() -> int:
    return int(run_cli("consent", "list", "--json").json()["grants"][0]["renders_used"])  # type: ignore[index]


def _entries() -> list[dict]:
    return run_cli("audit", "show", "--json").json()["entries"]  # type: ignore[no-any-return]


def _failed_at_read_back(r: object, out: Path, message: str) -> None:
    assert r.code == 1, r.err  # type: ignore[attr-defined]
    assert r.err.startswith("error: ") and message in r.err, r.err  # type: ignore[attr-defined]
    assert "Traceback" not in r.err  # type: ignore[attr-defined]
    assert not out.exists()
    assert sorted(p.name for p in out.parent.iterdir() if p.name.startswith(".")) == []
    last = _entries()[-1]
    assert last["kind"] == "render_failed" and last["payload"]["stage"] == "read-back"
    assert last["payload"]["released"] is True
    assert "render_published" not in [e["kind"] for e in _entries()]
    assert _used() == 0
    assert run_cli("audit", "verify").code == 0


def _keep_frame(self: object, frame: np.ndarray, *args: object, **options: object
                ) -> np.ndarray:
    return frame


def test_c5_label_that_draws_nothing_is_refused_before_the_gate(clip: Path, sqlite_home: Path,
                                                                 tmp_path: Path) -> None:
    cfg = sqlite_home / "config.toml"
    good = cfg.read_text()
    before = snapshot_db()
    cfg.write_text(good + '\n[label]\ntext = "\u200b\u200b"\n')  # zero-width: not "empty"
    r = _stamp(clip, tmp_path / "out.mp4")
    cfg.write_text(good)
    assert r.code == 2, r.err  # type: ignore[attr-defined]
    assert "draws no visible characters" in r.err  # type: ignore[attr-defined]
    assert snapshot_db() == before  # no decision, no reservation
    assert not (tmp_path / "out.mp4").exists()


def test_c5_label_missing_from_the_encoded_file_fails_the_render(
        clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("provenance.label.LabelBurner.burn_yuv", _keep_frame)  # a stamp: I420
    out = tmp_path / "out.mp4"
    _failed_at_read_back(_stamp(clip, out), out, "the visible label is not in the encoded file")


def test_c5_video_mark_that_does_not_decode_fails_the_render(
        clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("provenance.watermark.video.VideoWatermarker.embed_luma", _keep_frame)
    out = tmp_path / "out.mp4"
    _failed_at_read_back(_stamp(clip, out), out, "the video watermark does not decode")


EMBED_CHECKED = "provenance.watermark.audio.AudioWatermarker.embed_checked"


def _unmarked_audio(self: object, samples: np.ndarray, *args: object
                    ) -> tuple[np.ndarray, str]:
    return samples, "likeness-erb-qim/2"


def test_c5_short_clip_audio_mark_not_recovered_is_not_claimed(
        clip: Path, tmp_path: Path, sqlite_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(EMBED_CHECKED, _unmarked_audio)
    out = tmp_path / "out.mp4"
    r = _stamp(clip, out)
    assert r.code == 0, r.err  # type: ignore[attr-defined]
    status = r.json()["audio_watermark"]  # type: ignore[attr-defined]
    assert status.startswith("not verifiable")
    anchor = (sqlite_home / "c2pa" / ROOT_CERT_NAME).read_bytes()
    claims = read_manifest(out, trust_anchor_pem=anchor).assertions
    mark = read_assertion(claims, WatermarkAssertion)
    assert mark is not None and mark.audio_algorithm == "" and mark.audio_status == status
    assert mark.video_algorithm == VIDEO_ALGORITHM
    assert read_assertion(claims, LabelAssertion) == LabelAssertion(visible_label=True)
    published = _entries()[-1]
    assert published["kind"] == "render_published"
    assert published["payload"]["audio_watermark"] == status
    v = run_cli("verify", out, "--json")
    assert v.code == 0, v.out  # the video mark and the manifest still prove it intact
    assert v.json()["audio_watermark"]["found"] is False  # type: ignore[index]


def test_c5_long_audio_mark_not_recovered_fails_the_render(
        sqlite_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = add_performer(tmp_path)
    registered_grant(tmp_path, key, "ava", "--max-renders", "3")
    long_clip = face_clip(tmp_path / "long.mp4", seconds=AUDIO_REQUIRED_S + 6,
                          text="This clip is long enough for its audio mark. " * 6)
    speech_s = float(subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
         "stream=duration", "-of", "csv=p=0", str(long_clip)],
        capture_output=True, text=True, check=True).stdout)
    assert speech_s >= AUDIO_REQUIRED_S  # the marked audio, not just the picture, is long
    monkeypatch.setattr(EMBED_CHECKED, _unmarked_audio)
    out = tmp_path / "out.mp4"
    _failed_at_read_back(_stamp(long_clip, out), out, "the audio watermark does not decode")


def test_c5_the_audio_claim_matches_what_verify_reads(clip: Path, tmp_path: Path) -> None:
    """On a real 3 s clip the current audio mark may or may not read back; either way
    the manifest and the ledger say exactly what `verify` then finds."""
    out = tmp_path / "out.mp4"
    r = _stamp(clip, out)
    assert r.code == 0, r.err  # type: ignore[attr-defined]
    status = r.json()["audio_watermark"]  # type: ignore[attr-defined]
    published = _entries()[-1]["payload"]
    assert (published["visible_label"], published["audio_watermark"]) == (True, status)
    v = run_cli("verify", out, "--json")
    assert v.code == 0, v.out
    assert v.json()["audio_watermark"]["found"] is (status == AUDIO_VERIFIED)  # type: ignore[index]


def test_c5_restamp_of_a_marked_file_claims_only_the_marks_it_reads(
        clip: Path, tmp_path: Path, sqlite_home: Path) -> None:
    """A source that already carries this studio's mark: the new video mark laid over it
    may decode to neither render; then it is not claimed, never claimed falsely."""
    first = tmp_path / "first.mp4"
    r = _stamp(clip, first)
    assert r.code == 0, r.err  # type: ignore[attr-defined]
    earlier = r.json()["render_id"]  # type: ignore[attr-defined]
    again = tmp_path / "again.mp4"
    r = _stamp(first, again)
    assert r.code == 0, r.err  # type: ignore[attr-defined]
    render_id = r.json()["render_id"]  # type: ignore[attr-defined]
    published = _entries()[-1]["payload"]
    anchor = (sqlite_home / "c2pa" / ROOT_CERT_NAME).read_bytes()
    mark = read_assertion(read_manifest(again, trust_anchor_pem=anchor).assertions,
                          WatermarkAssertion)
    assert mark is not None and mark.video_status == published["video_watermark"]
    v = run_cli("verify", again, "--json")
    assert v.code == 0, v.out
    report = v.json()  # type: ignore[attr-defined]
    if published["video_watermark"] == AUDIO_VERIFIED:
        assert mark.video_algorithm == VIDEO_ALGORITHM
        assert report["video_watermark"]["render_id"] == render_id
    else:
        assert earlier in published["video_watermark"] and mark.video_algorithm == ""
        assert report["video_watermark"]["render_id"] is None
