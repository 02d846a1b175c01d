"""The model store: catalogue, hash verification, commercial-use guard, missing files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from likeness.errors import BadInput, IntegrityFailure, MissingWeights
from models import store
from models.store import assert_commercial_ok, check_models, list_models, raise_for_mismatch
from models.weights import WeightFile, require_weight


def test_catalogue_lists_every_engine(tmp_path: Path) -> None:
    statuses = list_models(models_dir=tmp_path)
    engines = {s.engine for s in statuses}
    assert {"piper", "whisper", "kokoro", "coqui", "wav2lip"} <= engines
    piper = next(s for s in statuses if s.name == "en_US-joe-medium.onnx")
    assert piper.installed and piper.commercial_use and piper.path
    wav2lip = next(s for s in statuses if s.name == "wav2lip_gan.pth")
    assert not wav2lip.installed and wav2lip.state == "missing" and not wav2lip.commercial_use
    assert wav2lip.sha256_expected == ""


def test_check_verifies_installed_hashes(tmp_path: Path) -> None:
    statuses = {(s.engine, s.name): s for s in check_models(models_dir=tmp_path)}
    piper = statuses[("piper", "en_US-joe-medium.onnx")]
    assert piper.state == "ok" and piper.sha256_actual == piper.sha256_expected
    raise_for_mismatch(statuses.values())  # nothing tampered on this machine


def test_a_tampered_user_file_is_an_integrity_failure(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "demo").mkdir()
    weight_path = tmp_path / "demo" / "w.bin"
    weight_path.write_bytes(b"original")
    pinned = WeightFile(engine="demo", name="w.bin", source="user:demo/w.bin",
                        sha256=hashlib.sha256(b"original").hexdigest(), size_bytes=8,
                        license="MIT", commercial_use=True)
    monkeypatch.setattr(store, "declared_weights", lambda: [pinned])
    assert [s.state for s in check_models(models_dir=tmp_path)] == ["ok"]
    weight_path.write_bytes(b"tampered")
    with pytest.raises(IntegrityFailure, match="demo/w.bin"):
        store.verify_models(models_dir=tmp_path)


def test_missing_weight_error_names_the_file_and_place(tmp_path: Path) -> None:
    weight = WeightFile(engine="wav2lip", name="wav2lip_gan.pth",
                        source="user:wav2lip/wav2lip_gan.pth", sha256="", size_bytes=0,
                        license="non-commercial", commercial_use=False)
    with pytest.raises(MissingWeights) as caught:
        require_weight(weight, models_dir=tmp_path)
    assert "wav2lip_gan.pth" in caught.value.message
    assert str(tmp_path / "wav2lip" / "wav2lip_gan.pth") in (caught.value.hint or "")


def test_commercial_studio_needs_acknowledgement(tmp_path: Path) -> None:
    statuses = list_models(models_dir=tmp_path)
    wav2lip = [s for s in statuses if s.engine == "wav2lip"]
    assert_commercial_ok(wav2lip, commercial=False, acknowledged=set())
    with pytest.raises(BadInput, match="wav2lip/wav2lip.pth"):
        assert_commercial_ok(wav2lip, commercial=True, acknowledged=set())
    assert_commercial_ok(wav2lip, commercial=True, acknowledged={"wav2lip"})
    piper = [s for s in statuses if s.engine == "piper"]
    assert_commercial_ok(piper, commercial=True, acknowledged=set())
