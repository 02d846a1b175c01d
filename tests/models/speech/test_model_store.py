"""The model store: catalogue, hash verification, commercial-use guard, missing files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from likeness.errors import IntegrityFailure, MissingWeights
from models import store
from models.registry import EnginePolicy
from models.store import check_models, list_models, raise_for_mismatch
from models.weights import WeightFile, require_weight


def test_catalogue_lists_every_engine(tmp_path: Path) -> None:
    statuses = list_models(models_dir=tmp_path)
    engines = {s.engine for s in statuses}
    assert {"piper", "whisper", "kokoro", "coqui", "wav2lip", "dlib", "insightface"} <= engines
    insightface = [s for s in statuses if s.engine == "insightface"]  # its own declaration,
    assert {s.source for s in insightface} == {  # no stale fallback copy with other paths
        "user:buffalo_l/det_10g.onnx", "user:buffalo_l/1k3d68.onnx",
        "user:buffalo_l/w600k_r50.onnx"}
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


def test_commercial_studio_needs_acknowledgement() -> None:
    from models.lipsync.wav2lip import WEIGHTS as WAV2LIP
    from models.tts.piper_engine import WEIGHTS as PIPER

    assert EnginePolicy(commercial=False).refusal(WAV2LIP) is None
    refused = EnginePolicy(commercial=True).refusal(WAV2LIP)
    assert refused is not None and "wav2lip/wav2lip.pth" in refused
    assert EnginePolicy(acknowledged_noncommercial=frozenset({"wav2lip"})).refusal(WAV2LIP) is None
    one_file = EnginePolicy(acknowledged_noncommercial=frozenset({"wav2lip/wav2lip.pth"}))
    assert "wav2lip_gan.pth" in (one_file.refusal(WAV2LIP) or "")
    assert EnginePolicy(commercial=True).refusal(PIPER) is None
