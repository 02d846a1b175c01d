"""MuseTalk's place in the studio without torch: files, licences, probe, registry, hashes.

Placeholder files stand in for the checkpoints here; nothing is loaded.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from likeness.errors import BadInput, IntegrityFailure, MissingWeights
from models import registry
from models.lipsync import musetalk
from models.lipsync.musetalk.layout import (
    SUMS_FILE,
    WEIGHTS,
    find_placement,
    read_sums,
    require_placement,
    verify_files,
)
from models.registry import EnginePolicy

RESEARCH = EnginePolicy(commercial=False)
COMMERCIAL = EnginePolicy(commercial=True)
PLACED = {"musetalkV15/unet.pth": b"unet", "sd-vae/diffusion_pytorch_model.bin": b"vae",
          "whisper/pytorch_model.bin": b"whisper"}


def place(models_dir: Path, files: dict[str, bytes] = PLACED) -> Path:
    root = models_dir / "musetalk"
    for relative, payload in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(payload)
    return root


def test_weights_declare_commercial_licences_and_the_unused_auxiliary_models() -> None:
    assert [w.name for w in WEIGHTS] == ["unet.pth", "diffusion_pytorch_model.bin",
                                         "pytorch_model.bin"]
    assert all(w.engine == "musetalk" and w.commercial_use and w.source.startswith(
        "user:musetalk/") for w in WEIGHTS)
    unet, vae, whisper = WEIGHTS
    assert "even commercially" in unet.license and "creativeml-openrail-m" in unet.license
    assert vae.license.startswith("MIT") and whisper.license.startswith("Apache-2.0")
    assert "S3FD" in unet.notes and "DWPose" in unet.notes and "face-parse" in unet.notes
    assert COMMERCIAL.refusal(WEIGHTS) is None  # a commercial studio may use them


def test_probe_says_unavailable_without_weights_and_names_the_files(tmp_path: Path) -> None:
    answer = musetalk.probe(models_dir=tmp_path, policy=RESEARCH)
    assert not answer.available and "3 file(s) missing" in answer.reason
    with pytest.raises(MissingWeights) as caught:
        musetalk.create(models_dir=tmp_path)
    assert "musetalkV15/unet.pth or unet.safetensors" in caught.value.message
    assert "whisper" in caught.value.message and "footage" in (caught.value.hint or "")
    place(tmp_path, {"musetalkV15/unet.pth": b"unet"})
    partial = musetalk.probe(models_dir=tmp_path, policy=RESEARCH)
    assert not partial.available and "2 file(s) missing" in partial.reason


def test_auto_takes_musetalk_only_with_cuda_or_the_cpu_opt_in(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    place(tmp_path)
    monkeypatch.setattr(musetalk, "missing_packages", lambda: [])
    monkeypatch.setattr(musetalk, "cuda_available", lambda: False)
    on_cpu = registry.choose("lipsync", models_dir=tmp_path, policy=COMMERCIAL)
    assert on_cpu.name == "viseme"
    assert "LIKENESS_MUSETALK_ON_CPU=1" in on_cpu.skipped[0]
    opted = EnginePolicy.for_studio(COMMERCIAL, environ={"LIKENESS_MUSETALK_ON_CPU": "1"})
    assert registry.choose("lipsync", models_dir=tmp_path, policy=opted).name == "musetalk"
    monkeypatch.setattr(musetalk, "cuda_available", lambda: True)
    on_gpu = registry.choose("lipsync", models_dir=tmp_path, policy=COMMERCIAL)
    assert on_gpu.name == "musetalk" and "CUDA" in on_gpu.reason
    monkeypatch.setattr(musetalk, "missing_packages", lambda: ["diffusers"])
    without = registry.choose("lipsync", models_dir=tmp_path, policy=COMMERCIAL)
    assert without.name != "musetalk" and "diffusers not installed" in without.skipped[0]


def test_the_official_folder_names_and_the_safetensors_variants_are_found(tmp_path: Path) -> None:
    place(tmp_path, {"musetalkV15/unet.safetensors": b"u",
                     "sd-vae-ft-mse/diffusion_pytorch_model.safetensors": b"v",
                     "whisper/model.safetensors": b"w", "musetalkV15/musetalk.json": b"{}"})
    placement, missing = find_placement(tmp_path)
    assert placement is not None and missing == []
    assert placement.unet.name == "unet.safetensors"
    assert placement.vae.parent.name == "sd-vae-ft-mse"
    assert placement.unet_config is not None and placement.sums is None


def test_sha256sums_pin_the_files_and_a_swapped_one_fails(tmp_path: Path) -> None:
    root = place(tmp_path)
    lines = [f"{hashlib.sha256(data).hexdigest()}  {name}" for name, data in PLACED.items()]
    (root / SUMS_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")
    placement = require_placement(tmp_path)
    digests = verify_files(placement)
    assert digests["musetalkV15/unet.pth"] == hashlib.sha256(b"unet").hexdigest()
    assert read_sums(root / SUMS_FILE) == digests
    (root / "whisper" / "pytorch_model.bin").write_bytes(b"another whisper")
    with pytest.raises(IntegrityFailure, match="whisper/pytorch_model.bin has SHA-256"):
        verify_files(placement)
    (root / SUMS_FILE).write_text("not a digest line\n", encoding="utf-8")
    with pytest.raises(BadInput, match="line 1"):
        verify_files(placement)
    unpinned = verify_files(placement, expected={})  # no pins: digests recorded, nothing refused
    assert set(unpinned) == set(PLACED)
